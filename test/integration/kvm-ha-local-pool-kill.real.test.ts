/**
 * The HA restart a `kiln serve` owes outlives a `kill -9` of that process. An HA VM on host2 has
 * its disk on host2's local pool (the zone does not call the pool shared, so it is HOST-scoped):
 * when host2 loses power (hosts.sh stop-host), HA does not start the VM on host1, where its disk is
 * not, and records that it waits for host2 (ha_pending_restarts, ha/pending-restarts.ts). The
 * process is then killed with SIGKILL while the VM waits, and a new `kiln serve` starts on the
 * same data dir with host2 still away; once host2 is back, the VM runs on host2 again, and at no
 * point is it defined or running on host1. Before ha_pending_restarts the wait was in the
 * monitor's memory, and the new process left the VM Stopped for good.
 * kvm-ha-local-pool.real does the same with a graceful close and reopen in one test engine.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { listedVm, ok } from '../helpers/crash-rounds.js';
import { killRound, sleep } from '../helpers/kill-rounds.js';
import { harness, kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { deployServed, servedKvmZone } from '../helpers/served-kvm-zone.js';

const hosts = kvmHostsOrSkip();
const run = killRound('kiln-ha-kill-', 'H');
const fromDb = run.fromDb;
let host2Stopped = false;

/** The domains of this run on HOST (every one, running or not). */
const domainsOn = run.domains;

describe.skipIf(!hosts || hosts.hosts.length < 2)('a kill -9 of kiln serve while an HA VM waits for its host (local pool)', () => {
  afterAll(async () => {
    if (host2Stopped) harness('start-host', 'host2');
    await run.cleanup({ hosts: ['host1', 'host2'] });
  }, 180_000);

  it('the VM runs on its host again once it is back, never on the other one', { timeout: 300_000 }, async () => {
    let first = await run.start();
    const z = await servedKvmZone(first, hosts!, { name: 'HA kill', instanceName: run.instanceName, hostNames: ['host1', 'host2'] });
    const h2 = hosts!.hosts.find((h) => h.name === 'host2')!;
    const host2Id = z.hostIds['host2']!;
    await ok(first, 'updateConfiguration', { name: 'ha.monitor.interval', value: '1' });
    const deployed = await deployServed(first, z, 'ha-kill', { hostid: host2Id, haenable: 'true' });
    expect(deployed.job['jobstatus']).toBe(1);
    const vm = deployed.id;
    run.vms.push(vm);
    const view = () => listedVm(first, vm);
    expect(await view()).toMatchObject({ state: 'Running', hostid: host2Id });
    // A list maps the new root disk onto host2's pool record (as kvm-ha-local-pool.real does):
    // until a pool read does (a list, storage.stats.interval), HA knows no pool for it and takes
    // the cluster rule (restart-scope.ts), which would start it on host1.
    await ok(first, 'listStoragePools', { zoneid: z.zone });
    expect(((await ok(first, 'listVolumes', { virtualmachineid: vm }))['volume'] as { storagetype: string }[]).map((v) => v.storagetype)).toEqual(['local']);
    const bound = `volume .* is on local storage pool ${hosts!.poolName} of host ${h2.address}, which only that host reaches`;

    // Never on host1, checked at every look from here to the end.
    const notOnHost1 = () => expect(domainsOn('host1')).toEqual([]);
    async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        notOnHost1();
        if (await check()) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await view().catch(() => undefined))}; ${first.output().slice(-2000)}`);
        await sleep(250);
      }
    }
    const waitsForHost2 = async () => {
      const events = (((await ok(first, 'listEvents', { type: 'HA.RESTART', listall: 'true' }))['event'] as { description: string }[] | undefined) ?? []).map((e) => e.description);
      return events.some((d) => new RegExp(`HA does not restart it on another host: ${bound}`).test(d));
    };

    harness('stop-host', 'host2', '--keep-link');
    host2Stopped = true;
    // HA waits out host2's isolation fence, then says the VM waits for host2; the wait is a row.
    await until('HA to leave the VM for host2', waitsForHost2, 90_000);
    expect((await view()).state).toBe('Stopped');
    expect(fromDb((db) => db.prepare(`SELECT COUNT(*) FROM ha_pending_restarts p JOIN vm_instances v ON v.id=p.vm_id WHERE v.uuid=? AND p.bound IS NOT NULL`).pluck().get(vm))).toBe(1);
    await run.kill();
    expect(first.child.signalCode).toBe('SIGKILL');

    first = await run.start();
    // The new process with host2 still away: it has tried host2 (not Up) and the VM stays Stopped
    // (HA passes every second meanwhile, the start-host below takes seconds more).
    await until('the new kiln serve to find host2 away', async () => ((await ok(first, 'listHosts', { id: host2Id }))['host'] as { state: string }[])[0]!.state !== 'Up', 60_000);
    expect((await view()).state).toBe('Stopped');
    harness('start-host', 'host2');
    host2Stopped = false;
    await until('the VM to run on host2 again', async () => {
      const v = await view();
      return v.state === 'Running' && v.hostid === host2Id;
    }, 60_000);
    expect(domainsOn('host2')).toHaveLength(1);
    expect(onHost('host2', 'virsh', 'domstate', '--domain', domainsOn('host2')[0]!).trim()).toBe('running');
    expect(fromDb((db) => db.prepare(`SELECT COUNT(*) FROM ha_pending_restarts`).pluck().get())).toBe(0);
    notOnHost1();
  });
});
