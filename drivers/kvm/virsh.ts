/**
 * virsh over the host's SSH connection. Commands are argv arrays (quoted by shell.ts); failures
 * become DriverErrors that carry virsh's own message ("error: Domain not found: …") with a
 * category the engine maps onto API error codes.
 */
import { DriverError } from '../types.js';
import { command, script } from './shell.js';
import type { ExecOptions, ExecResult, SshConnection } from './ssh-connection.js';
import { ShellUnavailable, VirshShell, virshShellSafe } from './virsh-shell.js';

export type VirshCategory = DriverError['category'];

/** Which virsh/libvirt messages mean what. First match wins; anything else is 'failed'. */
const CATEGORIES: [RegExp, VirshCategory][] = [
  [/failed to get (domain|vol|pool|network|interface)|not found|no domain with matching|no storage (vol|pool) with matching|has no current snapshot|no domain snapshot with matching/i, 'not-found'],
  [/Timed out during operation|timed out/i, 'timeout'],
  [/failed to connect to the hypervisor|Cannot recv data|End of file while reading data|Connection reset by peer|unable to connect to server|no route to host|Broken pipe/i, 'unreachable'],
  [/cannot allocate memory|Insufficient|not enough (free )?(memory|space)|No space left on device/i, 'insufficient-capacity'],
  [/unsupported configuration|Operation not supported|this function is not supported|not supported by/i, 'unsupported'],
  [/Requested operation is not valid|invalid argument|XML error|XML document failed to validate|already exists|is not running|domain is already running|cannot be used|Unsafe migration|must be/i, 'invalid'],
];

/** Turns virsh's stderr into one readable message and a category. */
export function virshError(stderr: string, fallback: string): DriverError {
  const lines = stderr.split('\n').map((line) => line.trim());
  // The login shell's rc files may print their own complaints first; virsh's part starts at
  // its first "error:" line (libvirt sometimes continues a message on the next line).
  const first = lines.findIndex((line) => line.startsWith('error:'));
  const message = (first >= 0 ? lines.slice(first) : lines)
    .filter((line) => line !== '' && line !== 'error:')
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  const text = message || fallback;
  const category = CATEGORIES.find(([pattern]) => pattern.test(text))?.[1] ?? 'failed';
  return new DriverError(text, category);
}

/** Quick queries that may go through the persistent virsh shell (rerun as an exec if it dies). */
const SHELL_READS = new Set([
  'list', 'domstate', 'dominfo', 'dumpxml', 'domblkinfo', 'domblklist', 'domiflist', 'domuuid', 'domid',
  'vol-dumpxml', 'vol-list', 'vol-info', 'vol-path', 'pool-dumpxml', 'pool-list', 'pool-info',
  'net-list', 'net-dumpxml', 'nodeinfo', 'nodememstats', 'freecell', 'version', 'hostname', 'capabilities',
  'snapshot-list', 'snapshot-current', 'snapshot-dumpxml', 'vncdisplay', 'domcapabilities',
]);
/**
 * A quick read waits for the shell while it runs another read, up to this many waiting and this
 * long: a read takes milliseconds there, where an exec starts a virsh process of its own (tens of
 * ms, far more on a loaded host). Connecting a host issues its reads side by side (the inventory's
 * nine), and as execs they were most of what a cold refresh across 20 hosts cost (bench P10). A
 * read still waiting when the time is up (the shell is on a slow one) takes an exec channel, and
 * behind a change (a start may take seconds) nothing waits.
 */
const MAX_QUEUED_READS = 16;
const MAX_READ_WAIT_MS = 500;
/** Changes that may go through an established shell (never rerun: a shell that dies under one
 *  fails the call, as a lost exec channel does). */
const SHELL_CHANGES = new Set(['start', 'destroy', 'shutdown', 'pool-refresh', 'undefine']);

export class Virsh {
  /** The persistent virsh shell (see virsh-shell.ts); undefined when disabled. */
  readonly shell: VirshShell | undefined;
  private queuedReads = 0;

  constructor(
    readonly ssh: SshConnection,
    /** The libvirt URI on the host; qemu:///system even for a non-root SSH user. */
    readonly uri = 'qemu:///system',
    options: { shell?: boolean } = {},
  ) {
    this.shell = options.shell === false ? undefined : new VirshShell(ssh, uri);
  }

  close(): void {
    this.shell?.close();
  }

  /** The argv that runs `virsh ARGS` on the host, with messages in English for the parsers. */
  argv(args: readonly string[]): string[] {
    return ['env', 'LC_ALL=C', 'virsh', '-c', this.uri, ...args];
  }

  /** Runs virsh and returns stdout; a non-zero exit throws virsh's own error. */
  async run(args: readonly string[], options?: ExecOptions): Promise<string> {
    const result = await this.tryRun(args, options);
    if (result.code !== 0) throw virshError(result.stderr, `virsh ${args[0] ?? ''} failed with exit status ${result.code ?? 'signal'}`);
    return result.stdout;
  }

  /** Runs virsh and hands back the raw result (for commands whose failure is an answer). */
  async tryRun(args: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    const shell = this.shell;
    const name = args[0] ?? '';
    // The shell takes a command only when it is free. A read waits a little for it while it runs
    // another read (MAX_READ_WAIT_MS); past that, and behind a change, concurrent callers keep
    // their parallel exec channels instead of queueing behind a slow command.
    if (shell && options?.stdin === undefined && virshShellSafe(args)) {
      const read = SHELL_READS.has(name);
      const waitUntil = Date.now() + MAX_READ_WAIT_MS;
      while (read && !shell.idle && shell.busyWithRead && this.queuedReads < MAX_QUEUED_READS && Date.now() < waitUntil) {
        this.queuedReads++;
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([shell.whenIdle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitUntil - Date.now())))]);
        } finally {
          clearTimeout(timer);
          this.queuedReads--;
        }
      }
      if ((read && shell.idle) || (SHELL_CHANGES.has(name) && shell.ready)) {
        try {
          return await shell.run(args, { ...options, mutating: !read });
        } catch (error) {
          if (!(error instanceof ShellUnavailable)) throw error;
        }
      }
    }
    return this.ssh.exec(command(this.argv(args)), options);
  }

  /** Runs a constant shell script with VIRSH set to the virsh invocation, for batched reads
   *  (one round trip instead of one per domain). Values reach the script only as "$1"… */
  async runScript(body: string, args: readonly string[] = [], options?: ExecOptions): Promise<string> {
    const prelude = `VIRSH="env LC_ALL=C virsh -c ${this.uri}"\n`;
    if (!/^[a-z+]+:\/\/[A-Za-z0-9./_-]*$/.test(this.uri)) throw new DriverError(`unusable libvirt URI ${this.uri}`, 'invalid');
    const result = await this.ssh.exec(script(prelude + body, args), options);
    if (result.code !== 0) throw virshError(result.stderr, `host script failed with exit status ${result.code ?? 'signal'}`);
    return result.stdout;
  }
}
