/**
 * The host isolation response on KVM (vSphere HA's "power off" on isolation): a small watchdog
 * runs on each host, detached from Kiln's SSH session, and watches the host's peers (the other
 * hosts of its cluster, by their sshd port) and its default gateway. When it has reached none of
 * them for ISOLATION_AFTER_S it powers off (virsh destroy) the domains Kiln marked HA in their
 * <metadata> (domain-xml.ts) and logs each one. It never watches Kiln itself, so closing,
 * suspending or killing Kiln fences nothing.
 *
 * Probes need nothing beyond a fresh Debian host: bash's /dev/tcp with coreutils' timeout (a
 * refused connection proves the peer is there too), and ping towards the gateway only where it is
 * installed. A host with no peer and no gateway has nothing to judge by and never fences.
 *
 * The script is a constant of this file; the only values sent are validated (IP addresses, port
 * numbers, a version string and a URI from the host's own options), as positional parameters.
 * Its files live under /var/lib/libvirt, which is per host even on CI's namespace hosts.
 *
 * With two hosts, a cut of one leaves the other without its only peer too: like vSphere, it needs
 * an address outside the hosts to stay sure it is not the isolated one, its default gateway or
 * the admin's isolation addresses (host option isolationAddresses). Without either, the other
 * host also declares itself isolated (it powers off its HA VMs: safe, but an outage).
 */
import { isIP } from 'node:net';
import { DriverError, type IsolationFencingFacet, type Ref } from '../types.js';
import { KILN_NS } from './domain-xml.js';
import { PID_RECORD } from './pid-record.js';
import { script } from './shell.js';
import type { SshConnection } from './ssh-connection.js';

/** Default seconds without any peer or gateway answer before the host declares itself isolated. */
export const ISOLATION_AFTER_S = 20;
/** A probe waits up to 2 s per target, one after the other; a round ends with 1 s of sleep. */
const PROBE_MS = 2_000;
/** The power-offs at the end (virsh list, metadata and destroy per domain). */
const POWER_OFF_MS = 5_000;
const DIR = '/var/lib/libvirt/kiln-watchdog';

const WATCHDOG = `#!/bin/bash
# Kiln host isolation watchdog (drivers/kvm/isolation-watchdog.ts). Args: libvirt URI, seconds.
dir=${DIR}; uri=$1; after=$2
log() { printf '%s %s\\n' "$(date -u +%FT%TZ)" "$*" >> "$dir/log"; }
reach() {
  local out
  out=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>&1) && return 0
  case $out in *refused*) return 0 ;; esac
  return 1
}
answers() {
  local peer port gw targets=0
  while read -r peer port; do
    [ -n "$peer" ] || continue
    targets=1
    reach "$peer" "$port" && return 0
  done < "$dir/peers"
  gw=$(ip -4 route show default 2>/dev/null | awk '/^default/ { print $3; exit }')
  if [ -n "$gw" ]; then
    targets=1
    if command -v ping >/dev/null; then ping -c 1 -W 2 "$gw" >/dev/null 2>&1 && return 0; fi
    reach "$gw" 53 && return 0
  fi
  # Nothing to judge by: not isolated.
  [ $targets = 0 ]
}
log "started (pid $$, isolation after $after s)"
last=$(date +%s); isolated=0
while :; do
  if answers; then
    [ $isolated = 1 ] && log "a peer or the gateway answers again"
    last=$(date +%s); isolated=0
  elif [ $(( $(date +%s) - last )) -ge "$after" ]; then
    [ $isolated = 0 ] && log "isolated: no peer and no gateway answered for $(( $(date +%s) - last )) s; powering off HA VMs"
    isolated=1
    for d in $(virsh -c "$uri" list --name 2>/dev/null); do
      if virsh -c "$uri" metadata --domain "$d" --uri '${KILN_NS}' 2>/dev/null | grep -q 'highAvailability>true<'; then
        virsh -c "$uri" destroy --domain "$d" >/dev/null 2>&1 && log "powered off HA domain $d (host isolated)"
      fi
    done
  fi
  sleep 1
done
`;

/** Changes whenever the script does (and the timeout is added to it), so a running older watchdog is replaced. */
const VERSION = (() => {
  let h = 0;
  for (const c of WATCHDOG) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `1-${h.toString(16)}`;
})();

/**
 * Defines watchdog_alive: whether the process $dir/pid names is the watchdog Kiln started, by the
 * identity recorded beside it in $dir/pid.id (pid-record.ts): after a reboot the pid may be another
 * process, even one with kiln-watchdog in its command line. A pid file without pid.id is an
 * older Kiln's, whose watchdog may still run: it is checked by name as it was then (else arming
 * would start a second watchdog beside it that nothing could stop).
 */
const ALIVE = `${PID_RECORD}
watchdog_alive() {
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 1
  if [ -f "$dir/pid.id" ]; then kiln_pid_is "$pid" "$(cat "$dir/pid.id")"
  else kill -0 "$pid" 2>/dev/null && grep -q kiln-watchdog "/proc/$pid/cmdline" 2>/dev/null; fi
}`;

/** Writes the script and peers, and starts the watchdog unless this version already runs. Args: version uri seconds [ip port]… */
const INSTALL = `set -e
dir=${DIR}; version=$1; uri=$2; after=$3; shift 3
${ALIVE}
mkdir -p "$dir"
: > "$dir/peers.new"
while [ $# -ge 2 ]; do printf '%s %s\\n' "$1" "$2" >> "$dir/peers.new"; shift 2; done
mv "$dir/peers.new" "$dir/peers"
alive=no
if watchdog_alive; then alive=yes; fi
# An older Kiln's record, taken by name: from now on by its identity.
if [ $alive = yes ] && [ ! -f "$dir/pid.id" ]; then kiln_pid_id "$pid" > "$dir/pid.id"; fi
if [ $alive = yes ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; then echo running; exit 0; fi
[ $alive = yes ] && kill "$pid"
cat > "$dir/kiln-watchdog.sh"
setsid bash "$dir/kiln-watchdog.sh" "$uri" "$after" < /dev/null >> "$dir/log" 2>&1 &
pid=$!
kiln_pid_id "$pid" > "$dir/pid.id"
echo "$pid" > "$dir/pid"
printf '%s\\n' "$version" > "$dir/version"
echo started`;

const REMOVE = `dir=${DIR}
${ALIVE}
if watchdog_alive; then kill "$pid"; fi
rm -f "$dir/pid" "$dir/pid.id" "$dir/version" "$dir/peers"`;

/** A peer's address and sshd port from its Kiln URL (ssh://host[:port]); only IP addresses are accepted. */
export function peerAddress(url: string): { ip: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DriverError(`peer ${url} is not a URL`, 'invalid');
  }
  const ip = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(parsed.port || 22);
  if (!isIP(ip)) throw new DriverError(`peer ${url}: the isolation watchdog takes IP addresses only`, 'invalid');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DriverError(`peer ${url}: bad port`, 'invalid');
  return { ip, port };
}

/** The host option isolationAddresses: comma-separated IP addresses. */
export function isolationAddresses(value: string | undefined): string[] {
  const list = (value ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  for (const address of list) if (!isIP(address)) throw new DriverError(`isolationAddresses: ${address} is not an IP address`, 'invalid');
  return list;
}

export class IsolationWatchdog implements IsolationFencingFacet {
  /** Probe targets as last armed (peers, addresses, a gateway): one round may take a probe each. */
  private targets = 1;

  constructor(
    private readonly ssh: SshConnection,
    private readonly uri: string,
    private readonly afterS: number = ISOLATION_AFTER_S,
    /** Addresses besides the peers and gateway (a switch, a router): any answer, even a refused connection, proves the network is there. */
    private readonly addresses: string[] = [],
  ) {
    if (!Number.isInteger(afterS) || afterS < 1) throw new DriverError(`isolation timeout ${afterS} s: a whole number of seconds, at least 1`, 'invalid');
  }

  /** Detection (afterS, then the end of the round that sees it) plus the power-offs. */
  get timeoutMs(): number {
    return this.afterS * 1000 + (this.targets + 1) * PROBE_MS + 1_000 + POWER_OFF_MS;
  }

  async arm(peers: { ref: Ref; url: string }[]): Promise<void> {
    // A peer Kiln names by a host name is skipped: the host would resolve it on its own, maybe differently.
    const args = peers.flatMap((peer) => {
      try {
        const { ip, port } = peerAddress(peer.url);
        return [ip, String(port)];
      } catch {
        return [];
      }
    });
    for (const address of this.addresses) args.push(address, '53');
    const result = await this.ssh.exec(script(INSTALL, [`${VERSION}-${this.afterS}`, this.uri, String(this.afterS), ...args]), { stdin: WATCHDOG, timeoutMs: 15_000 });
    this.targets = args.length / 2 + 1;
    if (result.code !== 0) throw new DriverError(`cannot start the isolation watchdog: ${result.stderr.trim() || `exit ${result.code}`}`, 'failed');
  }

  async disarm(): Promise<void> {
    const result = await this.ssh.exec(script(REMOVE), { timeoutMs: 15_000 });
    if (result.code !== 0) throw new DriverError(`cannot stop the isolation watchdog: ${result.stderr.trim() || `exit ${result.code}`}`, 'failed');
  }
}
