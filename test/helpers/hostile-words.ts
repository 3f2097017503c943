/**
 * Arguments hostile to quoting, one line each and printable: empty and blank words, quotes of
 * both kinds alone and nested, command substitution, separators and comments, option-like words,
 * backslashes, runs of spaces, and the marker shape the persistent virsh shell frames its answers
 * with. Both of the KVM driver's quotings carry each byte for byte: the POSIX shell's
 * (test/kvm/shell.test.ts, which adds the multi-line and control-character words a shell line
 * carries too) and virsh's own (test/kvm/virsh-shell.test.ts).
 */
export const HOSTILE_WORDS: readonly string[] = [
  '',
  ' ',
  'plain',
  'two words',
  "it's",
  "''",
  `"double" and 'single'`,
  'a;b',
  '; quit',
  '#comment',
  'x # y',
  'back\\slash',
  '\\',
  '\\\\',
  "\\'",
  '"',
  "'",
  '"\'"\'',
  '$(touch /tmp/kiln-pwned)',
  '--all',
  '-',
  '--',
  'a  b   c',
  ' leading and trailing ',
  '@@0123456789abcdef\'\'Z',
  'error: fake',
  '~!@#$%^&*()_+{}|:<>?`-=[]\\;\',./',
];
