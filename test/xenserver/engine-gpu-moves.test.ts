/**
 * A GPU VM's cold migration (R70) and GPU capacity freshness (R71) through the engine's API on the
 * xapi simulator's pool of two GRID K1 hosts:
 *
 * - migrateVirtualMachine of a running K140Q VM stops it and start_on's it on the other host of the
 *   same group (no pool_migrate: xapi refuses a vGPU VM live), its vGPU resident on a pGPU there,
 *   both hosts' remaining K140Q in listHosts updated, and the VM's events show the stop and start;
 * - a vGPU taken on a host outside Kiln (another client of the pool starts a VM) reaches listHosts
 *   on the gpu.stats.interval sync, which sends the host on the engine's host-changed channel;
 * - an expunge reads its host's capacity again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const TYPE = 'GRID K140Q';
/** A template the pool holds, registered by its name as a host path (root admin, inside kiln.template.local.dir). */
const POOL_TEMPLATE = '/srv/xen-templates/kiln-gpu-moves';

type Rec = Record<string, unknown>;

describe('GPU VM moves and GPU capacity freshness (XenServer, xapi simulator)', () => {
  let sim: XapiSim;
  let t: TestEngine;
  let xapi: Session;
  const ids: Record<string, string> = {};
  let vm: { id: string; hostid: string };
  const ok = async (command: string, params: Record<string, string> = {}) => {
    const res = await t.call(command, params);
    if (res.status !== 200) throw new Error(`${command}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const job = async (command: string, params: Record<string, string>) => t.engine.jobs.wait(String((await ok(command, params))['jobid']));
  /** listHosts' remaining K140Q on each host, by host name. */
  const remaining = async () => Object.fromEntries(((await ok('listHosts', { zoneid: ids['zone']! }))['host'] as { name: string; gpugroup?: { gpugroupname: string; vgpu: { vgputype: string; remainingcapacity: number }[] }[] }[])
    .map((h) => [h.name, h.gpugroup?.find((g) => g.gpugroupname === K1)?.vgpu.find((v) => v.vgputype === TYPE)?.remainingcapacity]));
  const hostName = (i: number) => sim.info.hosts[i]!.name_label;
  const hostIdOf = (i: number) => t.engine.db.prepare('SELECT id FROM hosts WHERE ref=?').pluck().get(sim.info.hosts[i]!.ref) as number;

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ gpus: ['K1'] }, { gpus: ['K1'] }], vms: [{ name: POOL_TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 2 });
    xapi = await Session.login(sim.url, sim.username, sim.password);
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000 })] });
    ids['zone'] = ((await ok('createZone', { name: 'GPU zone' }))['zone'] as { id: string }).id;
    const podid = ((await ok('createPod', { name: 'GPU pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'K1 pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    ids['network'] = ((await ok('createNetwork', { name: 'Pool network', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    ids['template'] = ((await ok('registerTemplate', { name: 'gpu-moves', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: POOL_TEMPLATE, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
    ids['offering'] = ((await ok('createServiceOffering', { name: 'K140Q', displaytext: 'K140Q', cpunumber: '1', cpuspeed: '1000', memory: '1024', 'serviceofferingdetails[0].pciDevice': K1, 'serviceofferingdetails[0].vgpuType': TYPE }))['serviceoffering'] as { id: string }).id;
    ids['host0'] = ((await ok('listHosts', { name: hostName(0) }))['host'] as { id: string }[])[0]!.id;
    ids['host1'] = ((await ok('listHosts', { name: hostName(1) }))['host'] as { id: string }[])[0]!.id;
  }, 60_000);
  afterAll(async () => {
    t?.engine.background.stop();
    await t?.close();
    await sim?.stop();
  });

  it('migrateVirtualMachine moves a K140Q VM cold: stopped, start_on the other host of its group, capacity of both hosts updated, stop and start in its events', async () => {
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['offering']!, networkids: ids['network']!, hostid: ids['host0']!, name: 'cad-move' });
    expect(deployed['jobstatus']).toBe(1);
    vm = (deployed['jobresult'] as { virtualmachine: { id: string; hostid: string } }).virtualmachine;
    expect(vm.hostid).toBe(ids['host0']);
    expect(await remaining()).toEqual({ [hostName(0)]: 15, [hostName(1)]: 16 });
    await sim.control('calls', { reset: true });
    const eventsBefore = (t.engine.db.prepare('SELECT MAX(id) FROM events').pluck().get() as number) ?? 0;

    const moved = await job('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: ids['host1']! });
    expect([moved['jobstatus'], (moved['jobresult'] as { virtualmachine: Rec }).virtualmachine]).toEqual([1, expect.objectContaining({ id: vm.id, state: 'Running', hostid: ids['host1'] })]);
    // xapi saw a shutdown and a start_on the target, never a live move.
    const calls = await sim.control<string[]>('calls');
    expect(calls.filter((c) => /VM\.(clean_shutdown|hard_shutdown|start_on|pool_migrate|migrate_send)$/.test(c))).toEqual(['Async.VM.clean_shutdown', 'Async.VM.start_on']);
    // The VM runs on the target, its vGPU on one of the target's pGPUs of the K1 group.
    const [ref, rec] = Object.entries(await xapi.call<Record<string, Rec>>('VM.get_all_records')).find(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === vm.id)!;
    expect(rec['resident_on']).toBe(sim.info.hosts[1]!.ref);
    const vgpu = await xapi.call<Rec>('VGPU.get_record', (rec['VGPUs'] as string[])[0]);
    expect(await xapi.call<string>('PGPU.get_host', vgpu['resident_on'])).toBe(sim.info.hosts[1]!.ref);
    expect(await xapi.call<string>('GPU_group.get_name_label', vgpu['GPU_group'])).toBe(K1);
    expect(ref).toMatch(/^OpaqueRef:/);
    expect(await remaining()).toEqual({ [hostName(0)]: 16, [hostName(1)]: 15 });
    const events = t.engine.db.prepare('SELECT type, description FROM events WHERE id>? AND resource_uuid=? ORDER BY id').all(eventsBefore, vm.id) as { type: string; description: string }[];
    expect(events.map((e) => [e.type, e.description.replace(/^VM \S+ \([^)]+\): /, '')])).toEqual([
      ['VM.STOP', 'Running -> Stopping'],
      ['VM.STOP', 'Stopping -> Stopped'],
      ['VM.START', 'Stopped -> Starting'],
      ['VM.START', `Starting -> Running (on host ${hostName(1)})`],
    ]);
  });

  it('a vGPU taken outside Kiln shows in listHosts after the gpu.stats.interval sync (the host is sent on host-changed)', async () => {
    await sim.control('add-vm', { vm: { name: 'outside-1', power_state: 'Running', host: 1, vgpu: TYPE } });
    // Nothing in Kiln started or stopped anything: it still shows the capacity it read last.
    expect(await remaining()).toEqual({ [hostName(0)]: 16, [hostName(1)]: 15 });
    await ok('updateConfiguration', { name: 'gpu.stats.interval', value: '1' });
    const target = hostIdOf(1);
    const changed = new Promise<void>((resolve) => {
      const on = (e: { hostId: number }) => {
        if (e.hostId !== target) return;
        t.engine.hosts.events.off('host-changed', on);
        resolve();
      };
      t.engine.hosts.events.on('host-changed', on);
    });
    t.engine.background.start();
    await changed;
    t.engine.background.stop();
    expect(await remaining()).toEqual({ [hostName(0)]: 16, [hostName(1)]: 14 });
  });

  it('an expunge reads its host\'s GPU capacity again', async () => {
    expect((await job('stopVirtualMachine', { id: vm.id, forced: 'true' }))['jobstatus']).toBe(1);
    expect(await remaining()).toEqual({ [hostName(0)]: 16, [hostName(1)]: 15 });
    await sim.control('add-vm', { vm: { name: 'outside-2', power_state: 'Running', host: 1, vgpu: TYPE } });
    expect((await job('destroyVirtualMachine', { id: vm.id, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(await remaining()).toEqual({ [hostName(0)]: 16, [hostName(1)]: 14 });
  });
});
