/**
 * A persistent `virsh` shell per host: one long-lived interactive `virsh -c URI` on an exec channel
 * of the host's SSH connection, fed one command line at a time. It saves what every exec costs
 * (a channel, the login shell, virsh itself, and virsh connecting to libvirtd), so a quick query
 * takes a few milliseconds instead of tens.
 *
 * Protocol. Each command goes in as two lines:
 *
 *     echo @@N''B ; CMD ARGS… ; echo @@N''E
 *     echo --err @@N''Z ; echo @@N''Z
 *
 * N is a random nonce per command. virsh runs every command of a `;` list even when one fails,
 * and ends each command's output with one newline (as a one-shot `virsh CMD` does), so the
 * command's stdout is what lies between "@@NB\n" and "@@NE", byte for byte what an exec returns. The quotes keep the marker text out of readline's echo of the input
 * (virsh's readline echoes the prompt and every line to stdout when stdin is not a terminal), so
 * the markers cannot be confused with that echo. The second line is a separate command line so it
 * runs even when the first one does not parse; its "error: @@NZ" on stderr and "@@NZ" on stdout
 * end the command on both streams. virsh's interactive mode has no exit status: the command
 * failed when its stderr has an "error:" line (virsh reports every failure that way).
 *
 * Reads may go in as a batch (runBatch): every command's two lines written at once, each with its
 * own nonce, answered in order. virsh reads and runs them one after another as they come, so a
 * batch costs one round trip where one-at-a-time costs one per command; on a host loaded or far
 * away, those round trips were what a cold inventory spent in the shell (bench P10).
 *
 * Only printable ASCII travels through the shell (readline would treat control characters as
 * editing keys, and a newline ends the command line); callers run anything else as an exec.
 */
import { StringDecoder } from 'node:string_decoder';
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { DriverError } from '../types.js';
import { command } from './shell.js';
import type { ExecOptions, ExecResult, SshConnection } from './ssh-connection.js';

/** Printable ASCII: the only bytes that reach virsh's parser unchanged through readline. */
const SAFE = /^[\x20-\x7e]*$/;
/** Tokens virsh's parser leaves alone (no quotes, backslash, blanks, ';' or a leading '#'). */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Whether every argument can travel through the shell (see virshQuote). */
export function virshShellSafe(args: readonly string[]): boolean {
  return args.every((arg) => SAFE.test(arg));
}

/**
 * Quotes one argument for virsh's own command-line parser (vshCommandStringGetArg): outside
 * quotes a backslash escapes the next character; inside single quotes nothing is special but
 * the closing quote; blanks, ';', '#' and '"' matter only outside quotes. Single-quoting with
 * '\'' for an embedded quote therefore works exactly as for a POSIX shell. Anything but printable
 * ASCII is refused: it cannot pass readline intact.
 */
export function virshQuote(arg: string): string {
  if (!SAFE.test(arg)) throw new DriverError('a virsh shell argument must be printable ASCII (no control characters, newlines or non-ASCII)', 'invalid');
  if (arg !== '' && PLAIN.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** One virsh shell command line from an argv (the command name first). */
export function virshLine(args: readonly string[]): string {
  if (args.length === 0) throw new DriverError('empty virsh command', 'invalid');
  return args.map(virshQuote).join(' ');
}

/** The shell could not run the command (it would not start, or died before answering a read):
 *  the caller runs it as an ordinary exec instead. */
export class ShellUnavailable extends Error {}

/** virsh's notes about its own connection, not about the command. */
const CONNECTION_NOTES = /^error: (Reconnected to the hypervisor|Disconnected from \S+ due to .*)$/;

/** One command of a batch, answered when both streams have its end marker. */
interface Entry {
  nonce: string;
  line: string;
  resolve: (result: ExecResult) => void;
  reject: (error: Error) => void;
}

/** What the shell runs now: one change, or one or more reads written together (runBatch). */
interface Pending {
  entries: Entry[];
  /** Entries before this one have been answered. */
  next: number;
  /** Whether it is safe to rerun the command elsewhere if the shell dies under it. */
  mutating: boolean;
  done: () => void;
}

/** A command of runBatch: its argv, and its own deadline and cancel signal. */
export interface BatchCommand {
  args: readonly string[];
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 120_000;
/** After the shell fails to start, exec is used for this long before trying again. */
const RETRY_AFTER_MS = 60_000;

export class VirshShell {
  private channel: ClientChannel | undefined;
  private out = '';
  private err = '';
  private pending: Pending | undefined;
  /** It has answered a command since it was (re)started. */
  private proven = false;
  private disabledUntil = 0;
  private closed = false;
  /** Shells started so far (for tests and diagnostics). */
  starts = 0;
  /** Callers waiting for the shell to finish its current command (whenIdle). */
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly ssh: SshConnection,
    private readonly uri: string,
  ) {}

  /** Free to take a command now (else the caller uses an exec rather than wait). */
  get idle(): boolean {
    return !this.closed && !this.pending && Date.now() >= this.disabledUntil;
  }

  /** Whether a mutating command may go through it: only a shell that has already answered, so a
   *  shell that dies on start-up never leaves the caller wondering whether the command ran. */
  get ready(): boolean {
    return this.idle && this.channel !== undefined && this.proven;
  }

  /** Started and answering (it may be busy with a command now): worth queueing quick reads on. */
  get running(): boolean {
    return !this.closed && this.channel !== undefined && this.proven;
  }

  /** Whether the command it runs now is a read (queueing a quick read behind it costs milliseconds). */
  get busyWithRead(): boolean {
    return !this.closed && this.pending !== undefined && !this.pending.mutating;
  }

  /** Resolves when the command running now has finished (at once when there is none). */
  whenIdle(): Promise<void> {
    if (!this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Closes the shell for good. A command it still runs fails at once, as when its channel closes
   * under it (a session dropped because its connection was declared dead): a change with
   * 'unreachable' (it may or may not have run), a read with ShellUnavailable (Virsh reruns it as an
   * exec, which the closed connection refuses as unreachable). Without this, the channel's own
   * close found the shell already detached from it and the command waited out its own timeout.
   */
  close(): void {
    this.closed = true;
    const pending = this.pending;
    this.kill();
    if (pending) {
      this.rejectPending(pending, () => (pending.mutating ? new DriverError('the SSH session closed while a virsh command ran: the host did not answer', 'unreachable') : new ShellUnavailable('virsh shell closed during a command')));
    }
  }

  /** Runs one command; resolves like SshConnection.exec (code 0, or 1 when virsh reported an error). */
  async run(args: readonly string[], options: ExecOptions & { mutating?: boolean } = {}): Promise<ExecResult> {
    if (options.stdin !== undefined) throw new ShellUnavailable('virsh shell has no stdin for commands');
    return this.submit([{ args, timeoutMs: options.timeoutMs, signal: options.signal }], options.mutating ?? false)[0]!;
  }

  /**
   * Several reads written to the shell at once, answered in order: one round trip for all of
   * them, where one at a time each waits for the last to come back. One promise per command, each
   * settled like run()'s. A command that times out or is cancelled restarts the shell, and the
   * ones after it fail with ShellUnavailable (the caller runs them as execs).
   */
  runBatch(commands: readonly BatchCommand[]): Promise<ExecResult>[] {
    return this.submit(commands, false);
  }

  private submit(commands: readonly BatchCommand[], mutating: boolean): Promise<ExecResult>[] {
    if (commands.length === 0) return [];
    if (!this.idle) return commands.map(() => Promise.reject(new ShellUnavailable('virsh shell busy')));
    if (mutating && commands.length !== 1) throw new DriverError('a change goes through the virsh shell alone', 'invalid');
    const lines = commands.map((c) => virshLine(c.args));
    const cancelled = commands.findIndex((c) => c.signal?.aborted);
    if (cancelled >= 0) return commands.map((_, i) => Promise.reject(i === cancelled ? new DriverError(`cancelled: ${summarize(`virsh ${lines[i]}`)}`, 'failed') : new ShellUnavailable('virsh shell batch not sent')));
    const cleanups: (() => void)[] = [];
    const pending: Pending = {
      entries: [],
      next: 0,
      mutating,
      done: () => {
        if (this.pending !== pending) return;
        for (const cleanup of cleanups) cleanup();
        this.pending = undefined;
        for (const wake of this.idleWaiters.splice(0)) wake();
      },
    };
    // A command that fails on its own (timeout, cancel) may still be running: its output would land
    // in the next one's, so the shell is killed and the rest of the batch goes elsewhere.
    const failAt = (entry: Entry, error: Error) => {
      if (this.pending !== pending) return;
      const rest = pending.entries.slice(pending.next).filter((e) => e !== entry);
      pending.done();
      this.kill();
      entry.reject(error);
      for (const other of rest) other.reject(new ShellUnavailable('virsh shell restarted under a batch'));
    };
    const promises = commands.map((c, i) => new Promise<ExecResult>((resolve, reject) => {
      const display = `virsh ${lines[i]!}`;
      const timeoutMs = c.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const entry: Entry = { nonce: randomBytes(8).toString('hex'), line: lines[i]!, resolve, reject };
      const timer = setTimeout(() => failAt(entry, new DriverError(`timed out after ${Math.round(timeoutMs / 1000)} s: ${summarize(display)}`, 'timeout')), timeoutMs);
      const onAbort = () => failAt(entry, new DriverError(`cancelled: ${summarize(display)}`, 'failed'));
      c.signal?.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => {
        clearTimeout(timer);
        c.signal?.removeEventListener('abort', onAbort);
      });
      pending.entries.push(entry);
    }));
    this.pending = pending;
    this.open().then(
      (channel) => {
        if (this.pending !== pending) return;
        const marker = (nonce: string, tag: string) => `@@${nonce}''${tag}`;
        channel.write(pending.entries.map((e) => `echo ${marker(e.nonce, 'B')} ; ${e.line} ; echo ${marker(e.nonce, 'E')}\necho --err ${marker(e.nonce, 'Z')} ; echo ${marker(e.nonce, 'Z')}\n`).join(''));
      },
      (error: unknown) => this.rejectPending(pending, () => new ShellUnavailable(`virsh shell cannot open: ${error instanceof Error ? error.message : String(error)}`)),
    );
    return promises;
  }

  /** Fails every command of PENDING not answered yet, with the error ERROR makes for it. */
  private rejectPending(pending: Pending, error: () => Error): void {
    if (this.pending !== pending) return;
    const rest = pending.entries.slice(pending.next);
    pending.done();
    for (const entry of rest) entry.reject(error());
  }

  private async open(): Promise<ClientChannel> {
    if (this.channel) return this.channel;
    const channel = await this.ssh.openChannel(
      // TERM/INPUTRC: readline with no terminal and no user key bindings. No history file entries.
      // Not -q: quiet mode drops table headers and the messages an exec of virsh prints.
      command(['env', 'LC_ALL=C', 'TERM=dumb', 'INPUTRC=/dev/null', 'VIRSH_HISTSIZE=0', 'virsh', '-c', this.uri]),
    );
    if (this.closed) {
      channel.close();
      throw new DriverError('virsh shell closed', 'unreachable');
    }
    this.starts++;
    this.channel = channel;
    this.proven = false;
    this.out = '';
    this.err = '';
    const outText = new StringDecoder('utf8');
    const errText = new StringDecoder('utf8');
    channel.on('data', (chunk: Buffer) => {
      if (this.channel !== channel) return;
      this.out += outText.write(chunk);
      this.check();
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      if (this.channel !== channel) return;
      this.err += errText.write(chunk);
      this.check();
    });
    channel.on('close', () => {
      if (this.channel !== channel) return;
      const wasProven = this.proven;
      const stderr = this.err.trim();
      this.channel = undefined;
      this.out = '';
      this.err = '';
      const pending = this.pending;
      if (!pending) return;
      if (!wasProven) {
        // It never answered: virsh missing, unusable, or refusing interactive mode.
        this.disabledUntil = Date.now() + RETRY_AFTER_MS;
        this.rejectPending(pending, () => new ShellUnavailable(`virsh shell exited on start${stderr ? `: ${stderr}` : ''}`));
      } else if (pending.mutating) {
        this.rejectPending(pending, () => new DriverError(`connection lost while running a virsh command${stderr ? `: ${stderr}` : ''}`, 'unreachable'));
      } else this.rejectPending(pending, () => new ShellUnavailable('virsh shell exited during a command'));
    });
    return channel;
  }

  /** Answers the pending commands, in order, whose end markers both streams have. */
  private check(): void {
    const pending = this.pending;
    while (pending && this.pending === pending && pending.next < pending.entries.length) {
      const entry = pending.entries[pending.next]!;
      const tag = (t: string) => `@@${entry.nonce}${t}`;
      const outEnd = this.out.indexOf(tag('Z'));
      const errMarker = `error: ${tag('Z')}\n`;
      const errEnd = this.err.indexOf(errMarker);
      if (outEnd < 0 || errEnd < 0) return;
      const outPart = this.out.slice(0, outEnd);
      const errPart = this.err.slice(0, errEnd);
      this.out = this.out.slice(outEnd + tag('Z').length);
      this.err = this.err.slice(errEnd + errMarker.length);
      const begin = outPart.indexOf(tag('B'));
      const end = outPart.lastIndexOf(tag('E'));
      // Outside quiet mode virsh ends every command's output with a newline, echo included: drop
      // the one after the B marker, and the command's own is what an exec of virsh prints too.
      const stdout = begin >= 0 && end >= begin ? outPart.slice(begin + tag('B').length, end).replace(/^\n/, '') : '';
      const stderr = errPart
        .split('\n')
        .filter((l) => !CONNECTION_NOTES.test(l.trim()))
        .join('\n');
      const failed = stderr.split('\n').some((l) => l.trimStart().startsWith('error:'));
      pending.next++;
      this.proven = true;
      if (pending.next === pending.entries.length) pending.done();
      entry.resolve({ stdout, stderr, code: failed ? 1 : 0 });
    }
  }

  private kill(): void {
    const channel = this.channel;
    this.channel = undefined;
    this.out = '';
    this.err = '';
    if (!channel) return;
    try {
      channel.signal('KILL');
    } catch {
      /* not all servers accept signals */
    }
    channel.close();
  }
}

function summarize(line: string): string {
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
