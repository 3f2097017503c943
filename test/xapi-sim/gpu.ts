/**
 * The GPU model (§2.3, §2.4, §6.8): GRID K1/K2 boards as PCI + PGPU objects, GPU groups made per
 * vendor/device id as xapi's find_or_create does, the VGPU_type table, capacity exactly as
 * xapi_pgpu_helpers.ml computes it (size = 1048576 / max per pGPU, homogeneous pGPUs,
 * passthrough binary), allocation at start, and the PGPU/GPU_group/VGPU messages.
 */
import type { Board, Fixture, Seeded } from './fixture.js';
import { hostFixtures } from './fixture.js';
import type { Sim } from './sim.js';
import { NULL_REF, XapiFailure } from './wire.js';

/** constants.ml pgpu_default_size. */
export const PGPU_SIZE = 1024 * 1024;

interface TypeSpec {
  model_name: string;
  framebuffer_size: number;
  max_heads: number;
  max_resolution_x: number;
  max_resolution_y: number;
  maxPerPgpu: number;
  /** NVIDIA ids for identifier: vdev, vsubdev (test_vgpu_common.ml; K120Q/K220Q/K160Q/K180Q/K280Q nominal). */
  vdev: string;
  vsubdev: string;
}

interface BoardSpec {
  deviceName: string;
  deviceId: string;
  pgpus: number;
  types: TypeSpec[];
}

const MB = 1024 * 1024;

/** §2.4. Bold values are xapi's fixtures; K120Q/K220Q framebuffers are nominal, heads of K160Q/K180Q/K280Q unverified. */
export const BOARDS: Record<Board, BoardSpec> = {
  K1: {
    deviceName: 'GK107GL [GRID K1]', deviceId: '0ff2', pgpus: 4,
    types: [
      { model_name: 'GRID K100', framebuffer_size: 268435456, max_heads: 2, max_resolution_x: 1920, max_resolution_y: 1200, maxPerPgpu: 8, vdev: '0fe7', vsubdev: '101e' },
      { model_name: 'GRID K120Q', framebuffer_size: 536870912, max_heads: 2, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 8, vdev: '0fe7', vsubdev: '101f' },
      { model_name: 'GRID K140Q', framebuffer_size: 1006632960, max_heads: 2, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 4, vdev: '0ff7', vsubdev: '1037' },
      { model_name: 'GRID K160Q', framebuffer_size: 2048 * MB, max_heads: 4, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 2, vdev: '0ff7', vsubdev: '1038' },
      { model_name: 'GRID K180Q', framebuffer_size: 4096 * MB, max_heads: 4, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 1, vdev: '0ff7', vsubdev: '1039' },
    ],
  },
  K2: {
    deviceName: 'GK104GL [GRID K2]', deviceId: '11bf', pgpus: 2,
    types: [
      { model_name: 'GRID K200', framebuffer_size: 268435456, max_heads: 2, max_resolution_x: 1920, max_resolution_y: 1200, maxPerPgpu: 8, vdev: '118d', vsubdev: '101d' },
      { model_name: 'GRID K220Q', framebuffer_size: 536870912, max_heads: 2, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 8, vdev: '118d', vsubdev: '1020' },
      { model_name: 'GRID K240Q', framebuffer_size: 1006632960, max_heads: 2, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 4, vdev: '11b0', vsubdev: '101a' },
      { model_name: 'GRID K260Q', framebuffer_size: 2013265920, max_heads: 4, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 2, vdev: '11b0', vsubdev: '101b' },
      { model_name: 'GRID K280Q', framebuffer_size: 4096 * MB, max_heads: 4, max_resolution_x: 2560, max_resolution_y: 1600, maxPerPgpu: 1, vdev: '11b0', vsubdev: '101c' },
    ],
  },
};

const NVIDIA = { vendor_name: 'NVIDIA Corporation', vendor_id: '10de' };

export function groupName(board: Board): string {
  return `Group of ${NVIDIA.vendor_name} ${BOARDS[board].deviceName} GPUs`;
}

// ---- the type table and boards ----------------------------------------------------------------

function findOrCreateType(sim: Sim, spec: TypeSpec | 'passthrough', pdev: string): string {
  const { store } = sim;
  const model = spec === 'passthrough' ? 'passthrough' : spec.model_name;
  const found = store.all('VGPU_type').find((r) => r.rec['model_name'] === model);
  if (found) return found.ref;
  if (spec === 'passthrough') {
    // xapi_vgpu_type.ml passthrough_gpu: no size, whole-pGPU, compatible with nothing on a pGPU.
    return store.create('VGPU_type', { vendor_name: '', model_name: 'passthrough', framebuffer_size: 0, max_heads: 0, max_resolution_x: 0, max_resolution_y: 0, implementation: 'passthrough', identifier: '0001:passthrough', experimental: false },
      { size: 0, maxPerPgpu: 1, compatibleOnPgpu: [] });
  }
  const ref = store.create('VGPU_type', {
    vendor_name: NVIDIA.vendor_name, model_name: spec.model_name, framebuffer_size: spec.framebuffer_size, max_heads: spec.max_heads,
    max_resolution_x: spec.max_resolution_x, max_resolution_y: spec.max_resolution_y, implementation: 'nvidia',
    identifier: `0001:nvidia,${pdev},,${spec.vdev},${spec.vsubdev}`, experimental: false, compatible_types_in_vm: [],
  }, { size: PGPU_SIZE / spec.maxPerPgpu, maxPerPgpu: spec.maxPerPgpu, compatibleOnPgpu: [] as string[] });
  // K1/K2 pGPUs are homogeneous: each type is compatible on a pGPU with itself only.
  (store.find(ref)!.hidden['compatibleOnPgpu'] as string[]).push(ref);
  return ref;
}

function findOrCreateGroup(sim: Sim, board: Board): string {
  const { store } = sim;
  const types = `${NVIDIA.vendor_id}/${BOARDS[board].deviceId}`;
  const found = store.all('GPU_group').find((r) => (r.rec['GPU_types'] as string[]).includes(types));
  if (found) return found.ref;
  return store.create('GPU_group', { name_label: groupName(board), name_description: '', GPU_types: [types], allocation_algorithm: 'depth_first' });
}

let busCounter = 0x81;

export function addBoard(sim: Sim, host: string, board: Board, pciIds: boolean): string[] {
  const { store } = sim;
  const spec = BOARDS[board];
  const types = [...spec.types.map((t) => findOrCreateType(sim, t, spec.deviceId)), findOrCreateType(sim, 'passthrough', spec.deviceId)];
  const group = findOrCreateGroup(sim, board);
  const pgpus: string[] = [];
  for (let i = 0; i < spec.pgpus; i++) {
    const bus = (busCounter++).toString(16).padStart(2, '0');
    const pci = store.create('PCI', {
      class_name: 'VGA compatible controller', vendor_name: NVIDIA.vendor_name, device_name: spec.deviceName, host, pci_id: `0000:${bus}:00.0`,
      subsystem_vendor_name: NVIDIA.vendor_name, subsystem_device_name: spec.deviceName, driver_name: 'nvidia',
      // A newer xapi shows the ids; 8.x hosts (the default) do not (§2.2).
      ...(pciIds ? { class_id: '0300', vendor_id: NVIDIA.vendor_id, device_id: spec.deviceId, subsystem_vendor_id: NVIDIA.vendor_id, subsystem_device_id: '1012' } : {}),
    }, { attachedTo: NULL_REF, scheduledTo: NULL_REF });
    store.addToSet('host', host, 'PCIs', pci);
    const capacities = Object.fromEntries(types.map((t) => [t, store.find(t)!.hidden['maxPerPgpu'] as number]));
    const pgpu = store.create('PGPU', {
      PCI: pci, GPU_group: group, host, supported_VGPU_types: types, enabled_VGPU_types: types, supported_VGPU_max_capacities: capacities,
      dom0_access: 'enabled', is_system_display_device: false, compatibility_metadata: {},
    }, { size: PGPU_SIZE });
    store.addToSet('host', host, 'PGPUs', pgpu);
    pgpus.push(pgpu);
  }
  refreshGpuSets(sim);
  return pgpus;
}

/** Keeps every derived GPU set equal to its definition (§6.3 reverse references, §6.8 unions). */
export function refreshGpuSets(sim: Sim): void {
  const { store } = sim;
  const pgpus = store.all('PGPU');
  const vgpus = store.all('VGPU');
  for (const g of store.all('GPU_group')) {
    const mine = pgpus.filter((p) => p.rec['GPU_group'] === g.ref);
    const union = (field: string): string[] => [...new Set(mine.flatMap((p) => p.rec[field] as string[]))];
    store.update('GPU_group', g.ref, {
      PGPUs: mine.map((p) => p.ref), VGPUs: vgpus.filter((v) => v.rec['GPU_group'] === g.ref).map((v) => v.ref),
      supported_VGPU_types: union('supported_VGPU_types'), enabled_VGPU_types: union('enabled_VGPU_types'),
    });
  }
  const groups = store.all('GPU_group');
  for (const t of store.all('VGPU_type')) {
    const on = (field: string): string[] => pgpus.filter((p) => (p.rec[field] as string[]).includes(t.ref)).map((p) => p.ref);
    const onGroups = (field: string): string[] => groups.filter((g) => (g.rec[field] as string[]).includes(t.ref)).map((g) => g.ref);
    store.update('VGPU_type', t.ref, {
      supported_on_PGPUs: on('supported_VGPU_types'), enabled_on_PGPUs: on('enabled_VGPU_types'), VGPUs: vgpus.filter((v) => v.rec['type'] === t.ref).map((v) => v.ref),
      supported_on_GPU_groups: onGroups('supported_VGPU_types'), enabled_on_GPU_groups: onGroups('enabled_VGPU_types'),
    });
  }
  for (const p of pgpus) {
    store.update('PGPU', p.ref, { resident_VGPUs: vgpus.filter((v) => v.rec['resident_on'] === p.ref).map((v) => v.ref) });
  }
}

export function seedGpus(sim: Sim, seeded: Seeded, fixture: Fixture): void {
  hostFixtures(fixture).forEach((hf, i) => {
    for (const board of hf.gpus ?? []) addBoard(sim, seeded.hosts[i]!, board, fixture.pciIds ?? false);
  });
}

// ---- capacity (xapi_pgpu_helpers.ml) ------------------------------------------------------------

function typeHidden(sim: Sim, type: string): { size: number; compatibleOnPgpu: string[] } {
  return sim.store.find(type)!.hidden as { size: number; compatibleOnPgpu: string[] };
}

/** The VGPUs resident on or scheduled to a pGPU. */
function occupants(sim: Sim, pgpu: string): string[] {
  return sim.store.all('VGPU').filter((v) => v.rec['resident_on'] === pgpu || v.rec['scheduled_to_be_resident_on'] === pgpu).map((v) => v.ref);
}

/** get_remaining_capacity_internal: the capacity, or the error that explains a 0. */
export function remainingCapacityInternal(sim: Sim, pgpu: string, type: string): number {
  const { store } = sim;
  const p = store.rec('PGPU', pgpu);
  store.row('VGPU_type', type);
  const supported = p['supported_VGPU_types'] as string[];
  const enabled = p['enabled_VGPU_types'] as string[];
  if (!supported.includes(type)) throw new XapiFailure('VGPU_TYPE_NOT_SUPPORTED', [type, ...supported]);
  if (!enabled.includes(type)) throw new XapiFailure('VGPU_TYPE_NOT_ENABLED', [type, ...enabled]);
  const here = occupants(sim, pgpu);
  const runningTypes = [...new Set(here.map((v) => store.rec('VGPU', v)['type'] as string))];
  if (runningTypes.some((rt) => !typeHidden(sim, rt).compatibleOnPgpu.includes(type))) {
    throw new XapiFailure('VGPU_TYPE_NOT_COMPATIBLE_WITH_RUNNING_TYPE', [pgpu, type, runningTypes.join(';')]);
  }
  const { size } = typeHidden(sim, type);
  let capacity: number;
  if (size === 0) {
    const pci = store.find(p['PCI'] as string);
    const taken = pci ? pci.hidden['attachedTo'] !== NULL_REF || pci.hidden['scheduledTo'] !== NULL_REF : false;
    capacity = taken || here.length > 0 ? 0 : 1;
  } else {
    const used = here.reduce((n, v) => n + typeHidden(sim, store.rec('VGPU', v)['type'] as string).size, 0);
    capacity = Math.floor(((store.find(pgpu)!.hidden['size'] as number) - used) / size);
  }
  if (capacity <= 0) throw new XapiFailure('PGPU_INSUFFICIENT_CAPACITY_FOR_VGPU', [pgpu, type]);
  return capacity;
}

/** The public PGPU.get_remaining_capacity: never raises, 0 on any error. */
export function remainingCapacity(sim: Sim, pgpu: string, type: string): number {
  try {
    return remainingCapacityInternal(sim, pgpu, type);
  } catch {
    return 0;
  }
}

function pgpusOf(sim: Sim, group: string, host?: string): string[] {
  return sim.store.all('PGPU').filter((p) => p.rec['GPU_group'] === group && (host === undefined || p.rec['host'] === host)).map((p) => p.ref);
}

export function groupCapacity(sim: Sim, group: string, type: string, host?: string): number {
  return pgpusOf(sim, group, host).reduce((n, p) => n + remainingCapacity(sim, p, type), 0);
}

/** The VM's vGPUs not yet on a pGPU. */
export function pendingVgpus(sim: Sim, vm: string): string[] {
  return (sim.store.rec('VM', vm)['VGPUs'] as string[]).filter((v) => sim.store.rec('VGPU', v)['resident_on'] === NULL_REF);
}

export function isPassthrough(sim: Sim, type: string): boolean {
  return sim.store.rec('VGPU_type', type)['implementation'] === 'passthrough';
}

/** assert_gpus_available: VM_REQUIRES_VGPU [vm, group, type] / VM_REQUIRES_GPU [vm, group] (vgpuops.ml fail_creation). */
export function assertGpusAvailable(sim: Sim, vm: string, host: string): void {
  for (const v of pendingVgpus(sim, vm)) {
    const r = sim.store.rec('VGPU', v);
    const group = r['GPU_group'] as string;
    const type = r['type'] as string;
    if (groupCapacity(sim, group, type, host) > 0) continue;
    if (isPassthrough(sim, type)) throw new XapiFailure('VM_REQUIRES_GPU', [vm, group]);
    throw new XapiFailure('VM_REQUIRES_VGPU', [vm, group, type]);
  }
}

/** rank_hosts_by_best_vgpu: hosts able to take the VM's first vGPU, grouped by that capacity (§2.3). */
export function rankHostsForVgpu(sim: Sim, vm: string, hosts: string[]): string[][] {
  const pending = pendingVgpus(sim, vm);
  if (pending.length === 0) return [hosts];
  const r = sim.store.rec('VGPU', pending[0]!);
  const group = r['GPU_group'] as string;
  const type = r['type'] as string;
  const depthFirst = sim.store.rec('GPU_group', group)['allocation_algorithm'] === 'depth_first';
  const byCap = new Map<number, string[]>();
  for (const h of hosts) {
    const c = groupCapacity(sim, group, type, h);
    if (c > 0) byCap.set(c, [...(byCap.get(c) ?? []), h]);
  }
  return [...byCap.entries()].sort((a, b) => (depthFirst ? a[0] - b[0] : b[0] - a[0])).map(([, hs]) => hs);
}

/** Picks a pGPU on `host` for each pending vGPU and marks it scheduled (counted by capacity from then on). */
export function scheduleVgpus(sim: Sim, vm: string, host: string): void {
  const { store } = sim;
  for (const v of pendingVgpus(sim, vm)) {
    const r = store.rec('VGPU', v);
    const group = r['GPU_group'] as string;
    const type = r['type'] as string;
    const depthFirst = store.rec('GPU_group', group)['allocation_algorithm'] === 'depth_first';
    const candidates = pgpusOf(sim, group, host).map((p) => ({ p, c: remainingCapacity(sim, p, type) })).filter((x) => x.c > 0);
    if (candidates.length === 0) {
      throw isPassthrough(sim, type) ? new XapiFailure('VM_REQUIRES_GPU', [vm, group]) : new XapiFailure('VM_REQUIRES_VGPU', [vm, group, type]);
    }
    // depth_first fills the fullest pGPU that still has room; breadth_first the emptiest (stable on ties).
    candidates.sort((a, b) => (depthFirst ? a.c - b.c : b.c - a.c));
    const pgpu = candidates[0]!.p;
    store.update('VGPU', v, { scheduled_to_be_resident_on: pgpu });
    if (isPassthrough(sim, type)) store.find(store.rec('PGPU', pgpu)['PCI'] as string)!.hidden['scheduledTo'] = vm;
  }
}

/** Scheduled → resident, attached (the VM is running). */
export function attachVgpus(sim: Sim, vm: string): void {
  const { store } = sim;
  for (const v of store.rec('VM', vm)['VGPUs'] as string[]) {
    const pgpu = store.rec('VGPU', v)['scheduled_to_be_resident_on'] as string;
    if (pgpu === NULL_REF) continue;
    store.update('VGPU', v, { resident_on: pgpu, scheduled_to_be_resident_on: NULL_REF, currently_attached: true });
    const pci = store.rec('PGPU', pgpu)['PCI'] as string;
    if (isPassthrough(sim, store.rec('VGPU', v)['type'] as string)) {
      const row = store.find(pci)!;
      row.hidden['scheduledTo'] = NULL_REF;
      row.hidden['attachedTo'] = vm;
      store.addToSet('VM', vm, 'attached_PCIs', pci);
    }
  }
  refreshGpuSets(sim);
}

/** Frees the VM's pGPUs (shutdown, suspend failure, a cancelled start). */
export function releaseVgpus(sim: Sim, vm: string): void {
  const { store } = sim;
  for (const v of store.rec('VM', vm)['VGPUs'] as string[]) {
    store.update('VGPU', v, { resident_on: NULL_REF, scheduled_to_be_resident_on: NULL_REF, currently_attached: false });
  }
  for (const pci of store.all('PCI')) {
    if (pci.hidden['attachedTo'] === vm || pci.hidden['scheduledTo'] === vm) {
      pci.hidden['attachedTo'] = NULL_REF;
      pci.hidden['scheduledTo'] = NULL_REF;
    }
  }
  store.update('VM', vm, { attached_PCIs: [] });
  refreshGpuSets(sim);
}

/** A new VGPU object (VGPU.create's effect, also used to copy vGPUs into snapshots and clones). */
export function createVgpu(sim: Sim, vm: string, group: string, device: string, type: string, otherConfig: Record<string, string>): string {
  const v = sim.store.create('VGPU', { VM: vm, GPU_group: group, device, type, other_config: otherConfig, currently_attached: false });
  sim.store.addToSet('VM', vm, 'VGPUs', v);
  refreshGpuSets(sim);
  return v;
}

export function destroyVgpu(sim: Sim, v: string): void {
  const vm = sim.store.rec('VGPU', v)['VM'] as string;
  if (sim.store.has('VM', vm)) sim.store.removeFromSet('VM', vm, 'VGPUs', v);
  sim.store.destroy('VGPU', v);
  refreshGpuSets(sim);
}

// ---- messages ---------------------------------------------------------------------------------

export function registerGpu(sim: Sim): void {
  const { api, store } = sim;
  const lower = (s: unknown): string => String(s).toLowerCase();

  api.def('PGPU.get_remaining_capacity', 'self:ref vgpu_type:ref', (_c, [pgpu, type]) => {
    store.row('PGPU', pgpu);
    return store.has('VGPU_type', type) ? remainingCapacity(sim, pgpu as string, type as string) : 0;
  });
  api.def('GPU_group.get_remaining_capacity', 'self:ref vgpu_type:ref', (_c, [group, type]) => {
    store.row('GPU_group', group);
    // xapi_gpu_group.ml: never raises; 0 on any error (no pGPUs, bad type …).
    return store.has('VGPU_type', type) ? groupCapacity(sim, group as string, type as string) : 0;
  });

  api.def('PGPU.add_enabled_VGPU_types', 'self:ref value:ref', (_c, [pgpu, type]) => {
    const p = store.rec('PGPU', pgpu);
    store.row('VGPU_type', type);
    const supported = p['supported_VGPU_types'] as string[];
    if (!supported.includes(type as string)) throw new XapiFailure('VGPU_TYPE_NOT_SUPPORTED', [type as string, ...supported]);
    store.addToSet('PGPU', pgpu as string, 'enabled_VGPU_types', type as string);
    refreshGpuSets(sim);
    return '';
  });
  const assertNotInUse = (pgpu: string, types: string[]): void => {
    const vms = occupants(sim, pgpu).filter((v) => types.includes(store.rec('VGPU', v)['type'] as string)).map((v) => store.rec('VGPU', v)['VM'] as string);
    if (vms.length > 0) throw new XapiFailure('PGPU_IN_USE_BY_VM', vms);
  };
  api.def('PGPU.remove_enabled_VGPU_types', 'self:ref value:ref', (_c, [pgpu, type]) => {
    store.row('PGPU', pgpu);
    store.row('VGPU_type', type);
    assertNotInUse(pgpu as string, [type as string]);
    store.removeFromSet('PGPU', pgpu as string, 'enabled_VGPU_types', type as string);
    refreshGpuSets(sim);
    return '';
  });
  api.def('PGPU.set_enabled_VGPU_types', 'self:ref value:set', (_c, [pgpu, value]) => {
    const p = store.rec('PGPU', pgpu);
    const wanted = (value as unknown[]).map(String);
    const supported = p['supported_VGPU_types'] as string[];
    for (const t of wanted) {
      store.row('VGPU_type', t);
      if (!supported.includes(t)) throw new XapiFailure('VGPU_TYPE_NOT_SUPPORTED', [t, ...supported]);
    }
    assertNotInUse(pgpu as string, (p['enabled_VGPU_types'] as string[]).filter((t) => !wanted.includes(t)));
    store.update('PGPU', pgpu as string, { enabled_VGPU_types: [...new Set(wanted)] });
    refreshGpuSets(sim);
    return '';
  });
  api.def('PGPU.set_GPU_group', 'self:ref value:ref', (_c, [pgpu, group]) => {
    store.row('PGPU', pgpu);
    const g = store.rec('GPU_group', group);
    if (occupants(sim, pgpu as string).length > 0) throw new XapiFailure('PGPU_IN_USE_BY_VM', occupants(sim, pgpu as string).map((v) => store.rec('VGPU', v)['VM'] as string));
    const pci = store.find(store.rec('PGPU', pgpu)['PCI'] as string);
    const types = pci ? `10de/${Object.entries(BOARDS).find(([, b]) => b.deviceName === pci.rec['device_name'])?.[1].deviceId ?? ''}` : '';
    const gt = g['GPU_types'] as string[];
    if (gt.length > 0 && !gt.includes(types)) throw new XapiFailure('PGPU_NOT_COMPATIBLE_WITH_GPU_GROUP', [types, gt.join(',')]);
    if (gt.length === 0) store.update('GPU_group', group as string, { GPU_types: [types] });
    store.update('PGPU', pgpu as string, { GPU_group: group });
    refreshGpuSets(sim);
    return '';
  });
  api.def('PGPU.enable_dom0_access', 'self:ref', (_c, [pgpu]) => {
    const cur = store.rec('PGPU', pgpu)['dom0_access'];
    const next = cur === 'enabled' || cur === 'enable_on_reboot' ? cur : 'enable_on_reboot';
    store.update('PGPU', pgpu as string, { dom0_access: next });
    return next;
  });
  api.def('PGPU.disable_dom0_access', 'self:ref', (_c, [pgpu]) => {
    const cur = store.rec('PGPU', pgpu)['dom0_access'];
    const next = cur === 'disabled' || cur === 'disable_on_reboot' ? cur : 'disable_on_reboot';
    store.update('PGPU', pgpu as string, { dom0_access: next });
    return next;
  });

  api.def('GPU_group.create', 'name_label:string="" name_description:string="" other_config:map={}', (_c, [name, desc, oc]) =>
    store.create('GPU_group', { name_label: name, name_description: desc, other_config: oc, allocation_algorithm: 'depth_first' }));
  api.def('GPU_group.destroy', 'self:ref', (_c, [group]) => {
    const g = store.rec('GPU_group', group);
    if ((g['VGPUs'] as string[]).length > 0) throw new XapiFailure('GPU_GROUP_CONTAINS_VGPU', g['VGPUs'] as string[]);
    if ((g['PGPUs'] as string[]).length > 0) throw new XapiFailure('GPU_GROUP_CONTAINS_PGPU', g['PGPUs'] as string[]);
    store.destroy('GPU_group', group as string);
    refreshGpuSets(sim);
    return '';
  });

  api.def('VGPU.create', 'VM:ref GPU_group:ref device:string="0" other_config:map={} type:ref="OpaqueRef:NULL"', (_c, [vm, group, device, oc, type]) => {
    const r = store.rec('VM', vm);
    store.row('GPU_group', group);
    if (r['power_state'] !== 'Halted' && !r['is_a_snapshot']) throw new XapiFailure('VM_BAD_POWER_STATE', [vm as string, 'halted', lower(r['power_state'])]);
    let t = type as string;
    if (t === NULL_REF) {
      // A NULL type is passthrough, kept for backward compatibility (xapi_vgpu.ml).
      t = store.all('VGPU_type').find((x) => x.rec['implementation'] === 'passthrough')?.ref ?? NULL_REF;
    }
    if (!store.has('VGPU_type', t)) throw new XapiFailure('INVALID_VALUE', ['type', type as string]);
    for (const existing of r['VGPUs'] as string[]) {
      const et = store.rec('VGPU', existing)['type'] as string;
      if (!(store.rec('VGPU_type', et)['compatible_types_in_vm'] as string[]).includes(t)) throw new XapiFailure('VGPU_TYPE_NOT_COMPATIBLE', [t]);
    }
    const dev = String(device);
    if (!/^\d+$/.test(dev) || Number(dev) > 20) throw new XapiFailure('INVALID_DEVICE', [dev]);
    const used = new Set((r['VGPUs'] as string[]).map((v) => store.rec('VGPU', v)['device'] as string));
    let chosen = dev;
    if (used.has(dev)) {
      if (dev !== '0') throw new XapiFailure('DEVICE_ALREADY_EXISTS', [dev]);
      const free = Array.from({ length: 21 }, (_, i) => String(i)).find((d) => !used.has(d));
      if (free === undefined) throw new XapiFailure('VM_PCI_BUS_FULL', [vm as string]);
      chosen = free;
    }
    const oc2 = Object.fromEntries(Object.entries(oc as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    return createVgpu(sim, vm as string, group as string, chosen, t, oc2);
  });
  api.def('VGPU.destroy', 'self:ref', (_c, [v]) => {
    const r = store.rec('VGPU', v);
    const vm = store.find(r['VM'] as string);
    if (vm && (vm.rec['power_state'] === 'Running' || vm.rec['power_state'] === 'Paused') && r['currently_attached']) {
      throw new XapiFailure('OPERATION_NOT_ALLOWED', ['vGPU currently attached to a running VM']);
    }
    destroyVgpu(sim, v as string);
    return '';
  });
}
