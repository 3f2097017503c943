/**
 * Issue 16, "the same applies to hosts": the 'hosts' live channel carries the changed host
 * records, as listHosts answers them, so the hosts page follows a host going Down and coming back,
 * and the memory a started VM takes, without polling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import type { HostsUpdate } from '../../preload/api.js';

let t: TestEngine;
const messages: HostsUpdate[] = [];

beforeAll(async () => {
  t = await testEngine();
  t.engine.live.connect((channel, payload) => channel === 'hosts' && messages.push(payload as HostsUpdate)).subscribe('hosts');
});
afterAll(() => t?.close());

type HostRecord = { id: string; name: string; state: string; memoryallocated: number };
const records = () => messages.flatMap((m) => m.changed) as HostRecord[];
const latest = (name: string) => records().filter((r) => r.name === name).at(-1);
const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};

describe("the 'hosts' live channel", () => {
  it('sends the host record when a host goes Down and when it is Up again', async () => {
    const name = (t.engine.db.prepare('SELECT name FROM hosts ORDER BY id DESC').pluck().get() as string);
    t.engine.simulator.setHostUp(name, false);
    try {
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await until(() => latest(name)?.state === 'Down');
    } finally {
      t.engine.simulator.setHostUp(name, true);
      await t.engine.background.ha.pass();
    }
    await until(() => latest(name)?.state === 'Up');
    const listed = ((await t.call('listHosts', { name })).body['host'] as HostRecord[])[0]!;
    expect(latest(name)).toEqual(listed);
  });

  it("sends the host a VM starts on, with the VM's memory allocated there", async () => {
    messages.length = 0;
    const vm = await deployDemo(t, { name: 'host-feed-vm' });
    const host = ((await t.call('listHosts', { id: vm['hostid']! })).body['host'] as HostRecord[])[0]!;
    await until(() => latest(host.name)?.memoryallocated === host.memoryallocated);
    expect(host.memoryallocated).toBeGreaterThan(0);
  });

  it('sends the host an admin disables and enables again (updateHost allocationstate)', async () => {
    type Allocated = HostRecord & { resourcestate: string };
    const host = ((await t.call('listHosts', {})).body['host'] as HostRecord[])[0]!;
    const resourceState = () => (records() as Allocated[]).filter((r) => r.id === host.id).at(-1)?.resourcestate;
    messages.length = 0;
    expect((await t.call('updateHost', { id: host.id, allocationstate: 'Disable' })).status).toBe(200);
    await until(() => resourceState() === 'Disabled');
    expect((await t.call('updateHost', { id: host.id, allocationstate: 'Enable' })).status).toBe(200);
    await until(() => resourceState() === 'Enabled');
  });
});

describe("the 'hosts' live channel and GPU capacity (R71)", () => {
  it('sends the host again once its GPU capacity is read after a start and a stop', async () => {
    const cluster = ((await t.call('listClusters', {})).body['cluster'] as { id: string; podid: string; zoneid: string }[])[0]!;
    const added = await t.call('addHost', { zoneid: cluster.zoneid, podid: cluster.podid, clusterid: cluster.id, hypervisor: 'Simulator', url: 'simulator://sim-gpu?gpus=GRID%20K1:GRID%20K120Q:8' });
    expect(added.status).toBe(200);
    const offering = ((await t.call('createServiceOffering', {
      name: 'k120q', displaytext: 'k120q', cpunumber: '1', cpuspeed: '500', memory: '256', 'serviceofferingdetails[0].pciDevice': 'GRID K1', 'serviceofferingdetails[0].vgpuType': 'GRID K120Q',
    })).body['serviceoffering'] as { id: string }).id;
    type GpuHost = { name: string; gpugroup?: { gpugroupname: string; vgpu: { vgputype: string; remainingcapacity: number }[] }[] };
    const remaining = () => (records() as unknown as GpuHost[]).filter((r) => r.name === 'sim-gpu').at(-1)?.gpugroup?.[0]?.vgpu.find((v) => v.vgputype === 'GRID K120Q')?.remainingcapacity;
    messages.length = 0;
    const vm = await deployDemo(t, { name: 'gpu-feed', serviceofferingid: offering });
    expect(vm['hostname']).toBe('sim-gpu');
    await until(() => remaining() === 7);
    expect((await t.run('stopVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    await until(() => remaining() === 8);
    // A re-read with no VM change of its own (the sync, or a slow hypervisor answering after the
    // VM's record went out) reaches the page too.
    await new Promise((r) => setTimeout(r, 150));
    messages.length = 0;
    await t.engine.hosts.refreshGpus(t.engine.db.prepare(`SELECT id FROM hosts WHERE name='sim-gpu'`).pluck().get() as number);
    await until(() => remaining() === 8);
  });
});
