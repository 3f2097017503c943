/**
 * The one place where remote command lines are built. Every command the KVM driver runs on a
 * host goes through `command(argv)`: each argument is single-quoted for a POSIX shell (the
 * login shell sshd hands the line to), so names, paths and descriptions that came from users
 * arrive at virsh byte for byte and are never interpreted by the shell.
 *
 * Quoting protects against the shell only. An argument that starts with `-` could still be read
 * as an option by the program itself, so callers pass user values through named virsh options
 * (`--domain NAME`, `--snapshotname NAME`, `--pool P --vol V`) and never as bare positionals.
 */
import { DriverError } from '../types.js';

/** Characters that need no quoting at all; keeps logged command lines readable. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument for a POSIX shell. NUL cannot travel in an argv, so it is refused. */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new DriverError('a command argument cannot contain a NUL byte', 'invalid');
  if (arg !== '' && PLAIN.test(arg)) return arg;
  // Inside single quotes nothing is special except the closing quote itself: end the quoted
  // run, add an escaped quote, and start a new run ('\'').
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Builds one shell command line from an argv. */
export function command(argv: readonly string[]): string {
  if (argv.length === 0) throw new DriverError('empty command', 'invalid');
  return argv.map(shellQuote).join(' ');
}

/**
 * Runs a fixed shell script with positional parameters: `sh -c SCRIPT sh ARG1 ARG2…`. The script
 * text must be a constant written in this repository; untrusted values only ever arrive as "$1",
 * "$2"…, which the shell never re-parses.
 */
export function script(body: string, args: readonly string[] = []): string {
  return command(['sh', '-c', body, 'sh', ...args]);
}
