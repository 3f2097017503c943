/**
 * unmanageVirtualMachine (R39–R40): Kiln forgets a VM and leaves it on the hypervisor exactly as
 * it is (running or stopped, defined, its disks in place). Only rows change, in one transaction:
 * the VM is marked removed, its volumes, VM snapshots and details go, it leaves its affinity and
 * instance groups, its NICs are released (or kept with their MACs reserved when the zone's
 * `unmanage.vm.preserve.nics` is on), and the usage events of R40 are written. Resource counts
 * are counted from the live rows, so they drop with it.
 */
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';
import { vmRef, type VmRow, type VolumeRow } from '../vm/rows.js';
import { forgetConfigDrive } from '../metadata/delivery.js';
import { onPrivateVlan, republishPrivateVlanPeers } from '../vm/private-vlan-peers.js';

/** R39: why VM cannot be unmanaged, or undefined. Each reason names the parameter for a 431. */
export function unmanageRefusal(engine: Engine, vm: VmRow): string | undefined {
  if (vm.state === 'Destroyed' || vm.state === 'Expunging' || vm.state === 'Expunged') return `id: VM ${vm.display_name} is ${vm.state}; a destroyed VM cannot be unmanaged`;
  if (vm.state !== 'Running' && vm.state !== 'Stopped') return `id: VM ${vm.display_name} is ${vm.state}; only a Running or Stopped VM can be unmanaged`;
  if (vm.host_id === null && vm.last_host_id === null) return `id: VM ${vm.display_name} was never defined on a host, so there is nothing to leave on the hypervisor`;
  const snapshots = volumeSnapshotCount(engine, vm.id);
  if (snapshots > 0) return `id: VM ${vm.display_name} has ${snapshots} volume snapshot${snapshots === 1 ? '' : 's'}; delete them before unmanaging it`;
  if (vm.iso_id !== null) {
    const iso = engine.db.prepare('SELECT name FROM templates WHERE id=?').pluck().get(vm.iso_id) as string | undefined;
    return `id: VM ${vm.display_name} has ISO ${iso ?? vm.iso_id} attached; detach it before unmanaging the VM`;
  }
  return undefined;
}

/** Volume snapshots live in their own table once the volume feature has one (CloudStack's `snapshots`). */
function volumeSnapshotCount(engine: Engine, vmId: number): number {
  const table = engine.db.prepare(`SELECT name FROM sqlite_master WHERE type='table' AND name IN ('volume_snapshots','snapshots') ORDER BY name`).pluck().all() as string[];
  let count = 0;
  for (const name of table) {
    const columns = new Set((engine.db.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name));
    if (!columns.has('volume_id')) continue;
    const live = columns.has('removed') ? ' AND s.removed IS NULL' : '';
    count += engine.db.prepare(`SELECT COUNT(*) FROM ${name} s JOIN volumes v ON v.id=s.volume_id WHERE v.vm_id=? AND v.removed IS NULL${live}`).pluck().get(vmId) as number;
  }
  return count;
}

export async function unmanageVm(engine: Engine, caller: Caller, vm: VmRow): Promise<void> {
  const refusal = unmanageRefusal(engine, vm);
  if (refusal) throw ApiError.param(refusal);
  // First the host (nothing is written if it refuses): the marks that make it act for Kiln go,
  // so e.g. a KVM host's isolation watchdog no longer powers off a VM Kiln has forgotten.
  const session = await engine.hosts.session((vm.host_id ?? vm.last_host_id)!);
  await session.import?.release?.(vmRef(vm));
  const db = engine.db;
  const preserveNics = engine.settings.bool('unmanage.vm.preserve.nics', vm.zone_id);
  const hadPrivateVlan = onPrivateVlan(engine, vm.id);
  db.transaction(() => {
    const stamp = now();
    // The row stays for history under a name and ref that no hypervisor VM has, so neither a
    // later import of the same VM (same name) nor the HA pass (which removes copies of expunged
    // VMs it finds) ever takes the hypervisor's VM for this one.
    const changed = db.prepare(`UPDATE vm_instances SET state='Expunged', removed=?, host_id=NULL, ref=NULL, internal_name=?, instance_name=?, update_count=update_count+1 WHERE id=? AND update_count=?`)
      .run(stamp, `unmanaged-${vm.id}-${vm.internal_name}`, `unmanaged-${vm.id}-${vm.instance_name}`, vm.id, vm.update_count);
    if (changed.changes !== 1) throw ApiError.param(`id: VM ${vm.display_name} changed while it was being unmanaged; try again`);
    const usage = (type: string, extra: { resourceId?: number; resourceName?: string; size?: number } = {}) =>
      engine.events.usage({ type, accountId: vm.account_id, zoneId: vm.zone_id, resourceId: vm.id, resourceName: vm.instance_name, ...extra });
    for (const v of db.prepare('SELECT * FROM volumes WHERE vm_id=? AND removed IS NULL').all(vm.id) as VolumeRow[]) {
      usage('VOLUME.DELETE', { resourceId: v.id, resourceName: v.name, size: v.size });
    }
    db.prepare(`UPDATE volumes SET state='Expunged', removed=? WHERE vm_id=? AND removed IS NULL`).run(stamp, vm.id);
    for (const s of db.prepare('SELECT id, name FROM vm_snapshots WHERE vm_id=? AND removed IS NULL').all(vm.id) as { id: number; name: string }[]) {
      for (const type of ['VMSNAPSHOT.DELETE', 'VMSNAPSHOT.OFF_PRIMARY']) usage(type, { resourceId: s.id, resourceName: s.name });
    }
    db.prepare(`UPDATE vm_snapshots SET state='Removed', is_current=0, removed=? WHERE vm_id=? AND removed IS NULL`).run(stamp, vm.id);
    db.prepare('DELETE FROM vm_details WHERE vm_id=?').run(vm.id);
    db.prepare('DELETE FROM affinity_group_vms WHERE vm_id=?').run(vm.id);
    db.prepare('UPDATE vm_instances SET vm_group=NULL WHERE id=?').run(vm.id);
    const nics = db.prepare('SELECT id, network_id FROM nics WHERE vm_id=? AND removed IS NULL').all(vm.id) as { id: number; network_id: number }[];
    for (const nic of nics) usage('NETWORK.OFFERING.REMOVE', { resourceName: String(nic.network_id) });
    // Kept NICs hold their MAC (and IP) so nothing else is given them; a re-import reuses them with forced=true.
    if (preserveNics) db.prepare(`UPDATE nics SET state='Reserved' WHERE vm_id=? AND removed IS NULL`).run(vm.id);
    else db.prepare(`UPDATE nics SET state='Deallocated', removed=? WHERE vm_id=? AND removed IS NULL`).run(stamp, vm.id);
    if (vm.state === 'Running') usage('VM.STOP', { resourceName: vm.instance_name });
    usage('VM.DESTROY', { resourceName: vm.instance_name });
    engine.events.record({
      type: 'VM.UNMANAGE',
      description: `VM ${vm.display_name} (${vm.uuid}) unmanaged: it stays ${vm.state === 'Running' ? 'running' : 'stopped'} on the hypervisor as ${vm.internal_name}, Kiln forgot it${preserveNics ? '; its NICs and MACs stay reserved' : ''}`,
      userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid,
    });
  })();
  // The config drive's copy on the host stays with the domain that names it; Kiln's own copy goes.
  forgetConfigDrive(engine, vm.uuid);
  engine.bus.emit('vm', { id: vm.uuid, state: 'Expunged', accountId: vm.account_id });
  // Kiln no longer vouches for its private-VLAN ports: they leave the zone's hosts' view (vm/private-vlan-peers.ts).
  if (hadPrivateVlan) await republishPrivateVlanPeers(engine, vm.zone_id);
}
