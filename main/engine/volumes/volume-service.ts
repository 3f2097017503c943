/**
 * Data volumes on their own (CloudStack's createVolume, attachVolume, detachVolume,
 * resizeVolume, deleteVolume). The command modules parse; the rules and the host work are here.
 *
 * Where a disk lives. A volume is Allocated until a host makes its disk: when it is attached to a
 * VM that has a definition (live to a running VM, or into a stopped VM's definition), or when its
 * VM starts (define creates missing disks). From then on it is Ready and `host_id` names the host
 * whose storage holds the file (for KVM, the cluster's shared pool), so a detached disk can still
 * be resized and deleted there. Paths are always Kiln's volume names in the host's own pool.
 *
 * Settled states. The checks run before any job, and a command claims its volume in one
 * conditional UPDATE (state Attaching/Creating/Resizing/Expunging), so two commands never act on
 * one volume at once. If the host refuses or cannot be reached, the claim is given back: the row
 * is what it was before and the driver has removed whatever half it made. A deleted disk whose
 * host cannot be reached is owed (host_cleanups) and deleted when the host answers.
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';
import { requireAccountAccess } from '../vm/access.js';
import { byUuid } from '../lookup.js';
import { vmRef, vmSpecDetails, type DiskOfferingRow, type VmRow, type VolumeRow } from '../vm/rows.js';
import { requireNoSnapshots } from '../vm/vm-snapshots.js';
import { isUnreachable } from '../vm/host-cleanups.js';
import { GiB } from '../format.js';
import { requireFacet, type HostSession, type VolumeDisk, type VolumeFacet } from '../../../drivers/types.js';
import { requireVolumeChangeAllowed } from './volume-change-rule.js';
import { placeTaggedVolumes } from '../storage/pool-choice.js';
import { SETTLED_VOLUME_STATES, VOLUME_VM_STATES, type VolumeState } from './volume-states.js';

/** A volume row as migration 21 has it. */
export interface DataVolumeRow extends VolumeRow {
  host_id: number | null;
  attached: string | null;
}

/** Device ids a data disk may take (0 is the root disk). */
const MAX_DEVICE_ID = 15;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class VolumeService {
  constructor(private readonly engine: Engine) {}

  private get db() {
    return this.engine.db;
  }

  get(id: number): DataVolumeRow {
    return this.db.prepare('SELECT * FROM volumes WHERE id=?').get(id) as DataVolumeRow;
  }

  /** The volume a caller names by uuid: 431 when there is none (or it is gone), 531 when it is another account's. */
  forCaller(caller: Caller, uuid: string, param = 'id'): DataVolumeRow {
    const row = byUuid<DataVolumeRow>(this.db, 'volume', uuid, param);
    requireAccountAccess(this.db, caller, row.account_id, `volume ${row.uuid}`);
    return row;
  }

  // ---------------------------------------------------------------- createVolume

  /** A new data volume, Allocated: a row only, its disk made on the first host that needs it. */
  create(caller: Caller, input: { owner: { accountId: number; domainId: number }; zoneId: number; offering: DiskOfferingRow; sizeGb?: number; name?: string }): DataVolumeRow {
    const { offering } = input;
    let size: number;
    if (offering.is_customized === 1) {
      // Its range is the parameter's rule (VOLUME_SIZE_RULE), checked before any handler runs.
      if (input.sizeGb === undefined) throw ApiError.param(`size: disk offering ${offering.name} is custom; give size (GiB)`);
      size = input.sizeGb * GiB;
    } else {
      if (input.sizeGb !== undefined) throw ApiError.param(`size: disk offering ${offering.name} has a fixed size of ${Math.round(offering.disk_size / GiB)} GiB; give size only with a custom offering`);
      size = offering.disk_size;
    }
    const uuid = randomUUID();
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(`INSERT INTO volumes (uuid, name, vm_id, account_id, zone_id, volume_type, device_id, size, disk_offering_id, state, created) VALUES (?,?,NULL,?,?,'DATADISK',0,?,?,'Allocated',?)`)
          .run(uuid, input.name ?? `DATA-${uuid.slice(0, 8)}`, input.owner.accountId, input.zoneId, size, offering.id, now()).lastInsertRowid,
      );
      const volume = this.get(id);
      this.engine.events.record({ type: 'VOLUME.CREATE', description: `volume ${volume.name} allocated, ${Math.round(size / GiB)} GiB from disk offering ${offering.name}`, userId: caller.userId, accountId: volume.account_id, domainId: input.owner.domainId, resourceType: 'Volume', resourceUuid: volume.uuid });
      this.engine.events.usage({ type: 'VOLUME.CREATE', accountId: volume.account_id, zoneId: volume.zone_id, resourceId: volume.id, resourceName: volume.name, offeringId: offering.id, size });
      return volume;
    })();
  }

  // ---------------------------------------------------------------- attachVolume

  /** The VM's side of an attach (431 naming virtualmachineid): at rest, same account and zone, no VM snapshots or backups. */
  checkAttachable(vm: VmRow, accountId: number, zoneId: number, what = 'the volume'): void {
    this.requireVolumeVmState(vm, 'virtualmachineid', 'attached to');
    if (accountId !== vm.account_id) throw ApiError.param(`virtualmachineid: ${what} and VM ${vm.display_name} belong to different accounts; a volume is attached only to a VM of its own account`);
    if (zoneId !== vm.zone_id) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is in another zone than ${what}`);
    requireVolumeChangeAllowed(this.engine, vm, 'virtualmachineid');
    this.requireVolumeCapability(vm, 'virtualmachineid');
  }

  /**
   * Checks an attach and claims the volume for the VM (vm_id, device id, a transient state when a
   * host has work to do). Throws 431 naming the parameter at fault; nothing is written then.
   */
  claimAttach(volume: DataVolumeRow, vm: VmRow, deviceId: number | undefined): DataVolumeRow {
    if (volume.volume_type !== 'DATADISK') throw ApiError.param(`id: volume ${volume.name} is a ${volume.volume_type} volume; only data disks can be attached`);
    if (volume.vm_id !== null) {
      const owner = this.engine.vms.get(volume.vm_id);
      throw ApiError.param(`id: volume ${volume.name} is already attached to VM ${owner.display_name} (${owner.uuid}); detach it first`);
    }
    this.requireSettled(volume);
    this.checkAttachable(vm, volume.account_id, volume.zone_id, `volume ${volume.name}`);
    this.requireSameStorage(volume, vm);
    const used = new Set((this.db.prepare('SELECT device_id FROM volumes WHERE vm_id=? AND removed IS NULL').all(vm.id) as { device_id: number }[]).map((r) => r.device_id));
    let device = deviceId;
    if (device !== undefined) {
      if (device < 1 || device > MAX_DEVICE_ID) throw ApiError.param(`deviceid: ${device} is outside 1..${MAX_DEVICE_ID} (0 is the root disk)`);
      if (used.has(device)) throw ApiError.param(`deviceid: VM ${vm.display_name} already has a disk at device ${device}`);
    } else {
      device = [...Array(MAX_DEVICE_ID).keys()].map((i) => i + 1).find((d) => !used.has(d));
      if (device === undefined) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has ${MAX_DEVICE_ID} data disks, the most it can have`);
    }
    const hostWork = this.definitionHost(vm) !== null;
    const claimed: VolumeState = !hostWork ? (volume.state as VolumeState) : volume.state === 'Ready' ? 'Attaching' : 'Creating';
    const path = volume.path ?? this.engine.hosts.volumeName(vm.hypervisor, volume.uuid);
    const result = this.db
      .prepare(`UPDATE volumes SET vm_id=?, device_id=?, state=?, path=?, attached=? WHERE id=? AND vm_id IS NULL AND removed IS NULL AND state=?`)
      .run(vm.id, device, claimed, path, now(), volume.id, volume.state);
    if (result.changes !== 1) throw ApiError.param(`id: volume ${volume.name} changed meanwhile (another command is working on it); try again`);
    return this.get(volume.id);
  }

  /** The host half of an attach: the disk goes into the VM's definition (and the running VM). */
  async attach(caller: Caller, claimed: DataVolumeRow, jobUuid?: string): Promise<DataVolumeRow> {
    const before: VolumeState = claimed.state === 'Attaching' ? 'Ready' : claimed.state === 'Creating' ? 'Allocated' : (claimed.state as VolumeState);
    const vm = this.engine.vms.get(claimed.vm_id!);
    let placed: DataVolumeRow | undefined;
    try {
      // The VM's queue ran whatever came before this job: its state is checked again here.
      this.requireVolumeVmState(vm, 'virtualmachineid', 'attached to');
      const target = await this.definitionOf(vm);
      if (target) {
        const live = vm.state === 'Running';
        // A disk to be made whose offering carries storage tags goes on a pool with them (storage/pool-choice.ts).
        if (before === 'Allocated') placed = await this.placeTagged(vm, target.hostId, claimed);
        const made = await target.facet.attach(vmRef(vm), this.disk(placed ?? claimed), { live, create: before === 'Allocated', details: vmSpecDetails(this.db, vm.id) });
        this.db.prepare(`UPDATE volumes SET state='Ready', ref=COALESCE(?, ref), host_id=? WHERE id=?`).run(made.ref ?? null, target.hostId, claimed.id);
      } else if (claimed.state !== before) {
        this.db.prepare('UPDATE volumes SET state=? WHERE id=?').run(before, claimed.id);
      }
    } catch (error) {
      // As it was: a volume never made has no path until an attach gives it one.
      this.db.prepare(`UPDATE volumes SET vm_id=NULL, device_id=0, attached=NULL, state=?, path=CASE WHEN ?='Allocated' AND host_id IS NULL THEN NULL ELSE path END WHERE id=?`).run(before, before, claimed.id);
      // A pool chosen for a disk that was never made is chosen again by the next attach.
      if (placed && placed.pool !== claimed.pool) this.db.prepare('UPDATE volumes SET pool=?, pool_id=NULL WHERE id=?').run(claimed.pool, claimed.id);
      this.failed('VOLUME.ATTACH', caller, claimed, `attach to VM ${vm.display_name} failed, the volume is ${before} and not attached: ${errorText(error)}`, jobUuid);
      throw error;
    }
    const volume = this.get(claimed.id);
    this.record('VOLUME.ATTACH', caller, volume, `volume ${volume.name} attached to VM ${vm.display_name} as device ${volume.device_id}${vm.state === 'Running' ? ', live' : ''}`, jobUuid);
    return volume;
  }

  /** The volume after storage tags chose its pool on the VM's host (unchanged without tags). */
  private async placeTagged(vm: VmRow, hostId: number, volume: DataVolumeRow): Promise<DataVolumeRow> {
    const host = this.db.prepare('SELECT id, name, cluster_id FROM hosts WHERE id=?').get(hostId) as { id: number; name: string; cluster_id: number };
    await placeTaggedVolumes(this.engine, vm.id, host, [volume.id]);
    return this.get(volume.id);
  }

  // ---------------------------------------------------------------- detachVolume

  /** The volume detachVolume names: by id, or by its VM and device id (as CloudStack takes either). */
  forDetach(caller: Caller, id: string | undefined, vmUuid: string | undefined, deviceId: number | undefined): DataVolumeRow {
    if (id !== undefined) {
      if (vmUuid !== undefined || deviceId !== undefined) throw ApiError.param('id: give either id, or virtualmachineid with deviceid');
      return this.forCaller(caller, id);
    }
    if (vmUuid === undefined || deviceId === undefined) throw ApiError.param('id: give the volume id, or virtualmachineid with deviceid');
    const vm = this.engine.vms.forCaller(caller, vmUuid, 'virtualmachineid');
    const row = this.db.prepare('SELECT * FROM volumes WHERE vm_id=? AND device_id=? AND removed IS NULL').get(vm.id, deviceId) as DataVolumeRow | undefined;
    if (!row) throw ApiError.param(`deviceid: VM ${vm.display_name} has no disk at device ${deviceId}`);
    return row;
  }

  /** Checks a detach (431 naming the parameter); the volume and its VM. */
  checkDetach(volume: DataVolumeRow): VmRow {
    if (volume.vm_id === null) throw ApiError.param(`id: volume ${volume.name} is not attached to any VM`);
    const vm = this.engine.vms.get(volume.vm_id);
    if (volume.volume_type !== 'DATADISK') throw ApiError.param(`id: volume ${volume.name} is the ${volume.volume_type} disk of VM ${vm.display_name}; only data disks can be detached`);
    this.requireSettled(volume);
    this.requireVolumeVmState(vm, 'id', 'detached from');
    requireVolumeChangeAllowed(this.engine, vm, 'id');
    this.requireVolumeCapability(vm, 'id');
    return vm;
  }

  async detach(caller: Caller, volumeId: number, jobUuid?: string): Promise<DataVolumeRow> {
    const volume = this.get(volumeId);
    const vm = this.checkDetach(volume);
    try {
      const target = volume.state === 'Ready' ? await this.definitionOf(vm) : undefined;
      if (target) await target.facet.detach(vmRef(vm), this.disk(volume), { live: vm.state === 'Running' });
      // The disk stays where it is: on the host that holds it (the VM's), to attach again or delete.
      const hostId = target?.hostId ?? volume.host_id ?? vm.host_id ?? vm.last_host_id;
      this.db.prepare('UPDATE volumes SET vm_id=NULL, device_id=0, attached=NULL, host_id=? WHERE id=?').run(volume.state === 'Ready' ? hostId : null, volume.id);
    } catch (error) {
      this.failed('VOLUME.DETACH', caller, volume, `detach from VM ${vm.display_name} failed, the volume is still attached: ${errorText(error)}`, jobUuid);
      throw error;
    }
    const after = this.get(volume.id);
    this.record('VOLUME.DETACH', caller, after, `volume ${after.name} detached from VM ${vm.display_name}${vm.state === 'Running' ? ', live' : ''}`, jobUuid);
    return after;
  }

  // ---------------------------------------------------------------- resizeVolume

  /**
   * Checks a resize and claims the volume (Resizing) when a host holds its disk. The new size is
   * in bytes; smaller only with shrinkok. Throws 431 naming the parameter; nothing is written then.
   */
  claimResize(volume: DataVolumeRow, input: { sizeGb?: number; offering?: DiskOfferingRow; shrinkOk: boolean }): { volume: DataVolumeRow; sizeBytes: number; offeringId: number | null } {
    this.requireSettled(volume);
    const current = volume.disk_offering_id !== null ? (this.db.prepare('SELECT * FROM disk_offerings WHERE id=?').get(volume.disk_offering_id) as DiskOfferingRow) : undefined;
    const offering = input.offering ?? current;
    let sizeBytes: number;
    if (input.offering && input.offering.is_customized !== 1) {
      if (input.sizeGb !== undefined) throw ApiError.param(`size: disk offering ${input.offering.name} has a fixed size of ${Math.round(input.offering.disk_size / GiB)} GiB; give size only with a custom offering`);
      sizeBytes = input.offering.disk_size;
    } else {
      if (input.sizeGb === undefined) throw ApiError.param('size: give the new size (GiB), or diskofferingid of an offering with a fixed size');
      if (offering && offering.is_customized !== 1 && volume.volume_type === 'DATADISK') {
        throw ApiError.param(`size: volume ${volume.name} has the fixed-size disk offering ${offering.name}; give diskofferingid of a custom offering (or of another size) to resize it`);
      }
      sizeBytes = input.sizeGb * GiB;
    }
    if (sizeBytes === volume.size) throw ApiError.param(`size: volume ${volume.name} is already ${Math.round(sizeBytes / GiB)} GiB`);
    if (sizeBytes < volume.size && !input.shrinkOk) {
      throw ApiError.param(`size: ${Math.round(sizeBytes / GiB)} GiB is smaller than volume ${volume.name} (${Math.round(volume.size / GiB)} GiB); shrinking loses data, give shrinkok=true to allow it`);
    }
    if (volume.vm_id !== null) {
      const vm = this.engine.vms.get(volume.vm_id);
      this.requireVolumeVmState(vm, 'id', 'resized on');
      // As CloudStack: a VM snapshot would no longer match the disk it was taken of.
      requireNoSnapshots(this.engine, vm, 'id');
      if (volume.state === 'Ready' && this.definitionHost(vm) !== null) {
        this.requireVolumeCapability(vm, 'id');
        if (vm.state === 'Running' && this.hostCapabilities(vm)?.caps['liveVolumeResize'] === false) {
          throw ApiError.param(`id: the hypervisor of host ${this.hostCapabilities(vm)!.name} cannot resize a disk of running VM ${vm.display_name} (its storage resizes disks in use only where it supports online resize); stop the VM first`);
        }
      }
    }
    const offeringId = input.offering?.id ?? volume.disk_offering_id;
    if (volume.state !== 'Ready') return { volume, sizeBytes, offeringId };
    const result = this.db.prepare(`UPDATE volumes SET state='Resizing' WHERE id=? AND state='Ready' AND removed IS NULL`).run(volume.id);
    if (result.changes !== 1) throw ApiError.param(`id: volume ${volume.name} changed meanwhile (another command is working on it); try again`);
    return { volume: this.get(volume.id), sizeBytes, offeringId };
  }

  async resize(caller: Caller, claim: { volume: DataVolumeRow; sizeBytes: number; offeringId: number | null; shrinkOk: boolean }, jobUuid?: string): Promise<DataVolumeRow> {
    const { volume, sizeBytes } = claim;
    if (volume.state === 'Resizing') {
      try {
        const vm = volume.vm_id !== null ? this.engine.vms.get(volume.vm_id) : undefined;
        if (vm) this.requireVolumeVmState(vm, 'id', 'resized on');
        const target = vm ? await this.definitionOf(vm) : undefined;
        const hostId = target?.hostId ?? volume.host_id ?? (vm ? vm.host_id ?? vm.last_host_id : null);
        if (hostId === null) throw ApiError.param(`id: Kiln does not know which host holds the disk of volume ${volume.name}`);
        const facet = target?.facet ?? this.facetOf(await this.engine.hosts.session(hostId), 'id');
        await facet.resize(this.disk(volume), sizeBytes, { vm: target && vm ? vmRef(vm) : undefined, live: vm?.state === 'Running' && target !== undefined, shrink: claim.shrinkOk });
      } catch (error) {
        this.db.prepare(`UPDATE volumes SET state='Ready' WHERE id=?`).run(volume.id);
        this.failed('VOLUME.RESIZE', caller, volume, `resize to ${Math.round(sizeBytes / GiB)} GiB failed, the volume keeps ${Math.round(volume.size / GiB)} GiB: ${errorText(error)}`, jobUuid);
        throw error;
      }
    }
    this.db.prepare(`UPDATE volumes SET size=?, disk_offering_id=?, state=? WHERE id=?`).run(sizeBytes, claim.offeringId, volume.state === 'Resizing' ? 'Ready' : volume.state, volume.id);
    const after = this.get(volume.id);
    this.engine.events.usage({ type: 'VOLUME.RESIZE', accountId: after.account_id, zoneId: after.zone_id, resourceId: after.id, resourceName: after.name, offeringId: claim.offeringId ?? undefined, size: sizeBytes });
    this.record('VOLUME.RESIZE', caller, after, `volume ${after.name} resized from ${Math.round(volume.size / GiB)} GiB to ${Math.round(sizeBytes / GiB)} GiB`, jobUuid);
    return after;
  }

  // ---------------------------------------------------------------- deleteVolume

  /** Deletes a volume no VM has: its disk on the host that holds it (owed when that host does not answer), then the row. */
  async remove(caller: Caller, volume: DataVolumeRow): Promise<void> {
    if (volume.vm_id !== null) {
      const vm = this.engine.vms.get(volume.vm_id);
      throw ApiError.param(`id: volume ${volume.name} is attached to VM ${vm.display_name} (${vm.uuid}); detach it first`);
    }
    this.requireSettled(volume);
    const claimed = this.db.prepare(`UPDATE volumes SET state='Expunging' WHERE id=? AND vm_id IS NULL AND state=? AND removed IS NULL`).run(volume.id, volume.state);
    if (claimed.changes !== 1) throw ApiError.param(`id: volume ${volume.name} changed meanwhile (another command is working on it); try again`);
    let note = '';
    if (volume.state === 'Ready' && volume.host_id !== null && volume.path) {
      try {
        await (await this.engine.hosts.session(volume.host_id)).deleteDisks([volume.path]);
      } catch (error) {
        if (!isUnreachable(error)) {
          this.db.prepare('UPDATE volumes SET state=? WHERE id=?').run(volume.state, volume.id);
          this.failed('VOLUME.DELETE', caller, volume, `delete failed, the volume is ${volume.state}: ${errorText(error)}`);
          throw error;
        }
        this.db.prepare('INSERT INTO host_cleanups (host_id, vm_id, domain, disks, reason, created) VALUES (?,NULL,NULL,?,?,?)').run(volume.host_id, JSON.stringify([volume.path]), `volume ${volume.name} deleted`, now());
        note = `; its host could not be reached (${errorText(error)}), the disk is deleted there when it answers`;
      }
    }
    this.db.transaction(() => {
      this.db.prepare(`UPDATE volumes SET state='Expunged', removed=? WHERE id=?`).run(now(), volume.id);
      this.engine.events.usage({ type: 'VOLUME.DELETE', accountId: volume.account_id, zoneId: volume.zone_id, resourceId: volume.id, resourceName: volume.name });
      this.record('VOLUME.DELETE', caller, volume, `volume ${volume.name} deleted${note}`, undefined, note ? 'WARN' : 'INFO');
    })();
  }

  // ---------------------------------------------------------------- shared rules

  private requireSettled(volume: DataVolumeRow): void {
    if (!SETTLED_VOLUME_STATES.includes(volume.state as VolumeState)) {
      throw ApiError.param(`id: volume ${volume.name} is ${volume.state}; wait until it is ${SETTLED_VOLUME_STATES.join(' or ')}`);
    }
  }

  /** Attach and detach (and resize through a VM) only on a VM at rest: not Starting, Stopping, Migrating… */
  private requireVolumeVmState(vm: VmRow, param: string, what: string): void {
    if (!(VOLUME_VM_STATES as readonly string[]).includes(vm.state)) {
      throw ApiError.param(`${param}: VM ${vm.display_name} (${vm.uuid}) is ${vm.state}; a data disk is ${what} a VM only while it is ${VOLUME_VM_STATES.join(', ')}`);
    }
  }

  /** A Ready disk lives in one cluster's storage: it joins only a VM of that cluster. */
  private requireSameStorage(volume: DataVolumeRow, vm: VmRow): void {
    if (volume.state !== 'Ready' || volume.host_id === null) return;
    const clusterOf = (hostId: number) => this.db.prepare('SELECT c.id, c.name, c.hypervisor FROM hosts h JOIN clusters c ON c.id=h.cluster_id WHERE h.id=?').get(hostId) as { id: number; name: string; hypervisor: string };
    const disk = clusterOf(volume.host_id);
    const vmHost = vm.host_id ?? vm.last_host_id;
    if (vmHost === null) {
      // Never started: its first start may place it in a cluster that does not see the disk (and
      // would make an empty one there), unless the zone has no other cluster.
      const others = this.db.prepare('SELECT COUNT(*) AS n FROM clusters WHERE zone_id=? AND removed IS NULL AND id<>?').get(vm.zone_id, disk.id) as { n: number };
      if (others.n > 0 && vm.cluster_id !== disk.id) {
        throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has not been started yet, and the disk of volume ${volume.name} is in the storage of cluster ${disk.name} only; start the VM first, or attach a volume not yet used`);
      }
      return;
    }
    const vmCluster = clusterOf(vmHost);
    if (disk.id !== vmCluster.id) {
      throw ApiError.param(`virtualmachineid: the disk of volume ${volume.name} is in the storage of cluster ${disk.name}; VM ${vm.display_name} is in cluster ${vmCluster.name}`);
    }
  }

  /**
   * The host where the VM is defined (where it runs, else where it last ran), or null for a VM that
   * was never defined: its volumes change in the database alone and its next start defines them.
   */
  private definitionHost(vm: VmRow): number | null {
    return vm.state === 'Running' ? vm.host_id : vm.last_host_id;
  }

  /** 431 before any job when the VM's host says it cannot change volumes (listHosts capabilities). */
  private requireVolumeCapability(vm: VmRow, param: string): void {
    const host = this.hostCapabilities(vm);
    if (host?.caps['volumes'] === false) throw ApiError.param(`${param}: the hypervisor of host ${host.name} (VM ${vm.display_name}) cannot attach, detach or resize data disks`);
  }

  /** The listHosts capabilities of the host holding the VM's definition, as last refreshed; undefined before any. */
  private hostCapabilities(vm: VmRow): { name: string; caps: Record<string, unknown> } | undefined {
    const hostId = this.definitionHost(vm);
    if (hostId === null) return undefined;
    const row = this.db.prepare('SELECT name, capabilities FROM hosts WHERE id=?').get(hostId) as { name: string; capabilities: string | null } | undefined;
    return row?.capabilities ? { name: row.name, caps: JSON.parse(row.capabilities) as Record<string, unknown> } : undefined;
  }

  private facetOf(session: HostSession, param: string): VolumeFacet {
    try {
      return requireFacet(session, 'volumes', 'attaching, detaching or resizing data disks');
    } catch (error) {
      throw ApiError.param(`${param}: ${errorText(error)}`);
    }
  }

  /** The VM's definition on a host that must change with its volumes; undefined when there is none. */
  private async definitionOf(vm: VmRow): Promise<{ hostId: number; facet: VolumeFacet } | undefined> {
    const hostId = this.definitionHost(vm);
    if (hostId === null) return undefined;
    const session = await this.engine.hosts.session(hostId);
    // A stopped VM whose definition is gone is defined afresh, disks included, at its next start.
    if (vm.state !== 'Running' && (await session.powerState(vmRef(vm))) === 'Missing') return undefined;
    return { hostId, facet: this.facetOf(session, 'virtualmachineid') };
  }

  private disk(volume: DataVolumeRow): VolumeDisk {
    return { name: volume.path ?? volume.uuid, ref: volume.ref ?? undefined, sizeBytes: volume.size, pool: volume.pool ?? undefined };
  }

  private record(type: string, caller: Caller, volume: DataVolumeRow, description: string, jobUuid?: string, level: 'INFO' | 'WARN' | 'ERROR' = 'INFO'): void {
    const domainId = (this.db.prepare('SELECT domain_id FROM accounts WHERE id=?').get(volume.account_id) as { domain_id: number }).domain_id;
    this.engine.events.record({ type, level, description, userId: caller.userId, accountId: volume.account_id, domainId, resourceType: 'Volume', resourceUuid: volume.uuid, jobUuid });
  }

  private failed(type: string, caller: Caller, volume: DataVolumeRow, text: string, jobUuid?: string): void {
    this.record(type, caller, volume, `volume ${volume.name}: ${text}`, jobUuid, 'ERROR');
  }
}
