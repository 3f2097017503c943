/**
 * importVm importsource=external chooses the Kiln host that receives the copy through the
 * placement planner (external.ts targetHost), not as the cluster's first host that is Up: the
 * offering's host tags, room for the VM and the storage tags of the default pool the copy lands
 * on all count, hostid is honoured (judged alone), and when no host fits the call is a 533 giving
 * each host's verdict, with nothing written. On the simulator's external host old-kvm and the Demo
 * Cluster (sim-host-1 is its first host).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { dbFingerprint, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

const GiB = 1024 ** 3;
let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let params: Record<string, string>;

const spec = (name: string, mac: string): VmSpec => ({
  internalName: name, displayName: name, uuid: `${mac.replace(/:/g, '').slice(-8)}-1111-2222-3333-444455556666`, cpuNumber: 1, cpuSpeedMhz: 2000, memoryMiB: 512,
  disks: [{ name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' }],
  nics: [{ macAddress: mac, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
  details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
});

const hostId = (name: string) => (t.engine.db.prepare('SELECT uuid FROM hosts WHERE name=?').get(name) as { uuid: string }).uuid;
/** Where the copy went, as the VM.IMPORT event says it. */
const importedInto = async () => {
  const events = (await t.ok('listEvents', { type: 'VM.IMPORT' }))['event'] as { description: string }[];
  return /into the storage of host (\S+),/.exec(events[0]!.description)?.[1];
};

beforeEach(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  const sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  sim.addExternalHost('old-kvm', 's3cret');
  sim.addUnmanagedVm('old-kvm', spec('ext-web', '52:54:00:ee:00:11'));
  const clusterid = (t.engine.db.prepare(`SELECT c.uuid FROM clusters c JOIN hosts h ON h.cluster_id=c.id WHERE h.name='sim-host-1'`).get() as { uuid: string }).uuid;
  const gold = ((await t.ok('createServiceOffering', { name: 'gold-1x512', cpunumber: '1', cpuspeed: '500', memory: '512', hosttags: 'gold' }))['serviceoffering'] as { id: string }).id;
  params = { zoneid: ids.zoneid, hypervisor: 'Simulator', host: 'old-kvm', username: 'root', password: 's3cret', importsource: 'external', clusterid, name: 'ext-web', serviceofferingid: gold };
  // The key is pinned on first use; list first so the refusals below change nothing.
  await t.ok('listVmsForImport', { zoneid: ids.zoneid, hypervisor: 'Simulator', host: 'old-kvm', username: 'root', password: 's3cret' });
});
afterEach(async () => t.close());

describe('importVm external: the receiving host is the planner\'s choice', () => {
  it("copies onto the host with the offering's host tag, not the cluster's first host", async () => {
    await t.ok('updateHost', { id: hostId('sim-host-2'), hosttags: 'gold' });
    const done = await t.run('importVm', params);
    expect(done['jobstatus'], JSON.stringify(done['jobresult'])).toBe(1);
    expect(await importedInto()).toBe('sim-host-2');
  });

  it('refuses with 533 and every host\'s verdict when no host has the tag, writing nothing', async () => {
    const before = dbFingerprint(t.engine);
    const refused = await t.call('importVm', params);
    expect(refused.status).toBe(533);
    const text = String(refused.body['errortext']);
    expect(text).toMatch(/^Unable to import VM ext-web from old-kvm into cluster Demo Cluster: no suitable host \(/);
    for (const h of ['sim-host-1', 'sim-host-2', 'sim-host-3']) expect(text).toContain(`${h}: `);
    expect(text).toMatch(/sim-host-1: [^;]*gold/);
    expect((refused.body['placement'] as { suitable: boolean }[]).every((v) => !v.suitable)).toBe(true);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('honours hostid, judging that host alone: room for the VM counts', async () => {
    await t.ok('updateHost', { id: hostId('sim-host-3'), hosttags: 'gold' });
    const cluster = t.engine.db.prepare(`SELECT c.uuid, p.uuid AS pod FROM clusters c JOIN pods p ON p.id=c.pod_id WHERE c.uuid=?`).get(params['clusterid']) as { uuid: string; pod: string };
    const small = ((await t.ok('addHost', { zoneid: ids.zoneid, podid: cluster.pod, clusterid: cluster.uuid, hypervisor: 'Simulator', url: 'simulator://small-host?memory=256', username: 'root', password: 'x', hosttags: 'gold' }))['host'] as { id: string }[] | { id: string });
    const smallId = (Array.isArray(small) ? small[0]! : small).id;
    const before = dbFingerprint(t.engine);
    const refused = await t.call('importVm', { ...params, hostid: smallId });
    expect(refused.status).toBe(533);
    expect(String(refused.body['errortext'])).toMatch(/^Unable to import VM ext-web from old-kvm into cluster Demo Cluster: no suitable host \(small-host: [^;]*memory[^;]*\)$/);
    expect(dbFingerprint(t.engine)).toBe(before);
    const done = await t.run('importVm', { ...params, hostid: hostId('sim-host-3') });
    expect(done['jobstatus'], JSON.stringify(done['jobresult'])).toBe(1);
    expect(await importedInto()).toBe('sim-host-3');
  });
});
