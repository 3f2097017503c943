/**
 * Reading a host's last error for a changed SSH host key. The KVM driver words it as
 * "SSH host key of H:P has changed: Kiln pinned SHA256:… but the host now presents SHA256:…".
 */
const FINGERPRINT = /SHA256:[A-Za-z0-9+/]{43}/g;

export interface HostKeyChange {
  /** The key Kiln trusts (pinned when the host was added). */
  pinned?: string;
  /** The key the host presents now. */
  presented?: string;
}

export function hostKeyChange(lasterror: string | undefined): HostKeyChange | undefined {
  if (!lasterror || !/host key.*(changed|mismatch)/i.test(lasterror)) return undefined;
  const pinned = /pinned\s+(SHA256:[A-Za-z0-9+/]{43})/.exec(lasterror)?.[1];
  const presented = /presents\s+(SHA256:[A-Za-z0-9+/]{43})/.exec(lasterror)?.[1];
  if (pinned || presented) return { pinned, presented };
  // Another wording: the first fingerprint named is the old one, the second the new one.
  const all = lasterror.match(FINGERPRINT) ?? [];
  return { pinned: all[0], presented: all[1] };
}
