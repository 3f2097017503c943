/**
 * §2.3, §2.4, §6.8 and §6.11 of xenapi.md: the GRID K1/K2 data model, every golden capacity
 * case of test_pgpu_helpers.ml and test_pgpu.ml (set up by real starts, so allocation is
 * exercised too), the full K1 host scenario (depth-first 4+4+4+4, the 17th refused, then
 * breadth-first 1-1-1-1/2-2-2-2, homogeneity), host ranking, VGPU.create/destroy, PGPU admin,
 * GPU_group create/destroy and the migration guards with the cold path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf, Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';
import type { Board, Fixture } from './fixture.js';

type Rec = Record<string, unknown>;
const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const K2 = 'Group of NVIDIA Corporation GK104GL [GRID K2] GPUs';

class Pool {
  sim!: RunningSim;
  s!: Session;
  hosts: string[] = [];
  private n = 0;
  async start(f: Fixture): Promise<this> {
    this.sim = await startSimulator({ http: true, password: 'pw', taskDelayMs: 5, vms: [{ name: 'base', memoryMiB: 512 }], ...f });
    this.s = await Session.login(this.sim.info().url, 'root', 'pw');
    this.hosts = this.sim.sim.store.all('host').map((h) => h.ref);
    return this;
  }
  stop(): Promise<void> {
    return this.sim.stop();
  }
  async type(model: string): Promise<string> {
    const all = await this.s.call<Record<string, Rec>>('VGPU_type.get_all_records');
    return Object.entries(all).find(([, r]) => r['model_name'] === model)![0];
  }
  async group(name: string): Promise<string> {
    return (await this.s.call<string[]>('GPU_group.get_by_name_label', name))[0]!;
  }
  /** The host's pGPUs of a group, in pool order. */
  pgpus(host: string, group: string): string[] {
    return this.sim.sim.store.all('PGPU').filter((p) => p.rec['host'] === host && p.rec['GPU_group'] === group).map((p) => p.ref);
  }
  /** A Halted VM with one vGPU of `model` (CloudStack's VGPU.create(vm, group, "0", {}, type)). */
  async vmWith(model: string, group: string): Promise<{ vm: string; vgpu: string }> {
    const vm = await this.s.call<string>('VM.clone', (await this.s.call<string[]>('VM.get_by_name_label', 'base'))[0], `gpu-vm-${++this.n}`);
    const vgpu = await this.s.call<string>('VGPU.create', vm, await this.group(group), '0', {}, await this.type(model));
    return { vm, vgpu };
  }
  /** Starts a vGPU VM on `host` and returns the pGPU it landed on. */
  async place(model: string, group: string, host: string): Promise<{ vm: string; vgpu: string; pgpu: string }> {
    const { vm, vgpu } = await this.vmWith(model, group);
    await this.s.call('VM.start_on', vm, host, false, false);
    return { vm, vgpu, pgpu: await this.s.call<string>('VGPU.get_resident_on', vgpu) };
  }
  cap(pgpu: string, type: string): Promise<number> {
    return this.s.call<number>('PGPU.get_remaining_capacity', pgpu, type);
  }
  async internal(pgpu: string, type: string): Promise<{ capacity: number; error?: string[] }> {
    const res = await fetch(`${this.sim.controlUrl}/_sim/pgpu-capacity`, { method: 'POST', body: JSON.stringify({ pgpu, type }) });
    return (await res.json()) as { capacity: number; error?: string[] };
  }
}

describe('the K1/K2 data model (§2.4, §6.8 fixtures)', () => {
  const p = new Pool();
  beforeAll(() => p.start({ hosts: [{ gpus: ['K1', 'K2'] }, { gpus: ['K1'] }] }));
  afterAll(() => p.stop());

  it('auto-creates one group per PCI id, named as xapi does, depth_first, spanning hosts', async () => {
    const groups = await p.s.call<Record<string, Rec>>('GPU_group.get_all_records');
    expect(Object.values(groups).map((g) => g['name_label']).sort()).toEqual([K2, K1].sort());
    const k1 = groups[await p.group(K1)]!;
    expect(k1).toMatchObject({ GPU_types: ['10de/0ff2'], allocation_algorithm: 'depth_first', VGPUs: [] });
    expect(k1['PGPUs']).toHaveLength(8); // 4 per K1 board, on both hosts
    expect(groups[await p.group(K2)]).toMatchObject({ GPU_types: ['10de/11bf'] });
    expect(groups[await p.group(K2)]!['PGPUs']).toHaveLength(2);
  });

  it('has PCI records per pGPU without vendor_id/device_id (8.x profile), and host.PGPUs/PCIs', async () => {
    const h = p.hosts[0]!;
    expect(await p.s.call('host.get_PGPUs', h)).toHaveLength(6);
    const pci = await p.s.call<Rec>('PCI.get_record', await p.s.call('PGPU.get_PCI', p.pgpus(h, await p.group(K1))[0]));
    expect(pci).toMatchObject({ vendor_name: 'NVIDIA Corporation', device_name: 'GK107GL [GRID K1]', class_name: 'VGA compatible controller', host: h });
    expect(pci['pci_id']).toMatch(/^0000:[0-9a-f]{2}:00\.0$/);
    expect(pci).not.toHaveProperty('vendor_id');
    expect((await p.s.call<string[]>('host.get_PCIs', h)).length).toBe(6);
  });

  it('has the §2.4 type table with identifiers, sizes per max, and the passthrough type', async () => {
    const all = Object.values(await p.s.call<Record<string, Rec>>('VGPU_type.get_all_records'));
    const t = (m: string): Rec => all.find((r) => r['model_name'] === m)!;
    expect(t('GRID K100')).toMatchObject({ vendor_name: 'NVIDIA Corporation', framebuffer_size: 268435456, max_heads: 2, max_resolution_x: 1920, max_resolution_y: 1200, implementation: 'nvidia', identifier: '0001:nvidia,0ff2,,0fe7,101e', experimental: false, compatible_types_in_vm: [] });
    expect(t('GRID K140Q')).toMatchObject({ framebuffer_size: 1006632960, max_heads: 2, max_resolution_x: 2560, max_resolution_y: 1600, identifier: '0001:nvidia,0ff2,,0ff7,1037' });
    expect(t('GRID K200')).toMatchObject({ framebuffer_size: 268435456, identifier: '0001:nvidia,11bf,,118d,101d' });
    expect(t('GRID K240Q')).toMatchObject({ framebuffer_size: 1006632960, identifier: '0001:nvidia,11bf,,11b0,101a' });
    expect(t('GRID K260Q')).toMatchObject({ framebuffer_size: 2013265920, max_heads: 4, identifier: '0001:nvidia,11bf,,11b0,101b' });
    expect(t('passthrough')).toMatchObject({ vendor_name: '', framebuffer_size: 0, max_heads: 0, max_resolution_x: 0, max_resolution_y: 0, implementation: 'passthrough', identifier: '0001:passthrough' });
    for (const m of ['GRID K120Q', 'GRID K220Q']) expect(t(m)['framebuffer_size']).toBe(536870912);
  });

  it('gives each pGPU its board\'s supported types, all enabled, with max capacities; groups and types hold the unions', async () => {
    const k1pgpu = await p.s.call<Rec>('PGPU.get_record', p.pgpus(p.hosts[0]!, await p.group(K1))[0]);
    const names = async (refs: string[]): Promise<string[]> => Promise.all(refs.map((r) => p.s.call<string>('VGPU_type.get_model_name', r)));
    expect((await names(k1pgpu['supported_VGPU_types'] as string[])).sort()).toEqual(['GRID K100', 'GRID K120Q', 'GRID K140Q', 'GRID K160Q', 'GRID K180Q', 'passthrough']);
    expect(k1pgpu['enabled_VGPU_types']).toEqual(k1pgpu['supported_VGPU_types']);
    const caps = k1pgpu['supported_VGPU_max_capacities'] as Record<string, number>;
    expect(caps[await p.type('GRID K100')]).toBe(8);
    expect(caps[await p.type('GRID K120Q')]).toBe(8);
    expect(caps[await p.type('GRID K140Q')]).toBe(4);
    expect(caps[await p.type('GRID K160Q')]).toBe(2);
    expect(caps[await p.type('GRID K180Q')]).toBe(1);
    expect(caps[await p.type('passthrough')]).toBe(1);
    const k2pgpu = await p.s.call<Rec>('PGPU.get_record', p.pgpus(p.hosts[0]!, await p.group(K2))[0]);
    const k2caps = k2pgpu['supported_VGPU_max_capacities'] as Record<string, number>;
    expect([k2caps[await p.type('GRID K200')], k2caps[await p.type('GRID K220Q')], k2caps[await p.type('GRID K240Q')], k2caps[await p.type('GRID K260Q')], k2caps[await p.type('GRID K280Q')]]).toEqual([8, 8, 4, 2, 1]);
    const k1group = await p.s.call<Rec>('GPU_group.get_record', await p.group(K1));
    expect((k1group['supported_VGPU_types'] as string[]).sort()).toEqual((k1pgpu['supported_VGPU_types'] as string[]).sort());
    const pt = await p.s.call<Rec>('VGPU_type.get_record', await p.type('passthrough'));
    expect(pt['supported_on_PGPUs']).toHaveLength(10);
    expect((pt['supported_on_GPU_groups'] as string[]).sort()).toEqual([await p.group(K1), await p.group(K2)].sort());
    const k100 = await p.s.call<Rec>('VGPU_type.get_record', await p.type('GRID K100'));
    expect(k100['enabled_on_GPU_groups']).toEqual([await p.group(K1)]);
    expect(k100['enabled_on_PGPUs']).toHaveLength(8);
  });

  it('shows vendor_id/device_id in the newer-xapi profile', async () => {
    const q = await new Pool().start({ hosts: [{ gpus: ['K2'] }], pciIds: true });
    try {
      const pci = await q.s.call<Rec>('PCI.get_record', await q.s.call('PGPU.get_PCI', q.pgpus(q.hosts[0]!, await q.group(K2))[0]));
      expect(pci).toMatchObject({ vendor_id: '10de', device_id: '11bf' });
    } finally {
      await q.stop();
    }
  });
});

describe('golden capacity cases (test_pgpu_helpers.ml, test_pgpu.ml)', () => {
  const p = new Pool();
  // One host per case, each with a K1 and a K2 board, so every case starts from empty pGPUs.
  beforeAll(() => p.start({ hosts: Array.from({ length: 9 }, () => ({ gpus: ['K1', 'K2'] as Board[] })) }));
  afterAll(() => p.stop());

  it('empty K1: K100=8, K140Q=4, passthrough=1; empty K2: K200=8, K240Q=4, K260Q=2, passthrough=1', async () => {
    const k1 = p.pgpus(p.hosts[0]!, await p.group(K1))[0]!;
    const k2 = p.pgpus(p.hosts[0]!, await p.group(K2))[0]!;
    expect([await p.cap(k1, await p.type('GRID K100')), await p.cap(k1, await p.type('GRID K140Q')), await p.cap(k1, await p.type('passthrough'))]).toEqual([8, 4, 1]);
    expect([await p.cap(k2, await p.type('GRID K200')), await p.cap(k2, await p.type('GRID K240Q')), await p.cap(k2, await p.type('GRID K260Q')), await p.cap(k2, await p.type('passthrough'))]).toEqual([8, 4, 2, 1]);
  });

  it('a K2 pGPU reports 0 for K100 and K140Q (unsupported: VGPU_TYPE_NOT_SUPPORTED inside)', async () => {
    const k2 = p.pgpus(p.hosts[0]!, await p.group(K2))[0]!;
    expect(await p.cap(k2, await p.type('GRID K100'))).toBe(0);
    expect(await p.cap(k2, await p.type('GRID K140Q'))).toBe(0);
    expect((await p.internal(k2, await p.type('GRID K100'))).error?.[0]).toBe('VGPU_TYPE_NOT_SUPPORTED');
    const supported = await p.s.call<string[]>('PGPU.get_supported_VGPU_types', k2);
    expect((await p.internal(k2, await p.type('GRID K140Q'))).error).toEqual(['VGPU_TYPE_NOT_SUPPORTED', await p.type('GRID K140Q'), ...supported]);
  });

  const cases: Array<[string, string[], string, string, number]> = [
    // [board group, already on the pGPU, asking for, -, capacity]
    ['K1', ['passthrough'], 'GRID K100', '', 0],
    ['K1', ['GRID K100'], 'GRID K140Q', '', 0],
    ['K1', ['GRID K100', 'GRID K100'], 'GRID K100', '', 6],
    ['K1', ['GRID K140Q', 'GRID K140Q'], 'GRID K140Q', '', 2],
    ['K2', ['GRID K200'], 'GRID K200', '', 7],
    ['K2', ['GRID K240Q', 'GRID K240Q', 'GRID K240Q'], 'GRID K240Q', '', 1],
    ['K2', ['GRID K260Q'], 'GRID K260Q', '', 1],
    ['K2', ['passthrough'], 'passthrough', '', 0],
  ];
  cases.forEach(([board, held, asked, , expected], i) => {
    it(`a pGPU holding ${held.join(' + ')} has ${expected} for ${asked}`, async () => {
      const host = p.hosts[i + 1]!;
      const placed = [];
      for (const m of held) placed.push(await p.place(m, board === 'K1' ? K1 : K2, host));
      // Depth-first put them all on one pGPU.
      expect(new Set(placed.map((x) => x.pgpu)).size).toBe(1);
      expect(await p.cap(placed[0]!.pgpu, await p.type(asked))).toBe(expected);
    });
  });

  it('two resident K260Q: the pGPU has 0, PGPU_INSUFFICIENT_CAPACITY_FOR_VGPU [pgpu, type] inside', async () => {
    const host = p.hosts[7]!; // already holds one K260Q (the case above)
    const { pgpu } = await p.place('GRID K260Q', K2, host);
    const t = await p.type('GRID K260Q');
    expect(await p.s.call('PGPU.get_resident_VGPUs', pgpu)).toHaveLength(2);
    expect(await p.cap(pgpu, t)).toBe(0);
    expect(await p.internal(pgpu, t)).toEqual({ capacity: 0, error: ['PGPU_INSUFFICIENT_CAPACITY_FOR_VGPU', pgpu, t] });
  });

  it('a mixed pGPU says why: VGPU_TYPE_NOT_COMPATIBLE_WITH_RUNNING_TYPE [pgpu, type, running types]', async () => {
    const host = p.hosts[2]!; // one K100 resident
    const k100 = await p.type('GRID K100');
    const pgpu = p.pgpus(host, await p.group(K1)).find((x) => p.sim.sim.store.rec('PGPU', x)['resident_VGPUs'] instanceof Array && (p.sim.sim.store.rec('PGPU', x)['resident_VGPUs'] as string[]).length > 0)!;
    const k140q = await p.type('GRID K140Q');
    expect((await p.internal(pgpu, k140q)).error).toEqual(['VGPU_TYPE_NOT_COMPATIBLE_WITH_RUNNING_TYPE', pgpu, k140q, k100]);
  });

  it('GPU_group.get_remaining_capacity sums its pGPUs (per type) and never raises', async () => {
    const host0Group = await p.group(K1);
    // 9 hosts × 4 K1 pGPUs × 4 K140Q, less what the cases hold (cases 1 and 2 block one pGPU each, case 4 holds 2).
    const total = await p.s.call<number>('GPU_group.get_remaining_capacity', host0Group, await p.type('GRID K140Q'));
    expect(total).toBe(9 * 16 - 4 - 4 - 4 - 2);
    expect(await p.s.call('GPU_group.get_remaining_capacity', host0Group, 'OpaqueRef:NULL')).toBe(0);
    expect(await p.s.call('PGPU.get_remaining_capacity', p.pgpus(p.hosts[0]!, host0Group)[0], 'OpaqueRef:NULL')).toBe(0);
    const empty = await p.s.call<string>('GPU_group.create', 'empty', '', {});
    expect(await p.s.call('GPU_group.get_remaining_capacity', empty, await p.type('GRID K100'))).toBe(0);
    await p.s.call('GPU_group.destroy', empty);
  });
});

describe('the full K1 host scenario (§6.11 item 4)', () => {
  const p = new Pool();
  beforeAll(() => p.start({ hosts: [{ gpus: ['K1'] }] }));
  afterAll(() => p.stop());

  it('K140Q only, depth_first: 16 VMs fill pGPU after pGPU (4+4+4+4); the 17th is NO_HOSTS_AVAILABLE, or VM_REQUIRES_VGPU with start_on', async () => {
    const group = await p.group(K1);
    const k140q = await p.type('GRID K140Q');
    const pgpus = p.pgpus(p.hosts[0]!, group);
    for (const pg of pgpus) await p.s.call('PGPU.set_enabled_VGPU_types', pg, [k140q]);
    expect(await p.s.call('GPU_group.get_enabled_VGPU_types', group)).toEqual([k140q]);
    const order: number[] = [];
    const vms: string[] = [];
    for (let i = 0; i < 16; i++) {
      const { vm, vgpu } = await p.vmWith('GRID K140Q', K1);
      await p.s.call('VM.start', vm, false, false);
      order.push(pgpus.indexOf(await p.s.call<string>('VGPU.get_resident_on', vgpu)));
      vms.push(vm);
    }
    expect(order).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    const { vm } = await p.vmWith('GRID K140Q', K1);
    expect(await failureOf(p.s.call('VM.start', vm, false, false))).toEqual(['NO_HOSTS_AVAILABLE']);
    expect(await failureOf(p.s.call('VM.start_on', vm, p.hosts[0], false, false))).toEqual(['VM_REQUIRES_VGPU', vm, group, k140q]);
    expect((await p.s.call<Rec>('VM.get_record', vm))['power_state']).toBe('Halted');
    for (const v of vms) await p.s.call('VM.hard_shutdown', v);
    expect(await p.s.call('GPU_group.get_remaining_capacity', group, k140q)).toBe(16);
  });

  it('breadth_first spreads 1-1-1-1 and then 2-2-2-2; a K100 cannot join a pGPU holding K140Q', async () => {
    const group = await p.group(K1);
    const pgpus = p.pgpus(p.hosts[0]!, group);
    await p.s.call('GPU_group.set_allocation_algorithm', group, 'breadth_first');
    const order: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { vm, vgpu } = await p.vmWith('GRID K140Q', K1);
      await p.s.call('VM.start', vm, false, false);
      order.push(pgpus.indexOf(await p.s.call<string>('VGPU.get_resident_on', vgpu)));
    }
    expect(order).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const k100 = await p.type('GRID K100');
    for (const pg of pgpus) await p.s.call('PGPU.add_enabled_VGPU_types', pg, k100);
    for (const pg of pgpus) expect(await p.cap(pg, k100)).toBe(0);
    const { vm } = await p.vmWith('GRID K100', K1);
    expect(await failureOf(p.s.call('VM.start', vm, false, false))).toEqual(['NO_HOSTS_AVAILABLE']);
    expect(await failureOf(p.s.call('GPU_group.set_allocation_algorithm', group, 'random'))).toEqual(['INVALID_VALUE', 'allocation_algorithm', 'random']);
  });
});

describe('placement across hosts, VGPU objects, PGPU admin, migration guards (§2.3, §6.8)', () => {
  const p = new Pool();
  beforeAll(() => p.start({ hosts: [{ gpus: ['K1'] }, { gpus: ['K1'] }, {}] }));
  afterAll(() => p.stop());

  it('ranks hosts by the group\'s remaining capacity: depth_first the fuller host, breadth_first the emptier', async () => {
    const [h1, h2] = p.hosts as [string, string];
    const first = await p.place('GRID K140Q', K1, h2);
    const a = await p.vmWith('GRID K140Q', K1);
    await p.s.call('VM.start', a.vm, false, false);
    expect(await p.s.call('VM.get_resident_on', a.vm)).toBe(h2);
    await p.s.call('GPU_group.set_allocation_algorithm', await p.group(K1), 'breadth_first');
    const b = await p.vmWith('GRID K140Q', K1);
    await p.s.call('VM.start', b.vm, false, false);
    expect(await p.s.call('VM.get_resident_on', b.vm)).toBe(h1);
    await p.s.call('GPU_group.set_allocation_algorithm', await p.group(K1), 'depth_first');
    for (const vm of [first.vm, a.vm, b.vm]) await p.s.call('VM.hard_shutdown', vm);
  });

  it('VGPU.create reserves nothing and updates VM/group/type lists; start attaches; shutdown frees', async () => {
    const group = await p.group(K1);
    const t = await p.type('GRID K100');
    const before = await p.s.call<number>('GPU_group.get_remaining_capacity', group, t);
    const { vm, vgpu } = await p.vmWith('GRID K100', K1);
    expect(await p.s.call<Rec>('VGPU.get_record', vgpu)).toMatchObject({ VM: vm, GPU_group: group, type: t, device: '0', currently_attached: false, resident_on: 'OpaqueRef:NULL', scheduled_to_be_resident_on: 'OpaqueRef:NULL' });
    expect(await p.s.call('VM.get_VGPUs', vm)).toEqual([vgpu]);
    expect(await p.s.call('GPU_group.get_VGPUs', group)).toContain(vgpu);
    expect(await p.s.call('VGPU_type.get_VGPUs', t)).toContain(vgpu);
    expect(await p.s.call('GPU_group.get_remaining_capacity', group, t)).toBe(before);
    await p.s.call('VM.start_on', vm, p.hosts[0], false, false);
    const on = await p.s.call<Rec>('VGPU.get_record', vgpu);
    expect(on).toMatchObject({ currently_attached: true, scheduled_to_be_resident_on: 'OpaqueRef:NULL' });
    expect(await p.s.call('PGPU.get_resident_VGPUs', on['resident_on'])).toEqual([vgpu]);
    expect(await p.s.call('GPU_group.get_remaining_capacity', group, t)).toBe(before - 1);
    expect(await failureOf(p.s.call('VGPU.destroy', vgpu))).toEqual(['OPERATION_NOT_ALLOWED', 'vGPU currently attached to a running VM']);
    await p.s.call('VM.clean_shutdown', vm);
    expect(await p.s.call<Rec>('VGPU.get_record', vgpu)).toMatchObject({ currently_attached: false, resident_on: 'OpaqueRef:NULL' });
    expect(await p.s.call('PGPU.get_resident_VGPUs', on['resident_on'])).toEqual([]);
    expect(await p.s.call('GPU_group.get_remaining_capacity', group, t)).toBe(before);
    await p.s.call('VGPU.destroy', vgpu);
    expect(await p.s.call('VM.get_VGPUs', vm)).toEqual([]);
  });

  it('VGPU.create refuses a running VM, a bad type, a second vGPU, a bad device; a NULL type is passthrough', async () => {
    const group = await p.group(K1);
    const { vm } = await p.vmWith('GRID K100', K1);
    expect(await failureOf(p.s.call('VGPU.create', vm, group, '0', {}, await p.type('GRID K100')))).toEqual(['VGPU_TYPE_NOT_COMPATIBLE', await p.type('GRID K100')]);
    const other = await p.s.call<string>('VM.clone', (await p.s.call<string[]>('VM.get_by_name_label', 'base'))[0], 'plain');
    expect(await failureOf(p.s.call('VGPU.create', other, group, '0', {}, 'OpaqueRef:bogus'))).toEqual(['INVALID_VALUE', 'type', 'OpaqueRef:bogus']);
    expect(await failureOf(p.s.call('VGPU.create', other, group, 'x', {}, await p.type('GRID K100')))).toEqual(['INVALID_DEVICE', 'x']);
    const pt = await p.s.call<string>('VGPU.create', other, group);
    expect(await p.s.call('VGPU.get_type', pt)).toBe(await p.type('passthrough'));
    await p.s.call('VM.start_on', other, p.hosts[0], false, false);
    const pgpu = await p.s.call<string>('VGPU.get_resident_on', pt);
    expect(await p.s.call('VM.get_attached_PCIs', other)).toEqual([await p.s.call('PGPU.get_PCI', pgpu)]);
    expect(await p.cap(pgpu, await p.type('passthrough'))).toBe(0);
    expect(await p.cap(pgpu, await p.type('GRID K100'))).toBe(0);
    const running = await p.s.call<string>('VM.clone', (await p.s.call<string[]>('VM.get_by_name_label', 'base'))[0], 'r');
    await p.s.call('VM.start_on', running, p.hosts[2], false, false);
    expect(await failureOf(p.s.call('VGPU.create', running, group, '0', {}, await p.type('GRID K100')))).toEqual(['VM_BAD_POWER_STATE', running, 'halted', 'running']);
    await p.s.call('VM.hard_shutdown', other);
    expect(await p.s.call('VM.get_attached_PCIs', other)).toEqual([]);
    expect(await p.cap(pgpu, await p.type('passthrough'))).toBe(1);
    await p.s.call('VM.hard_shutdown', running);
  });

  it('start_on a host without the group is VM_REQUIRES_VGPU / VM_REQUIRES_GPU for passthrough', async () => {
    const group = await p.group(K1);
    const { vm } = await p.vmWith('GRID K140Q', K1);
    expect(await failureOf(p.s.call('VM.start_on', vm, p.hosts[2], false, false))).toEqual(['VM_REQUIRES_VGPU', vm, group, await p.type('GRID K140Q')]);
    expect(await failureOf(p.s.call('VM.assert_can_boot_here', vm, p.hosts[2]))).toEqual(['VM_REQUIRES_VGPU', vm, group, await p.type('GRID K140Q')]);
    const pt = await p.s.call<string>('VM.clone', (await p.s.call<string[]>('VM.get_by_name_label', 'base'))[0], 'pt');
    await p.s.call('VGPU.create', pt, group, '0', {}, await p.type('passthrough'));
    expect(await failureOf(p.s.call('VM.start_on', pt, p.hosts[2], false, false))).toEqual(['VM_REQUIRES_GPU', pt, group]);
    expect((await p.s.call<string[]>('VM.get_possible_hosts', pt)).sort()).toEqual([p.hosts[0], p.hosts[1]].sort());
  });

  it('PGPU admin: unsupported add, in-use remove, disabled type at start_on; the group\'s enabled set and event.from follow', async () => {
    const [h1] = p.hosts as [string];
    const group = await p.group(K1);
    const k100 = await p.type('GRID K100');
    const k200 = await p.type('GRID K200').catch(() => 'none');
    expect(k200).toBe('none'); // no K2 in this pool
    const pgpus = p.pgpus(h1, group);
    const supported = await p.s.call<string[]>('PGPU.get_supported_VGPU_types', pgpus[0]);
    const kPass = await p.type('passthrough');
    expect(await failureOf(p.s.call('PGPU.add_enabled_VGPU_types', pgpus[0], 'OpaqueRef:none'))).toEqual(['HANDLE_INVALID', 'VGPU_type', 'OpaqueRef:none']);
    const { token } = await p.s.call<{ token: string }>('event.from', ['pgpu', 'gpu_group'], '', 0);
    // Another client disables K100 on every pGPU of host 1: capacity there drops to 0 with VGPU_TYPE_NOT_ENABLED inside.
    for (const pg of pgpus) await p.s.call('PGPU.remove_enabled_VGPU_types', pg, k100);
    const batch = await p.s.call<{ events: Array<{ class: string; ref: string; operation: string }> }>('event.from', ['pgpu', 'gpu_group'], token, 0.1);
    expect(batch.events.filter((e) => e.class === 'pgpu').map((e) => e.ref).sort()).toEqual([...pgpus].sort());
    expect(await p.cap(pgpus[0]!, k100)).toBe(0);
    expect((await p.internal(pgpus[0]!, k100)).error).toEqual(['VGPU_TYPE_NOT_ENABLED', k100, ...supported.filter((t) => t !== k100)]);
    expect(await p.s.call('GPU_group.get_enabled_VGPU_types', group)).toContain(k100); // still enabled on host 2
    const { vm, vgpu } = await p.vmWith('GRID K100', K1);
    expect(await failureOf(p.s.call('VM.start_on', vm, h1, false, false))).toEqual(['VM_REQUIRES_VGPU', vm, group, k100]);
    await p.s.call('VM.start', vm, false, false);
    const pgpu = await p.s.call<string>('VGPU.get_resident_on', vgpu);
    expect(await failureOf(p.s.call('PGPU.remove_enabled_VGPU_types', pgpu, k100))).toEqual(['PGPU_IN_USE_BY_VM', vm]);
    expect(await failureOf(p.s.call('GPU_group.destroy', group))).toEqual(['GPU_GROUP_CONTAINS_VGPU', ...(await p.s.call<string[]>('GPU_group.get_VGPUs', group))]);
    await p.s.call('VM.hard_shutdown', vm);
    for (const pg of pgpus) await p.s.call('PGPU.set_enabled_VGPU_types', pg, supported);
    void kPass;
  });

  it('GPU_group.create/destroy and PGPU.set_GPU_group: moving a pGPU moves its types; a group with pGPUs or vGPUs cannot go', async () => {
    const [h1] = p.hosts as [string];
    const k1 = await p.group(K1);
    const pgpu = p.pgpus(h1, k1)[0]!;
    const g = await p.s.call<string>('GPU_group.create', 'mine', 'a group of one', {});
    expect(await p.s.call<Rec>('GPU_group.get_record', g)).toMatchObject({ name_label: 'mine', PGPUs: [], GPU_types: [], allocation_algorithm: 'depth_first' });
    await p.s.call('PGPU.set_GPU_group', pgpu, g);
    expect(await p.s.call<Rec>('GPU_group.get_record', g)).toMatchObject({ PGPUs: [pgpu], GPU_types: ['10de/0ff2'] });
    expect((await p.s.call<string[]>('GPU_group.get_supported_VGPU_types', g)).length).toBe(6);
    expect(await p.s.call('GPU_group.get_PGPUs', k1)).not.toContain(pgpu);
    expect(await failureOf(p.s.call('GPU_group.destroy', g))).toEqual(['GPU_GROUP_CONTAINS_PGPU', pgpu]);
    // A vGPU VM running on it pins it to its group.
    const vm = await p.s.call<string>('VM.clone', (await p.s.call<string[]>('VM.get_by_name_label', 'base'))[0], 'in mine');
    await p.s.call('VGPU.create', vm, g, '0', {}, await p.type('GRID K180Q'));
    await p.s.call('VM.start_on', vm, h1, false, false);
    expect(await failureOf(p.s.call('PGPU.set_GPU_group', pgpu, k1))).toEqual(['PGPU_IN_USE_BY_VM', vm]);
    await p.s.call('VM.hard_shutdown', vm);
    await p.s.call('VM.destroy', vm);
    await p.s.call('PGPU.set_GPU_group', pgpu, k1);
    await p.s.call('GPU_group.destroy', g);
    expect(await failureOf(p.s.call('GPU_group.get_record', g))).toEqual(['HANDLE_INVALID', 'GPU_group', g]);
    expect(await p.s.call('GPU_group.get_PGPUs', k1)).toContain(pgpu);
  });

  it('migration guards: a running vGPU VM gets VM_HAS_VGPU for pool_migrate, live migrate_send, suspend, checkpoint; cold path shutdown + start_on works', async () => {
    const [h1, h2] = p.hosts as [string, string];
    const group = await p.group(K1);
    const { vm, vgpu } = await p.vmWith('GRID K140Q', K1);
    await p.s.call('VM.start_on', vm, h1, false, false);
    const net = p.sim.sim.store.all('network')[0]!.ref;
    const dest = await p.s.call<Rec>('host.migrate_receive', h2, net, {});
    expect(await failureOf(p.s.call('VM.pool_migrate', vm, h2, { live: 'true' }))).toEqual(['VM_HAS_VGPU', vm]);
    expect(await failureOf(p.s.call('VM.migrate_send', vm, dest, true, {}, {}, {}, {}))).toEqual(['VM_HAS_VGPU', vm]);
    expect(await failureOf(p.s.call('VM.suspend', vm))).toEqual(['VM_HAS_VGPU', vm]);
    expect(await failureOf(p.s.call('VM.checkpoint', vm, 'cp'))).toEqual(['VM_HAS_VGPU', vm]);
    const allowed = await p.s.call<string[]>('VM.get_allowed_operations', vm);
    expect(allowed).not.toContain('pool_migrate');
    expect(allowed).toContain('snapshot');
    // A snapshot copies the VGPU object, unattached.
    const snap = await p.s.call<string>('VM.snapshot', vm, 'with gpu');
    const snapVgpu = (await p.s.call<string[]>('VM.get_VGPUs', snap))[0]!;
    expect(await p.s.call<Rec>('VGPU.get_record', snapVgpu)).toMatchObject({ GPU_group: group, type: await p.type('GRID K140Q'), currently_attached: false, resident_on: 'OpaqueRef:NULL' });
    // The cold path: stop, then start_on the other host in the same group.
    const onH1 = await p.s.call<string>('VGPU.get_resident_on', vgpu);
    await p.s.call('VM.clean_shutdown', vm);
    await p.s.call('VM.start_on', vm, h2, false, false);
    const onH2 = await p.s.call<string>('VGPU.get_resident_on', vgpu);
    expect(await p.s.call('PGPU.get_host', onH2)).toBe(h2);
    expect(await p.cap(onH1, await p.type('GRID K140Q'))).toBe(4);
    await p.s.call('VM.hard_shutdown', vm);
    // Halted: migrate_send is allowed (cold), with a vgpu_map.
    expect(await p.s.call('VM.migrate_send', vm, dest, false, {}, {}, {}, { [vgpu]: group })).toBe(vm);
  });
});
