/**
 * Crash consistency on the simulator (issue 10): a real `kiln serve` process takes 50 concurrent
 * lifecycle calls (deploy, start, stop, reboot, destroy, expunge) over signed HTTP and is killed
 * with SIGKILL at a seeded random moment, five rounds in a row on one data dir. After each kill the
 * database passes `PRAGMA integrity_check`; after the restart and one sync no VM is in a transient
 * state, every job is finished or failed with a message, and Kiln's VM states equal the simulated
 * hosts' domains (simulator.json): no orphan domain, no lost VM, nothing running where Kiln does
 * not place it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crashRounds, ok, type HostDomain } from '../helpers/crash-rounds.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

const SEED = Number(process.env['KILN_CRASH_SEED'] ?? 20261201);
let kiln: KilnProcess | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-crash-sim-'));

function simulatedDomains(): Promise<HostDomain[]> {
  const world = JSON.parse(readFileSync(join(dataDir, 'simulator.json'), 'utf8')) as { hosts: Record<string, { domains: Record<string, { power: string }> }> };
  return Promise.resolve(
    Object.entries(world.hosts).flatMap(([host, h]) => Object.entries(h.domains).map(([name, d]) => ({ host, name, running: d.power === 'Running' }))),
  );
}

describe('crash consistency on the simulator (kill -9 of kiln serve)', () => {
  afterAll(async () => {
    await kiln?.stop();
    if (!process.env['KILN_CRASH_KEEP']) rmSync(dataDir, { recursive: true, force: true });
  });

  it(`5 rounds of 50 concurrent lifecycle calls with a kill -9 each (seed ${SEED}): a sound database, settled VMs and jobs, and hosts that agree`, { timeout: 180_000 }, async () => {
    // Configure once through the API; the settings live in the data dir across the restarts.
    const first = await startKiln({ dataDir, args: ['--no-ui'] });
    const zone = ((await ok(first, 'listZones', { name: 'Demo' }))['zone'] as { id: string }[])[0]!.id;
    const template = ((await ok(first, 'listTemplates', { templatefilter: 'all', name: 'Debian 12' }))['template'] as { id: string }[])[0]!.id;
    const offering = ((await ok(first, 'listServiceOfferings', { name: 'Small Instance' }))['serviceoffering'] as { id: string }[])[0]!.id;
    await ok(first, 'updateConfiguration', { name: 'ha.monitor.interval', value: '1' });
    // Two simulated hosts that take 250 ms over each operation, as real ones take their time, so
    // the kills land half-way through operations; the demo hosts take no new VMs.
    const cluster = ((await ok(first, 'listClusters', { name: 'Demo Cluster' }))['cluster'] as { id: string; podid: string }[])[0]!;
    const demoHosts = (await ok(first, 'listHosts', { zoneid: zone }))['host'] as { id: string }[];
    for (const name of ['crash-a', 'crash-b']) {
      await ok(first, 'addHost', { zoneid: zone, podid: cluster.podid, clusterid: cluster.id, hypervisor: 'Simulator', url: `simulator://${name}?cpus=32&memory=65536&latency=250` });
    }
    for (const host of demoHosts) await ok(first, 'updateHost', { id: host.id, allocationstate: 'Disable' });
    await first.stop();

    const result = await crashRounds(dataDir, {
      seed: SEED, rounds: 5, operations: 50, killWindowMs: 1500, maxVms: 24, settleMs: 15_000,
      deploy: { zoneid: zone, templateid: template, serviceofferingid: offering },
      hostDomains: simulatedDomains,
    });
    kiln = result.kiln;
    console.log(`crash-consistency (simulator, seed ${SEED}, ${dataDir}):\n${result.reports.map((r) => JSON.stringify(r)).join('\n')}`);
    expect(result.findings).toEqual({ integrity: [], transient: [], unfinishedJobs: [], jobsWithoutMessage: [], orphanDomains: [], lostVms: [], runningTwiceOrElsewhere: [] });
    // The kills landed while work was under way, not only before or after it.
    expect(result.reports.reduce((n, r) => n + r.interruptedJobs, 0)).toBeGreaterThan(0);
  });
});
