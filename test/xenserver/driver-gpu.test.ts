/**
 * GPUs on the XenServer driver against the xapi simulator's K1/K2 model: a host's groups and
 * vGPU types with capacity as CloudStack aggregates them (R65, R72), read fresh after each start
 * and stop (R71); a vGPU made at define and allocated by xapi at start (R66); a host without room
 * refused as insufficient capacity, the VM left halted (R67); live migration, live scaling and a
 * memory snapshot of a vGPU VM refused with the reason before xapi says VM_HAS_VGPU; an offline
 * change to no GPU (R69) and a cold move to another host of the same group (R70).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint, GpuDeviceInfo, HostSession, VmSpec } from '../../drivers/types.js';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = 'Kiln GPU template';
const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const K2 = 'Group of NVIDIA Corporation GK104GL [GRID K2] GPUs';

const spec = (name: string, gpu?: VmSpec['gpu']): VmSpec => ({
  internalName: name, displayName: name, uuid: randomUUID(), cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 256, gpu,
  disks: [{ name: `${name}.vhd`, sizeBytes: 2 ** 30, device: 'disk', backingImage: TEMPLATE }], nics: [],
});

describe('XenServer driver: GPUs (K1/K2)', () => {
  let sim: XapiSim;
  let admin: Session;
  let ep: Endpoint;
  let h0: HostSession;
  let h1: HostSession;
  let h2: HostSession;
  const cap = async (s: HostSession, group: string, type: string): Promise<GpuDeviceInfo | undefined> => (await s.gpu!.list()).find((g) => g.group === group && g.vgpuType === type);

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ gpus: ['K1'], memoryGiB: 64 }, { gpus: ['K1', 'K2'], memoryGiB: 64 }, { memoryGiB: 64 }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 2 });
    admin = await Session.login(sim.url, sim.username, sim.password);
    ep = await new XenServerDriver({ eventTimeoutSeconds: 1 }).connect({ hostId: 'gpu', url: sim.url, username: sim.username, password: sim.password });
    [h0, h1, h2] = sim.info.hosts.map((h) => ep.host(h.ref));
  });
  afterAll(async () => {
    await ep?.close();
    await sim?.stop();
  });

  it('discovers each host\'s groups and types with capacity (a host without GPUs has no gpu facet)', async () => {
    expect(h0.capabilities.gpu).toBe(true);
    expect(h2.capabilities.gpu).toBe(false);
    expect(h2.gpu).toBeUndefined();
    expect((await h2.inventory()).gpus).toEqual([]);
    const k1 = (await h0.inventory()).gpus;
    expect(new Set(k1.map((g) => g.group))).toEqual(new Set([K1]));
    expect(k1.find((g) => g.vgpuType === 'GRID K140Q')).toEqual({ group: K1, vgpuType: 'GRID K140Q', maxCapacity: 16, remainingCapacity: 16, maxVgpuPerPgpu: 4, videoRamMiB: 960, maxHeads: 2, maxResolutionX: 2560, maxResolutionY: 1600,
      // Its four pGPUs (PCI addresses from the PCI records), 4 each, none held.
      pgpus: [1, 2, 3, 4].map((i) => ({ address: `0000:8${i}:00.0`, remainingCapacity: 4, maxCapacity: 4, vmUuids: [] })),
    });
    expect(k1.find((g) => g.vgpuType === 'GRID K100')).toMatchObject({ maxCapacity: 32, remainingCapacity: 32, videoRamMiB: 256 });
    expect(k1.find((g) => g.vgpuType === 'passthrough')).toMatchObject({ maxCapacity: 4, remainingCapacity: 4 });
    const both = await h1.gpu!.list();
    expect(both.find((g) => g.group === K2 && g.vgpuType === 'GRID K260Q')).toMatchObject({ maxCapacity: 4, remainingCapacity: 4, maxHeads: 4 });
  });

  it('a vGPU VM: made at define, allocated at start (capacity read fresh), freed at stop; live migration, live scaling and a memory snapshot refused with the reason', async () => {
    const made = await h0.define(spec('i-2-20-gpu', { group: K1, vgpuType: 'GRID K140Q' }));
    const rec = await admin.call<{ VGPUs: string[] }>('VM.get_record', made.ref);
    expect(rec.VGPUs).toHaveLength(1);
    await h0.start(made.ref);
    expect((await cap(h0, K1, 'GRID K140Q'))?.remainingCapacity).toBe(15);
    // Homogeneous pGPUs: the pGPU holding the K140Q takes no K100 any more (8 fewer).
    expect((await cap(h0, K1, 'GRID K100'))?.remainingCapacity).toBe(24);
    const migrate = await h0.migration!.prepare({ vm: made.ref, spec: spec('x'), live: true }).catch((e: unknown) => e);
    expect(migrate).toMatchObject({ category: 'unsupported', message: expect.stringMatching(/^live migration is not supported for a VM with a GPU \(GRID K140Q\).*cold migration/) });
    expect(await h0.scale(made.ref, { cpuNumber: 2 }, true).catch((e: unknown) => e)).toMatchObject({ category: 'unsupported', message: expect.stringMatching(/^scaling while running is not supported for a VM with a GPU/) });
    expect(await h0.snapshots!.create(made.ref, { name: 's', withMemory: true }).catch((e: unknown) => e)).toMatchObject({ category: 'unsupported' });
    expect(await h0.powerState(made.ref)).toBe('Running');
    await h0.stop(made.ref, { forced: true });
    expect((await cap(h0, K1, 'GRID K140Q'))?.remainingCapacity).toBe(16);
    await h0.destroy(made.ref, { removeDisks: 'all' });
  });

  it('a host without room for the type: start refused as insufficient capacity, the VM left halted', async () => {
    const full: string[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await h0.define(spec(`i-2-3${i}-pt`, { group: K1, vgpuType: 'passthrough' }));
      await h0.start(m.ref);
      full.push(m.ref);
    }
    expect((await cap(h0, K1, 'passthrough'))?.remainingCapacity).toBe(0);
    const extra = await h0.define(spec('i-2-39-pt', { group: K1, vgpuType: 'passthrough' }));
    const e = await h0.start(extra.ref).catch((x: unknown) => x);
    expect(e).toMatchObject({ category: 'insufficient-capacity', message: expect.stringContaining('VM_REQUIRES_GPU') });
    expect(await h0.powerState(extra.ref)).toBe('Stopped');
    for (const r of [...full, extra.ref]) await h0.destroy(r, { removeDisks: 'all' });
    expect((await cap(h0, K1, 'passthrough'))?.remainingCapacity).toBe(4);
  });

  it('offline: a change to no GPU removes the vGPU (R69); a cold move starts it on another host of the group (R70)', async () => {
    const made = await h0.define(spec('i-2-40-cold', { group: K1, vgpuType: 'GRID K140Q' }));
    await h0.start(made.ref);
    await h0.stop(made.ref, { forced: true });
    // Cold migration: defined on the other host (its home moves), started there; both hosts' capacity follow.
    const moved = await h1.define({ ...spec('i-2-40-cold', { group: K1, vgpuType: 'GRID K140Q' }), ref: made.ref });
    expect(moved.ref).toBe(made.ref);
    await h1.start(made.ref);
    expect(await h0.powerState(made.ref)).toBe('Missing');
    expect((await cap(h1, K1, 'GRID K140Q'))?.remainingCapacity).toBe(15);
    expect((await cap(h0, K1, 'GRID K140Q'))?.remainingCapacity).toBe(16);
    await h1.stop(made.ref, { forced: true });
    await h1.define({ ...spec('i-2-40-cold'), ref: made.ref });
    expect((await admin.call<{ VGPUs: string[] }>('VM.get_record', made.ref)).VGPUs).toEqual([]);
    await h1.start(made.ref);
    expect((await cap(h1, K1, 'GRID K140Q'))?.remainingCapacity).toBe(16);
    await h1.destroy(made.ref, { removeDisks: 'all' });
  });
});
