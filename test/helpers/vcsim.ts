/**
 * vcsim for tests (test/vcsim): each test file starts its own instance in a private work dir
 * (its inventory is changed by the tests, and some restart it), on 127.0.0.1:0, and stops it in
 * afterAll. The binary is built once per machine by scripts/test-env.sh (vcsim.sh start); a file
 * whose binary is missing skips, or fails under KILN_REQUIRE_REAL=1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VimClient, type VimClientOptions } from '../../drivers/vsphere/soap/index.js';

// KILN_VCSIM_SH: another checkout's vcsim.sh (e.g. a copy of HEAD's test/vcsim while the shared tree's sources are mid-edit).
export const VCSIM_SH = process.env['KILN_VCSIM_SH'] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'vcsim', 'vcsim.sh');

export interface VcsimInfo {
  url: string;
  host: string;
  port: number;
  username: string;
  password: string;
  thumbprint: string;
  certPath: string;
  pid: number;
  inventory: {
    datacenters: number;
    clustersPerDatacenter: number;
    hostsPerCluster: number;
    standaloneHostsPerDatacenter: number;
    vmsPerPool: number;
    datastores: number;
    standardPortgroupVlans: number[] | null;
    distributedPortgroupVlans: number[] | null;
  };
}

/** True when the vcsim binary is built; throws instead of false when the run requires real components. */
export function vcsimOrSkip(): boolean {
  try {
    execFileSync(VCSIM_SH, ['path'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env['KILN_REQUIRE_REAL'] === '1') throw new Error('vcsim is required (KILN_REQUIRE_REAL=1) but not built; run test/vcsim/vcsim.sh build (scripts/test-env.sh does)');
    return false;
  }
}

export class Vcsim {
  info!: VcsimInfo;
  private constructor(
    readonly workDir: string,
    private readonly flags: string[],
  ) {}

  /** Starts a private instance; flags go to the Go main (-cluster 2 -vm 3 …). */
  static start(flags: string[] = []): Vcsim {
    const sim = new Vcsim(mkdtempSync(path.join(tmpdir(), 'kiln-vcsim-')), flags);
    sim.run('start', ...flags);
    return sim;
  }

  private run(...args: string[]): void {
    execFileSync(VCSIM_SH, args, { env: { ...process.env, KILN_VCSIM_WORK: this.workDir }, stdio: ['ignore', 'ignore', 'inherit'] });
    if (args[0] !== 'stop') this.info = JSON.parse(readFileSync(path.join(this.workDir, 'vcsim.json'), 'utf8')) as VcsimInfo;
  }

  /** Stops and starts it again with the same certificate, port and password: a vCenter reboot (no sessions, a fresh inventory). */
  restart(): void {
    const { port, password } = this.info;
    this.run('stop');
    this.run('start', ...this.flags, '-l', `127.0.0.1:${port}`, '-password', password);
  }

  /** Kills it (SIGKILL, a crash or power loss); start it again with restart(). */
  kill(): void {
    process.kill(this.info.pid, 'SIGKILL');
  }

  /** Restarts it with a new certificate: what a pinned client must refuse. */
  rekey(): void {
    this.run('rekey');
  }

  /** Restarts it on the same port and password with a new certificate: a vCenter whose certificate was replaced, as Kiln's stored URL still names it. */
  rekeyInPlace(): void {
    const { port, password } = this.info;
    this.run('stop');
    for (const file of ['cert.pem', 'key.pem']) rmSync(path.join(this.workDir, file), { force: true });
    this.run('start', ...this.flags, '-l', `127.0.0.1:${port}`, '-password', password);
  }

  stop(): void {
    this.run('stop');
    rmSync(this.workDir, { recursive: true, force: true });
  }

  options(extra: Partial<VimClientOptions> = {}): VimClientOptions {
    return { url: this.info.url, thumbprint: this.info.thumbprint, username: this.info.username, password: this.info.password, ...extra };
  }

  connect(extra: Partial<VimClientOptions> = {}): Promise<VimClient> {
    return VimClient.connect(this.options(extra));
  }
}
