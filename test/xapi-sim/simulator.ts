/**
 * A running simulated pool: the Sim with every module registered, seeded from a fixture, one
 * listener per host, and the test-control API (§6.10) on its own plain-HTTP loopback port, so it
 * keeps answering while a host's listener is down.
 */
import http from 'node:http';
import { seedPool, type Fixture } from './fixture.js';
import { registerHost } from './host.js';
import { HostListener, makeCertificate, type Certificate } from './server.js';
import { registerSession } from './session.js';
import { Sim } from './sim.js';
import type { StoreDump } from './store.js';
import { control, type ControlContext } from './control.js';
import { handleConsole } from './console.js';
import { randomBytes } from 'node:crypto';
import { registerModules, seedModules } from './modules.js';

export interface SimInfo {
  /** The master's URL (https://127.0.0.1:PORT, or http:// with fixture.http). */
  url: string;
  port: number;
  /** The test-control API: POST {controlUrl}/_sim/<action> with a JSON body. */
  controlUrl: string;
  username: string;
  password: string;
  /** SHA-256 of the certificate every host presents (AB:CD:…); undefined over HTTP. */
  thumbprint?: string;
  certPem?: string;
  pid: number;
  pool: string;
  hosts: Array<{ ref: string; uuid: string; name_label: string; address: string; url: string }>;
}

export class RunningSim {
  readonly listeners = new Map<string, HostListener>();
  /** States saved by the control API; "initial" is the pool as seeded. */
  readonly saved = new Map<string, StoreDump>();
  cert?: Certificate;
  port = 0;
  private controlServer?: http.Server;
  controlUrl = '';

  constructor(
    readonly sim: Sim,
    readonly fixture: Fixture,
  ) {
    sim.urlOf = (address) => this.urlOf(address);
  }

  urlOf(address: string): string {
    return `${this.fixture.http ? 'http' : 'https'}://${address}:${this.port}`;
  }

  info(): SimInfo {
    const { store } = this.sim;
    const master = store.rec('host', this.sim.master);
    return {
      url: this.urlOf(master['address'] as string),
      port: this.port,
      controlUrl: this.controlUrl,
      username: this.sim.options.username,
      password: this.sim.options.password,
      thumbprint: this.cert?.thumbprint,
      certPem: this.cert?.cert,
      pid: process.pid,
      pool: this.sim.pool,
      hosts: store.all('host').map((r) => ({ ref: r.ref, uuid: r.rec['uuid'] as string, name_label: r.rec['name_label'] as string, address: r.rec['address'] as string, url: this.urlOf(r.rec['address'] as string) })),
    };
  }

  rekey(): string | undefined {
    if (this.fixture.http) return undefined;
    this.cert = makeCertificate([...this.listeners.values()].map((l) => l.address));
    for (const l of this.listeners.values()) l.setCertificate(this.cert);
    return this.cert.thumbprint;
  }

  async hostDown(host: string): Promise<void> {
    const l = this.listeners.get(host);
    if (l?.up) await l.close();
  }

  async hostUp(host: string): Promise<void> {
    const old = this.listeners.get(host);
    if (!old || old.up) return;
    const l = new HostListener(this.sim, host, old.address, this.cert, this.consoleHandler);
    this.listeners.set(host, l);
    await l.listen(this.port);
  }

  /**
   * A listener for a host added at run time, on its own address at the pool's port. It presents
   * the pool's certificate (clients pin the thumbprint, not the names in it).
   */
  async addListener(host: string): Promise<void> {
    const l = new HostListener(this.sim, host, this.sim.store.rec('host', host)['address'] as string, this.cert, this.consoleHandler);
    this.listeners.set(host, l);
    await l.listen(this.port);
  }

  consoleHandler: ConstructorParameters<typeof HostListener>[4] = (host, req, socket, head) => handleConsole(this.sim, host, req, socket, head);

  async start(port = 0): Promise<void> {
    this.saved.set('initial', this.sim.store.dump());
    const hosts = this.sim.store.all('host');
    if (!this.fixture.http) this.cert = makeCertificate(hosts.map((h) => h.rec['address'] as string));
    // Every host on its own loopback address, all on the master's port; retried if another
    // process holds that port on one of the other addresses.
    for (let attempt = 0; ; attempt++) {
      const made = hosts.map((h) => new HostListener(this.sim, h.ref, h.rec['address'] as string, this.cert, this.consoleHandler));
      try {
        this.port = await made[0]!.listen(port);
        for (const l of made.slice(1)) await l.listen(this.port);
        made.forEach((l) => this.listeners.set(l.host, l));
        break;
      } catch (e) {
        await Promise.all(made.filter((l) => l.up).map((l) => l.close()));
        if (attempt >= 5 || port !== 0) throw e;
      }
    }
    const ctx: ControlContext = { running: this };
    this.controlServer = http.createServer((req, res) => void control(ctx, req, res));
    await new Promise<void>((resolve) => this.controlServer!.listen(0, '127.0.0.1', resolve));
    this.controlUrl = `http://127.0.0.1:${(this.controlServer.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.sim.stop();
    await Promise.all([...this.listeners.values()].filter((l) => l.up).map((l) => l.close()));
    await new Promise<void>((resolve) => (this.controlServer ? this.controlServer.close(() => resolve()) : resolve()));
  }
}

export function createSim(fixture: Fixture): Sim {
  const sim = new Sim({
    username: fixture.username ?? 'root',
    password: fixture.password ?? randomBytes(9).toString('base64url'),
    taskDelayMs: fixture.taskDelayMs ?? 20,
    eventTimeoutClampS: fixture.eventTimeoutClampS ?? 60,
  });
  registerSession(sim);
  registerHost(sim);
  registerModules(sim);
  seedModules(sim, seedPool(sim, fixture), fixture);
  return sim;
}

export async function startSimulator(fixture: Fixture = {}, port = 0): Promise<RunningSim> {
  const running = new RunningSim(createSim(fixture), fixture);
  await running.start(port);
  return running;
}
