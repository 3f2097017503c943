/**
 * The xapi simulator (test/xapi-sim) for tests: each test file starts its own pool as a child
 * process on 127.0.0.1:0 (its other hosts on 127.0.0.2, .3 … at the same port), reads its URL,
 * credentials and TLS thumbprint, drives faults through the control API, and stops it in
 * afterAll. Like vcsim.ts for vSphere; no build step, nothing to skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Board, Fixture, HostFixture, VmFixture } from '../xapi-sim/fixture.js';
import type { SimInfo } from '../xapi-sim/simulator.js';

export type { Fixture, HostFixture, VmFixture, Board } from '../xapi-sim/fixture.js';
export type { SimInfo } from '../xapi-sim/simulator.js';

const RUN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'xapi-sim', 'run.mjs');

export class XapiSim {
  private constructor(
    private child: ChildProcess,
    public info: SimInfo,
    private readonly fixture: Fixture,
  ) {}

  /**
   * Starts a pool (default: 2 hosts, no GPUs, HTTPS with a fresh self-signed certificate). It is
   * up when the process prints its SimInfo line, and failed when it exits first. There is no
   * deadline of its own: on a busy machine a fresh Node process that compiles the simulator's
   * TypeScript on load took more than 20 s (the deadline this had), and the wait is the caller's
   * hook's to bound (vitest's hookTimeout). A start that fails leaves no process behind.
   */
  static async start(fixture: Fixture = {}, port = 0): Promise<XapiSim> {
    const child = spawn(process.execPath, [RUN, JSON.stringify(fixture)], {
      cwd: path.join(path.dirname(RUN), '..', '..'),
      env: { ...process.env, XAPI_SIM_PORT: String(port) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const info = await new Promise<SimInfo>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const nl = out.indexOf('\n');
          if (nl < 0) return;
          try {
            resolve(JSON.parse(out.slice(0, nl)) as SimInfo);
          } catch {
            reject(new Error(`xapi-sim printed ${JSON.stringify(out.slice(0, 200))}, not its SimInfo line: ${err}`));
          }
        });
        child.once('error', reject);
        child.once('exit', (code, signal) => reject(new Error(`xapi-sim exited (${code ?? signal}) before it was up: ${err}`)));
      });
      return new XapiSim(child, info, fixture);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  }

  get url(): string {
    return this.info.url;
  }
  get username(): string {
    return this.info.username;
  }
  get password(): string {
    return this.info.password;
  }
  get thumbprint(): string | undefined {
    return this.info.thumbprint;
  }

  /** POST /_sim/<action> on the control port; throws with the simulator's message on a 4xx. */
  async control<T = unknown>(action: string, body: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${this.info.controlUrl}/_sim/${action}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const json = (await res.json()) as unknown;
    if (!res.ok) throw new Error(`xapi-sim ${action}: ${JSON.stringify((json as { error?: unknown }).error)}`);
    return json as T;
  }

  /** Every session becomes invalid (the next call gets SESSION_INVALID): a client must log in again. */
  expireSessions(): Promise<{ expired: number }> {
    return this.control('expire-sessions');
  }

  /** Makes another host the master: logins on the old one get HOST_IS_SLAVE [new master address]. */
  async setMaster(host: string | number): Promise<SimInfo> {
    this.info = await this.control<SimInfo>('set-master', { host });
    return this.info;
  }

  /** Closes a host's listener and cuts its connections (the master going away); hostUp brings it back on the same port. */
  hostDown(host: string | number): Promise<unknown> {
    return this.control('host-down', { host });
  }
  hostUp(host: string | number): Promise<unknown> {
    return this.control('host-up', { host });
  }

  /**
   * The next `count` calls of `method` (a wire name such as "VM.start" or "Async.VM.start", or "*") fail with `error`, wait, or are cut;
   * with `after` (a wire name) only the calls made once that method was called. "PUT /import" with
   * `redirect` (an origin): the next upload is answered with a 302 there, whatever the SR.
   */
  fault(method: string, f: { error?: string[]; delayMs?: number; drop?: boolean; count?: number; after?: string; redirect?: string }): Promise<unknown> {
    return this.control('fault', { method, ...f });
  }

  /** A new certificate on every host: what a pinned client must refuse. Returns the new thumbprint. */
  async rekey(): Promise<string> {
    const { thumbprint } = await this.control<{ thumbprint: string }>('rekey');
    this.info = { ...this.info, thumbprint };
    return thumbprint;
  }

  /** Seeds at run time: a host (its listener comes up at the next loopback address), a GRID board, a VM. */
  async addHost(host: HostFixture = {}): Promise<SimInfo> {
    this.info = await this.control<SimInfo>('add-host', { host });
    return this.info;
  }
  addBoard(host: string | number, board: Board): Promise<{ pgpus: string[] }> {
    return this.control('add-board', { host, board });
  }
  addVm(vm: VmFixture): Promise<{ vm: string }> {
    return this.control('add-vm', { vm });
  }

  /** Saves the pool's objects under a name; restoreState goes back to it ("initial": as seeded). Sessions stay. */
  saveState(name: string): Promise<unknown> {
    return this.control('save-state', { name });
  }
  restoreState(name = 'initial'): Promise<unknown> {
    return this.control('restore-state', { name });
  }

  /** The wire method names called so far (and clears the list with reset). */
  calls(reset = false): Promise<string[]> {
    return this.control('calls', { reset });
  }

  /** Kills the process (SIGKILL): the whole pool gone at once. A new start() gives a fresh pool. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }

  /** Stops this pool and starts a fresh one from the same fixture (a clean state; new port, password and certificate). */
  async restart(): Promise<XapiSim> {
    await this.stop();
    return XapiSim.start(this.fixture);
  }
}
