/**
 * One multiplexed SSH connection per KVM host. Every remote command is an exec channel on it;
 * consoles, the event stream and VNC forwards are channels too. The connection keeps itself
 * alive (SSH keepalives), notices when the host goes away, and reconnects with backoff.
 *
 * Host keys are trusted on first use: the first connection learns the key's SHA256 fingerprint
 * (OpenSSH style) unless one is pinned already, and every later connection, reconnects
 * included, must present the same key.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { DriverError } from '../types.js';
import { forwardGuestPort, type GuestForward } from './metadata-forward.js';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  /** Fingerprint the host must present (SHA256:…); absent on first contact. */
  pinnedHostKey?: string;
  /** Exec channels open at once. OpenSSH allows 10 sessions per connection by default
   *  (MaxSessions); a few are left for the event stream, consoles and forwards. */
  maxExecChannels?: number;
  keepaliveIntervalMs?: number;
  readyTimeoutMs?: number;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed; a stream is piped (an image upload). */
  stdin?: string | Readable;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the command died from a signal. */
  code: number | null;
}

/** OpenSSH's fingerprint format: SHA256:<base64 of the key blob's digest, without padding>. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

const DEFAULT_EXEC_TIMEOUT_MS = 120_000;
const RECONNECT_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000];

type State = 'connecting' | 'up' | 'waiting' | 'closed';

/**
 * Events: 'down' (error: DriverError) when an established connection is lost or a reconnect is
 * refused; 'up' when a reconnect succeeded.
 */
export class SshConnection extends EventEmitter {
  /** The fingerprint this connection trusts (pinned, or learned on first contact). */
  hostKeyFingerprint: string | undefined;
  private client: Client | undefined;
  private state: State = 'connecting';
  private attempt: Promise<Client> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private active = 0;
  private readonly queue: (() => void)[] = [];
  /** The exec channels running now, each with what fails it (close() fails them at once). */
  private readonly running = new Set<(error: DriverError) => void>();

  private constructor(private readonly target: SshTarget) {
    super();
    this.hostKeyFingerprint = target.pinnedHostKey;
  }

  /** Connects once; the first failure is thrown (no retries: the caller decides). */
  static async open(target: SshTarget): Promise<SshConnection> {
    const connection = new SshConnection(target);
    await connection.connectOnce();
    return connection;
  }

  get label(): string {
    return `${this.target.username}@${this.target.host}:${this.target.port}`;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  /** Runs one command line (built with shell.ts) and collects its output. Never rejects on a
   *  non-zero exit: callers decide what an exit status means. */
  async exec(commandLine: string, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    if (options.signal?.aborted) throw cancelled(commandLine);
    const release = await this.acquire();
    try {
      // A busy sshd can refuse a channel ("open failed"); that is transient, so retry briefly.
      for (let attempt = 0; ; attempt++) {
        const client = await this.ready();
        try {
          return await runChannel(client, commandLine, options, timeoutMs, this.running);
        } catch (error) {
          if (attempt < 3 && isChannelOpenFailure(error)) {
            await delay(250 * (attempt + 1));
            continue;
          }
          throw error;
        }
      }
    } finally {
      release();
    }
  }

  /** Opens a long-lived exec channel (event stream, console). With `pty`, the command gets a
   *  terminal, which `virsh console` insists on. */
  async openChannel(commandLine: string, options: { pty?: boolean } = {}): Promise<ClientChannel> {
    const client = await this.ready();
    return new Promise((resolve, reject) => {
      const cb = (error: Error | undefined, channel: ClientChannel) => (error ? reject(toDriverError(error, this.label)) : resolve(channel));
      if (options.pty) client.exec(commandLine, { pty: { term: 'xterm-256color', rows: 40, cols: 120 } }, cb);
      else client.exec(commandLine, cb);
    });
  }

  /** A subsystem channel (`sftp`): its raw stream, for a peer that speaks the protocol itself (sshfs in backup-store.ts). */
  async openSubsystem(name: string): Promise<ClientChannel> {
    const client = await this.ready();
    return new Promise((resolve, reject) => {
      client.subsys(name, (error, channel) => (error ? reject(toDriverError(error, this.label)) : resolve(channel)));
    });
  }

  /** A TCP connection made by the host's sshd to HOST:PORT as seen from the host (VNC). */
  async forwardOut(host: string, port: number): Promise<ClientChannel> {
    const client = await this.ready();
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => (error ? reject(toDriverError(error, this.label)) : resolve(channel)));
    });
  }

  /**
   * A listener the host's sshd opens on ADDRESS:PORT (a remote forward, metadata-forward.ts): each
   * connection comes back as a channel with the originator address sshd saw. It lasts as long as
   * this connection's current client; a reconnect does not reopen it (the session ends with it).
   */
  async forwardIn(address: string, port: number, onConnection: (stream: Duplex, originator: string) => void): Promise<GuestForward> {
    return forwardGuestPort(await this.ready(), address, port, onConnection);
  }

  async close(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.reconnectTimer);
    // A command still running fails now, as unreachable: on a link that is gone (the host manager
    // drops a session its host check found dead) end() below never hears back, the socket is not
    // destroyed, and the command would wait out its own timeout (120 s) instead.
    for (const fail of [...this.running]) fail(new DriverError(`SSH connection to ${this.label} closed while a command ran: the host did not answer`, 'unreachable'));
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      client.end();
    });
  }

  /** The connected client, reconnecting now (skipping any backoff wait) when needed. */
  private async ready(): Promise<Client> {
    if (this.state === 'up' && this.client) return this.client;
    if (this.state === 'closed') throw new DriverError(`SSH connection to ${this.label} is closed`, 'unreachable');
    if (this.attempt) return this.attempt;
    clearTimeout(this.reconnectTimer);
    return this.reconnect();
  }

  private async reconnect(): Promise<Client> {
    try {
      const client = await this.connectOnce();
      this.failures = 0;
      this.emit('up');
      return client;
    } catch (error) {
      const driverError = error instanceof DriverError ? error : new DriverError(String(error), 'unreachable');
      if (this.state !== 'closed') {
        this.emit('down', driverError);
        // A changed host key will not fix itself; everything else might.
        if (driverError.category !== 'host-key-changed') this.scheduleReconnect();
        else this.state = 'closed';
      }
      throw driverError;
    }
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed') return;
    this.state = 'waiting';
    const wait = RECONNECT_DELAYS_MS[Math.min(this.failures, RECONNECT_DELAYS_MS.length - 1)] ?? 30_000;
    this.failures++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (this.state === 'waiting') this.reconnect().catch(() => undefined);
    }, wait);
    this.reconnectTimer.unref();
  }

  private connectOnce(): Promise<Client> {
    this.state = 'connecting';
    const attempt = new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let presented: string | undefined;
      let refusedKey = false;
      let settled = false;
      const config: ConnectConfig = {
        host: this.target.host,
        port: this.target.port,
        username: this.target.username,
        password: this.target.password,
        privateKey: this.target.privateKey,
        keepaliveInterval: this.target.keepaliveIntervalMs ?? 5_000,
        keepaliveCountMax: 3,
        readyTimeout: this.target.readyTimeoutMs ?? 20_000,
        // Without this, ssh2 would fall back to keyboard-interactive prompts nobody answers.
        tryKeyboard: false,
        hostVerifier: (key: Buffer) => {
          presented = sshFingerprint(key);
          const expected = this.hostKeyFingerprint;
          if (expected && expected !== presented) {
            refusedKey = true;
            return false;
          }
          return true;
        },
      };
      client.once('ready', () => {
        settled = true;
        if (this.state === 'closed') {
          // close() was called while this attempt was under way.
          client.end();
          reject(new DriverError(`SSH connection to ${this.label} is closed`, 'unreachable'));
          return;
        }
        this.hostKeyFingerprint ??= presented;
        // Many small request/answer exchanges share this socket (the virsh shell above all);
        // with Nagle's algorithm on, each waited ~40 ms for the peer's delayed ACK.
        client.setNoDelay(true);
        this.client = client;
        this.state = 'up';
        resolve(client);
      });
      client.on('error', (error: Error) => {
        if (settled) return; // after 'ready', errors are followed by 'close', handled below
        settled = true;
        client.end();
        if (refusedKey) {
          reject(
            new DriverError(
              `SSH host key of ${this.target.host}:${this.target.port} has changed: Kiln pinned ${this.hostKeyFingerprint} but the host now presents ${presented}. ` +
                'If the host was reinstalled or rekeyed on purpose, verify the new key and update the pinned key; otherwise someone may be intercepting the connection.',
              'host-key-changed',
              presented ? { presented: { kind: 'ssh-host-key', fingerprint: presented } } : {},
            ),
          );
        } else reject(toDriverError(error, this.label));
      });
      client.on('close', () => {
        if (!settled) {
          settled = true;
          reject(new DriverError(`SSH connection to ${this.label} closed during setup`, 'unreachable'));
          return;
        }
        if (this.client !== client) return;
        this.client = undefined;
        if (this.state === 'closed') return;
        this.emit('down', new DriverError(`SSH connection to ${this.label} was lost`, 'unreachable'));
        this.scheduleReconnect();
      });
      client.connect(config);
    });
    this.attempt = attempt;
    const clear = () => {
      if (this.attempt === attempt) this.attempt = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  private async acquire(): Promise<() => void> {
    const limit = this.target.maxExecChannels ?? 6;
    if (this.active >= limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.queue.shift()?.();
    };
  }
}

function runChannel(client: Client, commandLine: string, options: ExecOptions, timeoutMs: number, running: Set<(error: DriverError) => void>): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let channel: ClientChannel | undefined;
    let done = false;
    const finish = (error: Error | undefined, result?: ExecResult) => {
      if (done) return;
      done = true;
      running.delete(lost);
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) {
        // Best effort: ask sshd to kill the command, then drop the channel.
        try {
          channel?.signal('KILL');
        } catch {
          /* not all servers accept signals */
        }
        channel?.close();
        reject(error);
      } else if (result) resolve(result);
    };
    const lost = (error: DriverError) => finish(new DriverError(`${error.message}: ${summarize(commandLine)}`, error.category));
    const timer = setTimeout(() => finish(new DriverError(`timed out after ${Math.round(timeoutMs / 1000)} s: ${summarize(commandLine)}`, 'timeout')), timeoutMs);
    const onAbort = () => finish(cancelled(commandLine));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    running.add(lost);

    client.exec(commandLine, (error, ch) => {
      if (error) return finish(toDriverError(error, 'host'));
      channel = ch;
      if (done) {
        ch.close();
        return;
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | null | undefined;
      ch.on('data', (chunk: Buffer) => out.push(chunk));
      ch.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      ch.on('exit', (exitCode: number | null) => {
        code = exitCode;
      });
      ch.on('close', () => {
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (code === undefined) finish(new DriverError(`connection lost while running: ${summarize(commandLine)}${stderr ? `: ${stderr.trim()}` : ''}`, 'unreachable'));
        else finish(undefined, { stdout, stderr, code });
      });
      const stdin = options.stdin;
      if (typeof stdin === 'object') {
        stdin.on('error', (error: Error) => finish(new DriverError(`cannot read what was to be sent to the host: ${error.message}`, 'failed')));
        stdin.pipe(ch);
      } else ch.end(stdin ?? undefined);
    });
  });
}

function cancelled(commandLine: string): DriverError {
  return new DriverError(`cancelled: ${summarize(commandLine)}`, 'failed');
}

function summarize(commandLine: string): string {
  return commandLine.length > 200 ? `${commandLine.slice(0, 200)}…` : commandLine;
}

function isChannelOpenFailure(error: unknown): boolean {
  return error instanceof DriverError && /channel open fail/i.test(error.message);
}

/** Maps ssh2's errors (socket, auth, protocol) onto driver categories. */
export function toDriverError(error: Error, where: string): DriverError {
  const code = (error as { code?: string }).code;
  const level = (error as { level?: string }).level;
  const message = error.message || String(error);
  if (level === 'client-authentication') return new DriverError(`SSH authentication to ${where} failed: ${message}`, 'unreachable');
  if (/timed out/i.test(message)) return new DriverError(`SSH connection to ${where} timed out: ${message}`, 'unreachable');
  if (code && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE'].includes(code)) {
    return new DriverError(`cannot reach ${where}: ${message}`, 'unreachable');
  }
  if (/channel open fail/i.test(message)) return new DriverError(`SSH channel open failure on ${where}: ${message}`, 'failed');
  return new DriverError(`SSH error on ${where}: ${message}`, 'unreachable');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
