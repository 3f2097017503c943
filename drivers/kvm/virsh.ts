/**
 * virsh over the host's SSH connection. Commands are argv arrays (quoted by shell.ts); failures
 * become DriverErrors that carry virsh's own message ("error: Domain not found: …") with a
 * category the engine maps onto API error codes.
 */
import { DriverError } from '../types.js';
import { command, script } from './shell.js';
import type { ExecOptions, ExecResult, SshConnection } from './ssh-connection.js';

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

export class Virsh {
  constructor(
    readonly ssh: SshConnection,
    /** The libvirt URI on the host; qemu:///system even for a non-root SSH user. */
    readonly uri = 'qemu:///system',
  ) {}

  /** The argv that runs `virsh ARGS` on the host, with messages in English for the parsers. */
  argv(args: readonly string[]): string[] {
    return ['env', 'LC_ALL=C', 'virsh', '-c', this.uri, ...args];
  }

  /** Runs virsh and returns stdout; a non-zero exit throws virsh's own error. */
  async run(args: readonly string[], options?: ExecOptions): Promise<string> {
    const result = await this.ssh.exec(command(this.argv(args)), options);
    if (result.code !== 0) throw virshError(result.stderr, `virsh ${args[0] ?? ''} failed with exit status ${result.code ?? 'signal'}`);
    return result.stdout;
  }

  /** Runs virsh and hands back the raw result (for commands whose failure is an answer). */
  async tryRun(args: readonly string[], options?: ExecOptions): Promise<ExecResult> {
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
