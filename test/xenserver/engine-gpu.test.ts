/**
 * XenServer GPUs in the engine, through the API, on the xapi simulator's K1/K2 model: adding the
 * pool discovers each host's GPU groups, vGPU types and capacity into host_gpus, and listHosts
 * answers CloudStack's gpugroup[] { gpugroupname, vgpu[] { vgputype, videoram, maxheads,
 * maxresolutionx, maxresolutiony, maxvgpuperpgpu, remainingcapacity, maxcapacity } } (R65, R72);
 * a host without GPUs has none. Capacity is read again after a start and a stop on the host (R71).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';

const TEMPLATE = 'Kiln GPU engine template';
const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const K2 = 'Group of NVIDIA Corporation GK104GL [GRID K2] GPUs';

interface Vgpu { vgputype: string; remainingcapacity: number; maxcapacity: number; pgpu?: { pciaddress: string; remainingcapacity: number; maxcapacity: number; virtualmachineids: string[] }[] }
interface HostOut { id: string; name: string; gpugroup?: { gpugroupname: string; vgpu: Vgpu[] }[] }

describe('XenServer GPUs through the engine', () => {
  let sim: XapiSim;
  let t: TestEngine;
  let clusterid: string;
  const hosts = async () => (await t.call('listHosts', { clusterid })).body['host'] as HostOut[];
  const byRef = async (ref: string) => {
    const uuid = t.engine.db.prepare('SELECT uuid FROM hosts WHERE ref=?').pluck().get(ref) as string;
    return (await hosts()).find((h) => h.id === uuid)!;
  };
  const remaining = (h: HostOut, group: string, type: string) => h.gpugroup?.find((g) => g.gpugroupname === group)?.vgpu.find((v) => v.vgputype === type)?.remainingcapacity;

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ gpus: ['K1'] }, { gpus: ['K1', 'K2'] }, {}], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 2 });
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1 })] });
    const zoneid = ((await t.call('createZone', { name: 'GPU Zone' })).body['zone'] as { id: string }).id;
    const podid = ((await t.call('createPod', { name: 'GPU Pod', zoneid })).body['pod'] as { id: string }).id;
    const res = await t.call('addCluster', { zoneid, podid, clustername: 'GPU pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    expect(res.status).toBe(200);
    clusterid = (res.body['cluster'] as { id: string }).id;
  });
  afterAll(async () => {
    await t?.close();
    await sim?.stop();
  });

  it('listHosts answers each host\'s GPU groups with their vGPU types and capacity, as CloudStack does', async () => {
    const [k1, both, none] = await Promise.all(sim.info.hosts.map((h) => byRef(h.ref)));
    expect(none!.gpugroup).toBeUndefined();
    expect(k1!.gpugroup!.map((g) => g.gpugroupname)).toEqual([K1]);
    const k140q = k1!.gpugroup![0]!.vgpu.find((v) => v.vgputype === 'GRID K140Q');
    // Kiln's pgpu[]: the K1 board's four physical GPUs, 4 K140Q each, none in use.
    const pgpu = [0, 1, 2, 3].map((i) => ({ pciaddress: `0000:8${i + 1}:00.0`, remainingcapacity: 4, maxcapacity: 4, virtualmachineids: [] }));
    expect(k140q).toEqual({ vgputype: 'GRID K140Q', videoram: 1006632960, maxheads: 2, maxresolutionx: 2560, maxresolutiony: 1600, maxvgpuperpgpu: 4, remainingcapacity: 16, maxcapacity: 16, pgpu });
    expect(k1!.gpugroup![0]!.vgpu.map((v) => v.vgputype)).toEqual(['GRID K100', 'GRID K120Q', 'GRID K140Q', 'GRID K160Q', 'GRID K180Q', 'passthrough']);
    expect(both!.gpugroup!.map((g) => g.gpugroupname)).toEqual([K1, K2].sort());
    expect(both!.gpugroup!.find((g) => g.gpugroupname === K2)!.vgpu.find((v) => v.vgputype === 'GRID K260Q')).toMatchObject({ maxvgpuperpgpu: 2, remainingcapacity: 4, maxcapacity: 4 });
  });

  it('capacity is read again after a start and after a stop on the host', async () => {
    const ref = sim.info.hosts[0]!.ref;
    const hostId = t.engine.db.prepare('SELECT id FROM hosts WHERE ref=?').pluck().get(ref) as number;
    const session = await t.engine.hosts.session(hostId);
    const uuid = randomUUID();
    const made = await session.define({ internalName: 'i-2-50-gpu', displayName: 'gpu', uuid, cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 256, gpu: { group: K1, vgpuType: 'GRID K140Q' }, disks: [{ name: 'gpu.vhd', sizeBytes: 2 ** 30, device: 'disk', backingImage: TEMPLATE }], nics: [] });
    await session.start(made.ref);
    await t.engine.hosts.refreshGpus(hostId);
    expect(remaining(await byRef(ref), K1, 'GRID K140Q')).toBe(15);
    // The pGPU that holds it (depth-first: the first one) says so, with the VM's Kiln uuid.
    const perPgpu = (await byRef(ref)).gpugroup!.find((g) => g.gpugroupname === K1)!.vgpu.find((v) => v.vgputype === 'GRID K140Q')!.pgpu!;
    expect(perPgpu.map((p) => [p.remainingcapacity, p.virtualmachineids])).toEqual([[3, [uuid]], [4, []], [4, []], [4, []]]);
    await session.stop(made.ref, { forced: true });
    await t.engine.hosts.refreshGpus(hostId);
    expect(remaining(await byRef(ref), K1, 'GRID K140Q')).toBe(16);
    await session.destroy(made.ref, { removeDisks: 'all' });
  });
});
