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
  'nodedev-list', 'nodedev-dumpxml',
]);
/**
 * Quick reads issued side by side (the inventory's, a listing's per-domain reads) are gathered
 * and written to the shell as one batch, a round trip for all; reads that arrive while a batch
 * runs form the next one. A read waits for the shell while it runs other reads, up to
 * MAX_READ_WAIT_MS: a read takes milliseconds there, where an exec starts a virsh process of its
 * own (tens of ms, far more on a loaded host; at 20 hosts connecting at once, most of what a cold
 * refresh cost, bench P10). A read still waiting when the time is up (the shell is on a slow one)
 * takes an exec channel, and behind a change (a start may take seconds) nothing waits.
 */
const MAX_READ_WAIT_MS = 500;
/** Reads per batch; more wait for the next one. */
const MAX_BATCH = 256;
/** Changes that may go through an established shell (never rerun: a shell that dies under one
 *  fails the call, as a lost exec channel does). */
const SHELL_CHANGES = new Set(['start', 'destroy', 'shutdown', 'pool-refresh', 'undefine']);

interface GatheredRead {
  args: readonly string[];
  options: ExecOptions | undefined;
  /** Until when it waits for a shell that runs other reads. */
  until: number;
  resolve: (result: ExecResult) => void;
  reject: (error: unknown) => void;
}

export class Virsh {
  /** The persistent virsh shell (see virsh-shell.ts); undefined when disabled. */
  readonly shell: VirshShell | undefined;
  /** Reads waiting for the next batch, and whether a flush is under way. */
  private gathered: GatheredRead[] = [];
  private flushing = false;

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
    if (shell && options?.stdin === undefined && virshShellSafe(args)) {
      if (SHELL_READS.has(name)) return this.gatherRead(args, options);
      // A change takes the shell only when it is free; concurrent callers keep their parallel
      // exec channels instead of queueing behind a slow command.
      if (SHELL_CHANGES.has(name) && shell.ready) {
        try {
          return await shell.run(args, { ...options, mutating: true });
        } catch (error) {
          if (!(error instanceof ShellUnavailable)) throw error;
        }
      }
    }
    return this.exec(args, options);
  }

  /** Whether quick reads issued now would go through the shell (it answers and is not busy with a change). */
  get shellTakesReads(): boolean {
    const shell = this.shell;
    return shell !== undefined && shell.running && (shell.idle || shell.busyWithRead);
  }

  private exec(args: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return this.ssh.exec(command(this.argv(args)), options);
  }

  /** Queues a read for the next batch (flushed once the callers of this turn have issued theirs). */
  private gatherRead(args: readonly string[], options: ExecOptions | undefined): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.gathered.push({ args, options, until: Date.now() + MAX_READ_WAIT_MS, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const shell = this.shell!;
    try {
      while (this.gathered.length > 0) {
        if (!shell.idle) {
          // Behind other reads: wait for them, up to the first waiting read's limit.
          if (shell.busyWithRead) {
            let timer: ReturnType<typeof setTimeout> | undefined;
            const limit = Math.min(...this.gathered.map((g) => g.until)) - Date.now();
            await Promise.race([shell.whenIdle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, limit))))]);
            clearTimeout(timer);
          }
          if (!shell.idle) {
            // Behind a change, or a slow read past the wait: those take exec channels.
            const now = Date.now();
            const late = shell.busyWithRead ? this.gathered.filter((g) => g.until <= now) : this.gathered;
            this.gathered = this.gathered.filter((g) => !late.includes(g));
            for (const read of late) this.exec(read.args, read.options).then(read.resolve, read.reject);
            continue;
          }
        }
        const batch = this.gathered.splice(0, MAX_BATCH);
        const answers = shell.runBatch(batch.map((g) => ({ args: g.args, timeoutMs: g.options?.timeoutMs, signal: g.options?.signal })));
        answers.forEach((answer, i) => {
          const read = batch[i]!;
          // A shell that could not take or finish the read: it reruns as an exec (reads are safe to repeat).
          answer.then(read.resolve, (error: unknown) => (error instanceof ShellUnavailable ? this.exec(read.args, read.options).then(read.resolve, read.reject) : read.reject(error)));
        });
        // Reads issued meanwhile wait above for this batch (or, behind a slow one, take execs).
      }
    } finally {
      this.flushing = false;
    }
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
