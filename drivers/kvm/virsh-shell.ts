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

interface Pending {
  nonce: string;
  resolve: (result: ExecResult) => void;
  reject: (error: Error) => void;
  /** Whether it is safe to rerun the command elsewhere if the shell dies under it. */
  mutating: boolean;
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

  close(): void {
    this.closed = true;
    this.kill();
  }

  /** Runs one command; resolves like SshConnection.exec (code 0, or 1 when virsh reported an error). */
  async run(args: readonly string[], options: ExecOptions & { mutating?: boolean } = {}): Promise<ExecResult> {
    if (!this.idle) throw new ShellUnavailable('virsh shell busy');
    if (options.stdin !== undefined) throw new ShellUnavailable('virsh shell has no stdin for commands');
    const line = virshLine(args);
    const display = `virsh ${line}`;
    if (options.signal?.aborted) throw new DriverError(`cancelled: ${summarize(display)}`, 'failed');
    const nonce = randomBytes(8).toString('hex');
    const marker = (tag: string) => `@@${nonce}''${tag}`;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<ExecResult>((resolve, reject) => {
      const onAbort = () => fail(new DriverError(`cancelled: ${summarize(display)}`, 'failed'), true);
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending = undefined;
        for (const wake of this.idleWaiters.splice(0)) wake();
      };
      const fail = (error: Error, kill: boolean) => {
        if (this.pending !== pending) return;
        cleanup();
        // The command may still be running; its output would land in the next one's.
        if (kill) this.kill();
        reject(error);
      };
      const pending: Pending = {
        nonce,
        mutating: options.mutating ?? false,
        resolve: (result) => {
          cleanup();
          this.proven = true;
          resolve(result);
        },
        reject: (error) => fail(error, false),
      };
      this.pending = pending;
      const timer = setTimeout(() => fail(new DriverError(`timed out after ${Math.round(timeoutMs / 1000)} s: ${summarize(display)}`, 'timeout'), true), timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.open().then(
        (channel) => {
          if (this.pending !== pending) return;
          channel.write(`echo ${marker('B')} ; ${line} ; echo ${marker('E')}\necho --err ${marker('Z')} ; echo ${marker('Z')}\n`);
        },
        (error: unknown) => fail(new ShellUnavailable(`virsh shell cannot open: ${error instanceof Error ? error.message : String(error)}`), false),
      );
    });
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
        pending.reject(new ShellUnavailable(`virsh shell exited on start${stderr ? `: ${stderr}` : ''}`));
      } else if (pending.mutating) {
        pending.reject(new DriverError(`connection lost while running a virsh command${stderr ? `: ${stderr}` : ''}`, 'unreachable'));
      } else pending.reject(new ShellUnavailable('virsh shell exited during a command'));
    });
    return channel;
  }

  /** Completes the pending command once both streams have its end marker. */
  private check(): void {
    const pending = this.pending;
    if (!pending) return;
    const tag = (t: string) => `@@${pending.nonce}${t}`;
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
    pending.resolve({ stdout, stderr, code: failed ? 1 : 0 });
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
