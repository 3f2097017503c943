/**
 * An imported VMware VM expunged while vCenter is cut off from Kiln (issue 13), on vcsim: a VM
 * made over SOAP keeps its own config.uuid (not Kiln's uuid) when importUnmanagedInstance takes it
 * over. Kiln reaches vcsim through a TCP relay the test cuts (every connection dropped, new ones
 * refused) and restores, so the hosts go Disconnected and come back with vcsim's inventory as it
 * was. destroyVirtualMachine expunge=true during the cut owes the VM to its host (host_cleanups);
 * once vCenter answers again:
 *  - the VM Kiln adopted is recognised by its moref and the config.uuid the import recorded, and
 *    destroyed with its disk; it is not listed as unmanaged again (before, the cleanup took it for
 *    a namesake and left it in vCenter for good);
 *  - a VM that took the same name meanwhile (another moref and config.uuid) is left alone with its
 *    disk, and an event says so.
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { asMoRef, asString, getProperties, retrieveInventory, waitForTask, type MoRef, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Relay } from '../helpers/tcp-relay.js';
import { createVmWithDevices, defaultPlacement, type Placement } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('an imported VMware VM expunged while vCenter is cut off', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let relay: Relay;
  let t: TestEngine;
  let where: Placement;
  let dsPath: string;
  let ids: Record<string, string> = {};

  const owed = () => t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get() as number;
  const hostStates = () => t.engine.db.prepare(`SELECT DISTINCT state FROM hosts WHERE hypervisor='VMware' AND removed IS NULL`).pluck().all() as string[];
  const unmanaged = async () => (((await t.call('listUnmanagedInstances', { clusterid: ids['cluster']! })).body['unmanagedinstance'] as { name: string }[] | undefined) ?? []).map((u) => u.name);
  /** The VMs named NAME in vcsim, each with its config.uuid, as an admin's own client reads them. */
  const vmsNamed = async (name: string) =>
    (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'config.uuid'] }])).filter((v) => v.props['name'] === name).map((v) => ({ ref: v.obj.value, uuid: asString(v.props['config.uuid']) }));
  const diskFile = (name: string) => `${dsPath}/${name}/${name}.vmdk`;

  async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
    const start = Date.now();
    while (!(await check())) {
      if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what} (hosts ${JSON.stringify(t.engine.db.prepare(`SELECT name, state FROM hosts`).all())})`);
      await sleep(200);
    }
  }

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-pg-std', '1']);
    admin = await sim.connect();
    where = await defaultPlacement(admin);
    const ds = (await retrieveInventory(admin, [{ type: 'Datastore', pathSet: ['name'] }])).find((d) => d.props['name'] === where.datastoreName)!;
    dsPath = String((await getProperties(admin, ds.obj, ['summary.url']))['summary.url']).replace(/^ds:\/\//, '').replace(/\/+$/, '');
  }, 60_000);
  afterEach(async () => {
    relay?.restore();
    await t?.close();
    await relay?.close();
  });
  afterAll(() => {
    admin?.close();
    sim?.stop();
  });

  /** A Kiln with the vcsim cluster, reached through a relay of its own, an L2 network on VLAN 101 and a fixed offering. */
  async function connectKiln(): Promise<void> {
    relay = new Relay({ host: sim.info.host, port: sim.info.port });
    await relay.listen();
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    ids = {};
    ids['zone'] = ((await t.ok('createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
    ids['pod'] = ((await t.ok('createPod', { name: 'VMware Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    ids['cluster'] = ((await t.ok('addCluster', {
      zoneid: ids['zone'], podid: ids['pod'], clustername: 'C0', hypervisor: 'VMware', url: `https://127.0.0.1:${relay.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    }))['cluster'] as { id: string }).id;
    ids['network'] = ((await t.ok('createNetwork', { name: 'net-101', zoneid: ids['zone'], guestiptype: 'L2', vlan: '101' }))['network'] as { id: string }).id;
    ids['offering'] = ((await t.ok('createServiceOffering', { name: 'vmw-1x64', cpunumber: '1', cpuspeed: '500', memory: '64' }))['serviceoffering'] as { id: string }).id;
  }

  /** Makes NAME in vcsim (stopped, one disk), imports it, and destroys and expunges it with vCenter cut off. */
  async function importAndExpungeCut(name: string): Promise<{ id: string; ref: MoRef }> {
    const ref = await createVmWithDevices(admin, where, { name, disksGiB: [1], nics: ['PG-VLAN101'], nicType: 'VirtualVmxnet3', oneController: true });
    expect(existsSync(diskFile(name)), diskFile(name)).toBe(true);
    await connectKiln();
    expect(await unmanaged()).toContain(name);
    const job = await t.run('importUnmanagedInstance', { clusterid: ids['cluster']!, name, serviceofferingid: ids['offering']!, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': ids['network']! });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const id = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    // The VM kept its own identity: its config.uuid is not Kiln's.
    expect((await vmsNamed(name))[0]!.uuid).not.toBe(id);
    relay.cutOff();
    // What Kiln's host check does: ask for the host's session (a dropped one reconnects, and fails).
    await until('the hosts to go Disconnected', async () => {
      for (const id of t.engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='VMware'`).pluck().all() as number[]) await t.engine.hosts.session(id).catch(() => undefined);
      return hostStates().join() === 'Disconnected';
    });
    const gone = await t.run('destroyVirtualMachine', { id, expunge: 'true' });
    expect(gone['jobstatus'], JSON.stringify(gone['jobresult'])).toBe(1);
    expect(t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(id)).toBe('Expunged');
    expect(owed()).toBeGreaterThan(0);
    expect(await vmsNamed(name)).toHaveLength(1);
    return { id, ref };
  }

  /** vCenter reachable again: the sweeper does what the host owes (a few passes while the session logs in again). */
  async function restoreAndSweep(): Promise<void> {
    relay.restore();
    await until('the cleanup', async () => {
      await t.engine.background.sweep();
      return owed() === 0;
    });
  }

  it('the VM Kiln adopted is destroyed with its disk once vCenter answers, and is not listed as unmanaged', async () => {
    await importAndExpungeCut('legacy-cut');
    await restoreAndSweep();
    expect(await vmsNamed('legacy-cut')).toEqual([]);
    expect(existsSync(diskFile('legacy-cut'))).toBe(false);
    expect(await unmanaged()).not.toContain('legacy-cut');
  }, 90_000);

  it('a VM that took the same name meanwhile is left alone with its disk, and reported', async () => {
    const { id, ref } = await importAndExpungeCut('legacy-again');
    // While Kiln cannot reach vCenter, its admin replaces the VM by another of the same name.
    await waitForTask(admin, asMoRef(await admin.call('Destroy_Task', ref))!);
    const other = await createVmWithDevices(admin, where, { name: 'legacy-again', disksGiB: [1], nics: ['PG-VLAN101'], nicType: 'VirtualVmxnet3', oneController: true });
    const [namesake] = await vmsNamed('legacy-again');
    expect(namesake!.ref).toBe(other.value);
    await restoreAndSweep();
    expect(await vmsNamed('legacy-again')).toEqual([namesake]);
    expect(existsSync(diskFile('legacy-again'))).toBe(true);
    const reported = t.engine.db.prepare(`SELECT level, description FROM events WHERE resource_uuid=? AND description LIKE '%left alone%'`).all(id) as { level: string; description: string }[];
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ level: 'WARN', description: expect.stringContaining(`legacy-again (${namesake!.uuid}) is not the definition Kiln removes for VM legacy-again (${id})`) });
    expect(await unmanaged()).toContain('legacy-again');
  }, 90_000);
});
