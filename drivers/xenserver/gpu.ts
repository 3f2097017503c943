/**
 * GPUs as xapi models them (xenapi.md §2.3, §5.2): a host's PGPUs, each in a GPU_group (one per
 * PCI id across the pool, named "Group of NVIDIA Corporation GK107GL [GRID K1] GPUs"), with the
 * vGPU types the group has enabled. A host's capacity per (group, type) is CloudStack's
 * getGPUGroupDetails: the sum over its PGPUs of PGPU.get_remaining_capacity and of
 * supported_VGPU_max_capacities; a type a PGPU does not support counts nothing there (CloudStack
 * would throw on it). A VM's vGPU is one VGPU object, made while it is halted
 * (VGPU.create(vm, group, "0", {}, type), as CloudStack's createVGPU), and xapi allocates a
 * PGPU at start. K1/K2 vGPUs and pass-through cannot move live or be checkpointed (VM_HAS_VGPU):
 * the driver refuses those first, naming why.
 */
import { DriverError, type GpuDeviceInfo } from '../types.js';
import { KILN_UUID_KEY, MiB, type XenPool } from './pool.js';
import type { XRef } from './xapi/records.js';

/** The host's GPU groups and vGPU types with capacity, read now (capacity changes with every start and stop). */
export async function hostGpus(pool: XenPool, host: XRef): Promise<GpuDeviceInfo[]> {
  const byKey = new Map<string, GpuDeviceInfo>();
  for (const [pgpuRef, pgpu] of pool.inventory.all('PGPU').filter(([, p]) => p.host === host)) {
    const group = pool.inventory.get('GPU_group', pgpu.GPU_group);
    if (!group) continue;
    for (const typeRef of group.enabled_VGPU_types ?? []) {
      const type = pool.inventory.get('VGPU_type', typeRef);
      const max = pgpu.supported_VGPU_max_capacities?.[typeRef];
      if (!type || max === undefined) continue;
      const remaining = Number(await pool.client.call('PGPU.get_remaining_capacity', pgpuRef, typeRef));
      const key = `${group.name_label}\n${type.model_name}`;
      const one = { address: pool.inventory.get('PCI', pgpu.PCI)?.pci_id ?? pgpuRef, remainingCapacity: remaining, maxCapacity: Number(max), vmUuids: residentsOf(pool, pgpu.resident_VGPUs ?? [], typeRef) };
      const seen = byKey.get(key);
      if (seen) {
        seen.remainingCapacity += remaining;
        seen.maxCapacity += Number(max);
        seen.pgpus!.push(one);
        continue;
      }
      byKey.set(key, {
        pgpus: [one],
        group: group.name_label, vgpuType: type.model_name, remainingCapacity: remaining, maxCapacity: Number(max), maxVgpuPerPgpu: Number(max),
        videoRamMiB: Math.round(Number(type.framebuffer_size ?? 0) / MiB), maxHeads: Number(type.max_heads ?? 0),
        maxResolutionX: Number(type.max_resolution_x ?? 0), maxResolutionY: Number(type.max_resolution_y ?? 0),
      });
    }
  }
  for (const g of byKey.values()) g.pgpus!.sort((a, b) => a.address.localeCompare(b.address));
  return [...byKey.values()].sort((a, b) => a.group.localeCompare(b.group) || a.vgpuType.localeCompare(b.vgpuType));
}

/** The Kiln VMs (their uuids; a VM Kiln does not manage by its xapi uuid) holding a vGPU of TYPE among VGPUS. */
function residentsOf(pool: XenPool, vgpus: XRef[], type: XRef): string[] {
  return vgpus.flatMap((ref) => {
    const g = pool.inventory.get('VGPU', ref);
    const vm = g && g.type === type ? pool.vm(g.VM) : undefined;
    return vm ? [vm.other_config?.[KILN_UUID_KEY] ?? vm.uuid] : [];
  }).sort();
}

export function hasGpus(pool: XenPool, host: XRef): boolean {
  return pool.inventory.all('PGPU').some(([, p]) => p.host === host);
}

/** The GPU group of that name and its enabled type of that model (CloudStack's lookup); 'not-found' naming what is missing. */
function resolveGpu(pool: XenPool, want: { group: string; vgpuType: string }): { group: XRef; type: XRef } {
  const groups = pool.inventory.all('GPU_group').filter(([, g]) => g.name_label === want.group);
  if (groups.length !== 1) throw new DriverError(`the pool has ${groups.length === 0 ? 'no' : `${groups.length}`} GPU group named ${JSON.stringify(want.group)}`, groups.length === 0 ? 'not-found' : 'invalid');
  const [groupRef, group] = groups[0]!;
  const type = (group.enabled_VGPU_types ?? []).find((t) => pool.inventory.get('VGPU_type', t)?.model_name === want.vgpuType);
  if (!type) throw new DriverError(`GPU group ${JSON.stringify(want.group)} has no enabled vGPU type ${JSON.stringify(want.vgpuType)}`, 'not-found');
  return { group: groupRef, type };
}

/** Makes the halted VM's vGPU what Kiln asks (none, or one of that group and type): R66 at define, R69 after an offline change. */
export async function ensureVgpu(pool: XenPool, vm: XRef, want: { group: string; vgpuType: string } | undefined): Promise<void> {
  const v = pool.vm(vm);
  if (!v) return;
  const target = want ? resolveGpu(pool, want) : undefined;
  const existing = (v.VGPUs ?? []).map((r) => [r, pool.inventory.get('VGPU', r)] as const);
  const keep = existing.find(([, g]) => g && target && g.GPU_group === target.group && g.type === target.type);
  for (const [ref] of existing) if (ref !== keep?.[0]) await pool.client.call('VGPU.destroy', ref);
  if (target && !keep) await pool.client.call('VGPU.create', vm, target.group, '0', {}, target.type);
}

/** The VM's vGPUs, as "model (group)" for messages; empty when it has none. */
export function vgpusOf(pool: XenPool, vm: XRef): string[] {
  return (pool.vm(vm)?.VGPUs ?? []).map((r) => {
    const g = pool.inventory.get('VGPU', r);
    const type = g && pool.inventory.get('VGPU_type', g.type);
    return type?.model_name || 'passthrough';
  });
}

/** Refuses what xapi would refuse with VM_HAS_VGPU, before anything is sent, with the way out. */
export function refuseWithVgpu(pool: XenPool, vm: XRef, what: string, instead: string): void {
  const vgpus = vgpusOf(pool, vm);
  if (vgpus.length > 0) throw new DriverError(`${what} is not supported for a VM with a GPU (${vgpus.join(', ')}): its vGPU cannot move with it; ${instead}`, 'unsupported');
}
