/**
 * Power changes a host makes on its own (a crash, a guest powering itself off, someone running
 * virsh by hand), as Kiln host events. Two sources:
 *  - `virsh event --loop --event lifecycle`, a long-running channel on the host's connection,
 *    for prompt notice;
 *  - a periodic reconcile of `virsh list --all`, for whatever the stream missed (it restarts
 *    after a reconnect or a libvirtd restart, and events in between are lost).
 */
import type { ClientChannel } from 'ssh2';
import type { PowerState } from '../types.js';
import { command } from './shell.js';
import { parseDomstate, parseEventLine, parseList, powerEventOf, powerStateOf, type DomainPowerChange } from './virsh-output.js';
import type { Virsh } from './virsh.js';

type PowerEvent = DomainPowerChange;

/** How often Kiln tells the stream's wrapper that its session is alive (a newline on its stdin). */
const HEARTBEAT_MS = 10_000;
/** Seconds of silence on its stdin after which the wrapper takes its session for lost. */
const STREAM_SILENCE_S = 45;

/**
 * The wrapper the stream runs under ("$@" is the virsh command line), so that it ends with its
 * session. sshd signals nothing to a command without a terminal when the session ends; it only
 * closes its pipes, and virsh event writes nothing until the host's next domain event, so it
 * stayed on the host until then: an orphan after every disconnect (Kiln quitting, a host removed,
 * a reconnect). The wrapper watches its stdin instead: EOF (the channel closed, or sshd saw the
 * connection go) stops virsh at once, and so does silence: Kiln writes a newline every
 * HEARTBEAT_MS, and a connection that died without closing (a cut link, which sshd may not notice
 * for hours) brings none. A terminal would get sshd's SIGHUP, but it would also change virsh's
 * output (CRLF) and costs a pty per host; this needs nothing but bash (`read -t`, which dash
 * lacks). When virsh ends on its own (libvirtd restarted), the wrapper ends with its status.
 * The session's stdin is kept as fd 3 first: a background job's own stdin is /dev/null.
 */
export function eventStreamScript(silenceS = STREAM_SILENCE_S): string {
  return `exec 3<&0
"$@" 3<&- & v=$!
( while IFS= read -r -t ${silenceS} -u 3 _; do :; done; kill "$v" 2>/dev/null ) &
w=$!
wait "$v"; status=$?
kill "$w" 2>/dev/null
exit "$status"`;
}

/** A reason for a state reported by `virsh domstate --reason`, in HostEvent's words. */
export function reasonOfDomstate(reason: string | undefined): string | undefined {
  switch ((reason ?? '').toLowerCase()) {
    case 'crashed':
    case 'failed':
      return 'crashed';
    case 'shutdown':
      return 'shutdown';
    case 'destroyed':
      return 'destroyed';
    case 'migrated':
      return 'migrated';
    case 'booted':
    case 'unpaused':
      return 'started';
    case '':
      return undefined;
    default:
      return reason?.toLowerCase();
  }
}

/** EOF on the stream's stdin, which its wrapper (eventStreamScript) takes as the end of its session, then the channel's close. */
function endStream(channel: ClientChannel | undefined): void {
  if (!channel) return;
  try {
    channel.end();
  } catch {
    /* already closed */
  }
  channel.close();
}

export class DomainEventWatcher {
  /** Last state reported per domain (from either source). */
  private readonly known = new Map<string, PowerState>();
  /** When the stream last said something about a domain: a listing older than that is stale. */
  private readonly lastEventAt = new Map<string, number>();
  /** Domains with a Kiln operation under way whose transient pauses are not news. */
  private readonly quiet = new Map<string, number>();
  private channel: ClientChannel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private running = false;
  private reconciling = false;
  private seeded = false;
  private streamEnabled = true;

  constructor(
    private readonly virsh: Virsh,
    private readonly emit: (event: PowerEvent) => void,
    private readonly reconcileIntervalMs = 5_000,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.openStream();
    void this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), this.reconcileIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    endStream(this.channel);
    this.channel = undefined;
  }

  /** After a reconnect: a fresh stream, and a reconcile now for what happened meanwhile. */
  restart(): void {
    this.stop();
    this.start();
  }

  /** Leaves only the reconcile running (tests use this to check what it catches on its own). */
  disableStream(): void {
    this.streamEnabled = false;
    clearTimeout(this.restartTimer);
    endStream(this.channel);
    this.channel = undefined;
  }

  /** Drops pause/resume noise for DOMAIN while FN runs (snapshots and migrations pause it briefly). */
  async quietly<T>(domain: string, fn: () => Promise<T>): Promise<T> {
    this.quiet.set(domain, (this.quiet.get(domain) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = (this.quiet.get(domain) ?? 1) - 1;
      if (left <= 0) this.quiet.delete(domain);
      else this.quiet.set(domain, left);
    }
  }

  /** Feeds one line of `virsh event` output (exposed for tests). */
  handleLine(line: string): void {
    const parsed = parseEventLine(line);
    if (!parsed) return;
    this.lastEventAt.set(parsed.domain, Date.now());
    if (parsed.event === 'Undefined') {
      this.known.delete(parsed.domain);
      return;
    }
    const event = powerEventOf(parsed);
    if (!event) return;
    if (this.quiet.has(event.name) && (parsed.event === 'Suspended' || parsed.event === 'Resumed')) return;
    this.known.set(event.name, event.state);
    this.emit(event);
  }

  private async openStream(): Promise<void> {
    if (!this.streamEnabled) return;
    let channel: ClientChannel;
    try {
      // A constant script; the virsh argv (the host's URI among it) arrives as its positional parameters.
      channel = await this.virsh.ssh.openChannel(command(['bash', '-c', eventStreamScript(), 'kiln-events', ...this.virsh.argv(['event', '--loop', '--event', 'lifecycle'])]));
    } catch {
      this.scheduleStreamRestart();
      return;
    }
    if (!this.running || !this.streamEnabled) {
      endStream(channel);
      return;
    }
    this.channel = channel;
    const heartbeat = setInterval(() => {
      if (channel.writable) channel.write('\n');
    }, HEARTBEAT_MS);
    heartbeat.unref();
    channel.on('error', () => undefined);
    let buffer = '';
    channel.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        this.handleLine(line);
      }
    });
    channel.stderr.on('data', () => undefined);
    channel.on('close', () => {
      clearInterval(heartbeat);
      if (this.channel === channel) this.channel = undefined;
      // virsh exits when libvirtd restarts; the connection itself may be fine.
      this.scheduleStreamRestart();
    });
  }

  private scheduleStreamRestart(): void {
    if (!this.running || !this.streamEnabled) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.running && !this.channel && this.virsh.ssh.isUp) void this.openStream();
      else if (this.running && !this.channel) this.scheduleStreamRestart();
    }, 2_000);
    this.restartTimer.unref();
  }

  /** Compares `virsh list --all` with what was last reported and reports the differences. */
  async reconcile(): Promise<void> {
    if (!this.running || this.reconciling || !this.virsh.ssh.isUp) return;
    this.reconciling = true;
    const startedAt = Date.now();
    try {
      const listed = parseList(await this.virsh.run(['list', '--all'], { timeoutMs: 30_000 }));
      const seen = new Set<string>();
      for (const domain of listed) {
        seen.add(domain.name);
        const state = powerStateOf(domain.state);
        const before = this.known.get(domain.name);
        // A new domain is not a change; neither is anything the stream reported since we listed.
        if (!this.seeded || before === undefined || (this.lastEventAt.get(domain.name) ?? 0) >= startedAt) {
          if (before === undefined || !this.seeded) this.known.set(domain.name, state);
          continue;
        }
        if (before === state) continue;
        if (this.quiet.has(domain.name) && (state === 'Paused' || before === 'Paused')) continue;
        const reason = await this.reasonFor(domain.name);
        if ((this.lastEventAt.get(domain.name) ?? 0) >= startedAt) continue;
        this.known.set(domain.name, state);
        this.emit({ kind: 'power', name: domain.name, state, reason });
      }
      for (const name of [...this.known.keys()]) if (!seen.has(name)) this.known.delete(name);
      this.seeded = true;
    } catch {
      // The connection watcher reports host trouble; the next round tries again.
    } finally {
      this.reconciling = false;
    }
  }

  private async reasonFor(name: string): Promise<string | undefined> {
    const result = await this.virsh.tryRun(['domstate', '--reason', '--domain', name], { timeoutMs: 15_000 });
    return result.code === 0 ? reasonOfDomstate(parseDomstate(result.stdout).reason) : undefined;
  }
}
