/**
 * The VM lifecycle: deploy, start, stop, reboot, destroy, recover, expunge. Commands validate
 * their input and call in here; every state change goes through `transition`, which checks the
 * state table, writes the row, and logs the event and usage event in one transaction.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { followsRule, HOSTNAME_RULE, ruleMessage } from '../registry/param-rules.js';
import type { Engine } from '../engine.js';
import { now } from '../db/database.js';
import { ApiError } from '../registry/errors.js';
import { noSuchEntity } from '../registry/command-scope.js';
import type { AsyncWork, Caller } from '../registry/types.js';
import type { DefineResult, HostSession, OperationOptions, VmSpec } from '../../../drivers/types.js';
import { GiB } from '../format.js';
import { requireAccountAccess } from './access.js';
import { vmJob } from './vm-job.js';
import { recreateRootDisk, resetsOnReboot } from './root-disk.js';
import { offeringGpu, requestForVm } from '../placement/request.js';
import type { PlacementHost, PlacementOutcome } from '../placement/types.js';
import { vmRef, vmSpecDetails, type DiskOfferingRow, type NetworkRow, type NicRow, type OfferingRow, type TemplateRow, type VmRow, type VolumeRow } from './rows.js';
import { canTransition, STATE_EVENTS, type VmState } from './states.js';
import { carrySnapshots, removeSnapshotsOf } from './vm-snapshots.js';
import { didNotAnswer, owe } from './host-cleanups.js';
import { stageImages } from '../images/staging.js';
import { runCopyRemovals } from '../images/host-copies.js';
import { applianceSpec } from '../images/appliances.js';
import { configDriveDisks, forgetConfigDrive, prepareGuestMetadata, withGuestMetadata } from '../metadata/delivery.js';
import { detachKept, keptDataVolumes, takeOutOfDefinition } from '../volumes/kept-disks.js';
import { adoptedPin, carryDefinition, refuseElsewhere } from '../import/adopted-moves.js';
import { placeTaggedVolumes } from '../storage/pool-choice.js';
import { recordDefinedPools } from '../storage/defined-pools.js';
import { nicPrivateVlan, requirePrivateVlans, type NicNetwork } from './private-vlan-nics.js';
import { onPrivateVlan, publishPrivateVlanPeers, republishPrivateVlanPeers } from './private-vlan-peers.js';
import { isOwnInstance } from '../import/adopted-identity.js';


export function validHostname(name: string): boolean {
  return followsRule(HOSTNAME_RULE, name);
}

export interface DeployInput {
  zoneId: number;
  offering: OfferingRow;
  template?: TemplateRow;
  iso?: TemplateRow;
  diskOffering?: DiskOfferingRow;
  rootDiskSizeGiB?: number;
  networks: NetworkRow[];
  name?: string;
  displayName?: string;
  group?: string;
  podId?: number;
  clusterId?: number;
  hostId?: number;
  startVm: boolean;
  cpuNumber: number;
  cpuSpeed: number;
  memory: number;
  haEnabled: boolean;
  dynamicallyScalable: boolean;
  userData?: string;
  affinityGroupIds?: number[];
  details: Record<string, string>;
  owner: { accountId: number; userId: number; domainId: number };
}

export class VmService {
  /** The last placement decision per VM, returned with the job result as its explanation. */
  readonly lastPlacement = new Map<number, PlacementOutcome>();

  constructor(private readonly engine: Engine) {}

  private get db() {
    return this.engine.db;
  }

  get(id: number): VmRow {
    const row = this.db.prepare('SELECT * FROM vm_instances WHERE id=?').get(id) as VmRow | undefined;
    if (!row) throw ApiError.param(`no VM with id ${id}`);
    return row;
  }

  /** The VM a caller names by uuid, checked for access; expunged VMs do not exist any more. */
  forCaller(caller: Caller, uuid: string, param = 'id'): VmRow {
    const row = this.db.prepare(`SELECT * FROM vm_instances WHERE uuid=? AND state<>'Expunged'`).get(uuid) as VmRow | undefined;
    if (!row || (row.state === 'Destroyed' && caller.role === 'User')) {
      throw noSuchEntity(param, uuid);
    }
    requireAccountAccess(this.db, caller, row.account_id, `VM ${row.uuid}`);
    return row;
  }

  /** Moves a VM from one state to another, or throws 431 naming the state it is in. */
  transition(vm: VmRow, to: VmState, context: { caller?: Caller; jobUuid?: string; note?: string; hostId?: number | null } = {}): VmRow {
    const from = vm.state;
    if (!canTransition(from, to)) {
      throw ApiError.param(`VM ${vm.display_name} (${vm.uuid}) is in state ${from}; it cannot move to ${to}`);
    }
    return this.db.transaction(() => {
      const hostChange = context.hostId !== undefined;
      const result = this.db
        .prepare(
          `UPDATE vm_instances SET state=?, update_count=update_count+1${hostChange ? ', host_id=?' : ''}${to === 'Destroyed' ? ', destroyed_at=?' : ''}${to === 'Expunged' ? ', removed=?' : ''}
           WHERE id=? AND state=? AND update_count=?`,
        )
        .run(...[to, ...(hostChange ? [context.hostId] : []), ...(to === 'Destroyed' || to === 'Expunged' ? [now()] : []), vm.id, from, vm.update_count]);
      if (result.changes !== 1) {
        const current = this.get(vm.id);
        throw ApiError.param(`VM ${vm.display_name} (${vm.uuid}) changed state to ${current.state} while moving from ${from} to ${to}; try again`);
      }
      const spec = STATE_EVENTS[to];
      if (spec) {
        this.engine.events.record({
          type: spec.event,
          state: spec.state,
          level: to === 'Error' || to === 'Unknown' ? 'ERROR' : 'INFO',
          description: `VM ${vm.display_name} (${vm.uuid}): ${from} -> ${to}${context.note ? ` (${context.note})` : ''}`,
          userId: context.caller?.userId,
          accountId: vm.account_id,
          domainId: vm.domain_id,
          resourceType: 'VirtualMachine',
          resourceUuid: vm.uuid,
          jobUuid: context.jobUuid,
        });
        if (spec.usage) {
          this.engine.events.usage({ type: spec.usage, accountId: vm.account_id, zoneId: vm.zone_id, resourceId: vm.id, resourceName: vm.instance_name, offeringId: vm.service_offering_id, templateId: vm.template_id ?? vm.iso_id ?? undefined });
        }
      }
      const updated = this.get(vm.id);
      this.engine.bus.emit('vm', { id: updated.uuid, state: updated.state, accountId: updated.account_id });
      return updated;
    })();
  }

  /**
   * The internal (hypervisor) name, R3: i-<user_id>-<vm_id>-<instance.name or display name>. It
   * stays an RFC 1123 label (R1) whatever the display name holds: see internalNameSuffix.
   */
  internalName(userId: number, vmId: number, displayName: string | undefined): string {
    const prefix = `i-${userId}-${vmId}-`;
    const fallback = internalNameSuffix(this.engine.settings.string('instance.name'), prefix.length) || 'VM';
    const fromDisplay = this.engine.settings.bool('vm.instancename.flag') && displayName ? internalNameSuffix(displayName, prefix.length) : '';
    return prefix + (fromDisplay || fallback);
  }

  /** Writes the VM, its root (and data) volume and NICs in one transaction; state Creating. */
  allocate(caller: Caller, input: DeployInput): VmRow {
    const uuid = randomUUID();
    const instanceName = `VM-${uuid}`;
    const displayName = input.displayName || input.name || instanceName;
    const hostname = input.name || (input.displayName && validHostname(input.displayName) ? input.displayName : instanceName);
    if (!validHostname(hostname)) {
      throw ApiError.param(ruleMessage('name', hostname, HOSTNAME_RULE));
    }
    const image = input.template ?? input.iso;
    if (!image) throw ApiError.param('templateid: a template or an ISO is required');
    return this.db.transaction(() => {
      const clash = this.db.prepare(`SELECT 1 FROM vm_instances WHERE hostname=? AND account_id=? AND zone_id=? AND state NOT IN ('Destroyed','Expunged')`).get(hostname, input.owner.accountId, input.zoneId);
      if (clash) throw ApiError.param(`name: a VM named ${hostname} already exists in this account and zone`);
      const clusterHypervisor = this.db.prepare(`SELECT hypervisor FROM clusters WHERE zone_id=? AND removed IS NULL ORDER BY id LIMIT 1`).get(input.zoneId) as { hypervisor: string } | undefined;
      const created = now();
      const placeholder = `pending-${uuid}`;
      const vmId = Number(
        this.db
          .prepare(
            `INSERT INTO vm_instances (uuid, instance_name, display_name, hostname, internal_name, state, account_id, user_id, domain_id, zone_id, pod_id, cluster_id,
               template_id, iso_id, service_offering_id, os_type_id, cpu_number, cpu_speed, memory, ha_enabled, is_dynamically_scalable, vm_group, user_data, hypervisor, created)
             VALUES (?,?,?,?,?,'Creating',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
          )
          .run(
            uuid, instanceName, displayName, hostname, placeholder, input.owner.accountId, input.owner.userId, input.owner.domainId, input.zoneId,
            input.podId ?? null, input.clusterId ?? null, input.template?.id ?? null, input.iso?.id ?? null, input.offering.id, image.os_type_id,
            input.cpuNumber, input.cpuSpeed, input.memory, input.haEnabled ? 1 : 0, input.dynamicallyScalable ? 1 : 0, input.group ?? null,
            input.userData ?? null, clusterHypervisor?.hypervisor ?? image.hypervisor, created,
          ).lastInsertRowid,
      );
      this.db.prepare('UPDATE vm_instances SET internal_name=? WHERE id=?').run(this.internalName(input.owner.userId, vmId, input.displayName), vmId);
      for (const [name, value] of Object.entries({ ...this.inheritedDetails(vmId, input.template), ...input.details })) {
        this.db.prepare('INSERT INTO vm_details (vm_id, name, value) VALUES (?,?,?)').run(vmId, name, value);
      }
      const rootSize = input.rootDiskSizeGiB !== undefined ? input.rootDiskSizeGiB * GiB : input.template ? Math.max(input.template.size, (input.offering.root_disk_size ?? 0) * GiB) : (input.diskOffering?.disk_size ?? 0);
      if (rootSize <= 0) {
        throw ApiError.param(input.template
          ? `rootdisksize: template ${input.template.name} does not record its size; give rootdisksize (GiB)`
          : 'diskofferingid: a blank VM from an ISO needs a disk offering (or size) for its root disk');
      }
      this.addVolume(vmId, input, 'ROOT', 0, rootSize, input.iso ? input.diskOffering?.id : undefined, input.template?.id);
      if (input.template && input.diskOffering) this.addVolume(vmId, input, 'DATADISK', 1, input.diskOffering.disk_size, input.diskOffering.id, undefined);
      input.networks.forEach((network, index) => this.addNic(vmId, network, index));
      for (const groupId of input.affinityGroupIds ?? []) this.db.prepare('INSERT INTO affinity_group_vms (group_id, vm_id) VALUES (?,?)').run(groupId, vmId);
      const vm = this.get(vmId);
      this.engine.events.record({ type: 'VM.CREATE', state: 'Started', description: `VM ${displayName} (${uuid}): allocated`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: uuid });
      return vm;
    })();
  }

  /** R30: the template's details of the keys the VM's driver honours (HypervisorDriver.detailOptions) pass to the VM at deploy. */
  private inheritedDetails(vmId: number, template: TemplateRow | undefined): Record<string, string> {
    if (!template) return {};
    const { hypervisor } = this.db.prepare('SELECT hypervisor FROM vm_instances WHERE id=?').get(vmId) as { hypervisor: string };
    const keys = Object.keys(this.engine.hosts.knownDriver(hypervisor)?.detailOptions ?? {});
    const details = JSON.parse(template.details) as Record<string, string>;
    return Object.fromEntries(keys.filter((k) => details[k] !== undefined).map((k) => [k, details[k]!]));
  }

  private addVolume(vmId: number, input: DeployInput, type: 'ROOT' | 'DATADISK', deviceId: number, size: number, diskOfferingId: number | undefined, templateId: number | undefined): void {
    const uuid = randomUUID();
    const { hypervisor } = this.db.prepare('SELECT hypervisor FROM vm_instances WHERE id=?').get(vmId) as { hypervisor: string };
    this.db
      .prepare('INSERT INTO volumes (uuid, name, vm_id, account_id, zone_id, volume_type, device_id, size, path, disk_offering_id, template_id, state, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)')
      .run(uuid, `${type}-${vmId}${type === 'DATADISK' ? `-${deviceId}` : ''}`, vmId, input.owner.accountId, input.zoneId, type, deviceId, size, this.engine.hosts.volumeName(hypervisor, uuid), diskOfferingId ?? null, templateId ?? null, 'Allocated', now());
  }

  private addNic(vmId: number, network: NetworkRow, deviceId: number): void {
    for (let attempt = 0; attempt < 8; attempt++) {
      const mac = randomMac();
      const taken = this.db.prepare('SELECT 1 FROM nics WHERE mac_address=? AND removed IS NULL').get(mac);
      if (taken) continue;
      const ip = network.guest_type === 'L2' ? null : this.freeIp(network);
      this.db
        .prepare('INSERT INTO nics (uuid, vm_id, network_id, mac_address, ip4_address, device_id, is_default, state, created) VALUES (?,?,?,?,?,?,?,?,?)')
        .run(randomUUID(), vmId, network.id, mac, ip, deviceId, deviceId === 0 ? 1 : 0, 'Reserved', now());
      return;
    }
    throw ApiError.internal('could not find a free MAC address');
  }

  /** The first address of the network's range no live NIC holds (deploy, and import without an IP). */
  freeIp(network: NetworkRow): string | null {
    if (!network.start_ip || !network.end_ip) return null;
    const toNum = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
    const toIp = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
    const used = new Set((this.db.prepare('SELECT ip4_address FROM nics WHERE network_id=? AND removed IS NULL AND ip4_address IS NOT NULL').all(network.id) as { ip4_address: string }[]).map((r) => r.ip4_address));
    for (let n = toNum(network.start_ip); n <= toNum(network.end_ip); n++) {
      if (!used.has(toIp(n))) return toIp(n);
    }
    throw ApiError.capacity(`network ${network.name} has no free IP address left`);
  }

  /** The async half of deploy: Created, or started straight away. */
  deployWork(caller: Caller, vm: VmRow, startVm: boolean, placement: { podId?: number; clusterId?: number; hostId?: number }): AsyncWork {
    return vmJob({ engine: this.engine, caller }, vm, async (jobUuid) => {
      if (startVm) return this.start(caller, this.get(vm.id), placement, jobUuid);
      const created = this.transition(this.get(vm.id), 'Created', { caller, jobUuid });
      this.db.prepare(`UPDATE volumes SET state='Allocated' WHERE vm_id=?`).run(vm.id);
      return created;
    });
  }

  /** The VmSpec the hypervisor gets on every start (R9: start rebuilds from Kiln's database). */
  spec(vm: VmRow): VmSpec {
    const volumes = this.db.prepare('SELECT * FROM volumes WHERE vm_id=? AND removed IS NULL ORDER BY device_id').all(vm.id) as VolumeRow[];
    const nics = this.db.prepare('SELECT n.*, w.name AS network_name, w.vlan, w.isolated_pvlan, w.isolated_pvlan_type FROM nics n JOIN networks w ON w.id=n.network_id WHERE n.vm_id=? AND n.removed IS NULL ORDER BY n.device_id').all(vm.id) as (NicRow & NicNetwork)[];
    const template = vm.template_id ? (this.db.prepare('SELECT * FROM templates WHERE id=?').get(vm.template_id) as TemplateRow) : undefined;
    const iso = vm.iso_id ? (this.db.prepare('SELECT * FROM templates WHERE id=?').get(vm.iso_id) as TemplateRow) : undefined;
    const templateDetails = template ? (JSON.parse(template.details) as Record<string, string>) : {};
    const details = vmSpecDetails(this.db, vm.id);
    const offering = this.db.prepare('SELECT * FROM service_offerings WHERE id=?').get(vm.service_offering_id) as OfferingRow;
    const scalable = vm.is_dynamically_scalable === 1 && offering.dynamic_scaling_enabled === 1;
    return {
      ref: vm.ref ?? undefined,
      internalName: vm.internal_name,
      displayName: vm.display_name,
      uuid: vm.uuid,
      cpuNumber: vm.cpu_number,
      cpuSpeedMhz: vm.cpu_speed,
      memoryMiB: vm.memory,
      highAvailability: vm.ha_enabled === 1,
      // The offering's GPU (pciDevice/vgpuType details, R66): the driver gives the VM its vGPU.
      ...offeringGpu(offering),
      maxCpuNumber: scalable ? Math.max(vm.cpu_number, offering.max_cpu_number ?? vm.cpu_number * 2) : undefined,
      maxMemoryMiB: scalable ? Math.max(vm.memory, offering.max_memory ?? vm.memory * 2) : undefined,
      // The bus is the driver's default (DriverDefaults.diskBus) unless a detail names one.
      disks: volumes.map((v) => ({
        name: v.path ?? this.engine.hosts.volumeName(vm.hypervisor, v.uuid),
        ref: v.ref ?? undefined,
        sizeBytes: v.size,
        backingImage: v.volume_type === 'ROOT' && template?.image_path ? template.image_path : undefined,
        device: 'disk' as const,
        pool: v.pool ?? undefined,
      })),
      nics: nics.map((n) => ({ macAddress: n.mac_address, network: n.network_name, vlan: n.vlan ?? undefined, ...nicPrivateVlan(n) })),
      isoPath: iso?.image_path ?? undefined,
      kernel: templateDetails['kernel'],
      initrd: templateDetails['initrd'],
      kernelArgs: templateDetails['kernelArgs'],
      details,
      appliance: applianceSpec(this.engine, vm, template),
      ...(vm.adopted === 1 ? { keepDefinition: true } : {}),
    };
  }

  /** Long-operation options for a job: the hypervisor's task ref is stored on the job as soon as it exists (reattach after a restart). */
  taskOptions(jobUuid: string | undefined): OperationOptions {
    return jobUuid ? { onTask: (ref) => this.engine.jobs.recordTask(jobUuid, ref) } : {};
  }

  /** Keeps the refs the driver gave the VM and its disks, so later calls address them by ref; returns the row as stored. */
  private storeRefs(vm: VmRow, defined: DefineResult): VmRow {
    if (defined.ref === vm.ref && !defined.disks?.length) return vm;
    this.db.prepare('UPDATE vm_instances SET ref=? WHERE id=?').run(defined.ref, vm.id);
    // The pool the driver says each disk is on (a datastore vSphere chose for an untagged disk) is its pool text; recordDefinedPools maps it onto a record.
    const disk = this.db.prepare('UPDATE volumes SET ref=?, pool=COALESCE(?, pool) WHERE vm_id=? AND path=? AND removed IS NULL');
    for (const d of defined.disks ?? []) disk.run(d.ref, d.pool ?? null, vm.id, d.name);
    return { ...vm, ref: defined.ref };
  }

  /**
   * Places the VM, defines it from the database on the host, and powers it on. A failure leaves
   * it settled: a deploy's VM (Creating) in Error, a Created one Created, an Error one in Error,
   * any other Stopped; and the host where a definition was made is recorded (last_host_id) so
   * that destroy and expunge remove it there.
   */
  async start(caller: Caller, vm: VmRow, placement: { podId?: number; clusterId?: number; hostId?: number }, jobUuid?: string): Promise<VmRow> {
    const previous = vm.state;
    const failedState: VmState = previous === 'Creating' ? 'Error' : previous === 'Created' || previous === 'Error' ? previous : 'Stopped';
    let chosen: PlacementHost;
    let session: HostSession;
    try {
      // Not on disks a restore is still putting in place (one cut short is finished first).
      this.engine.backups.refuseWhileRestoring(vm);
      // An imported VM whose definition and disks only its own host has starts there or nowhere (adopted-moves.ts).
      const pin = await adoptedPin(this.engine, vm);
      if (pin && placement.hostId !== undefined && placement.hostId !== pin.hostId) refuseElsewhere(pin, 'hostid');
      const preferred = pin ? pin.hostId : placement.hostId ?? placement.clusterId ?? placement.podId ? undefined : vm.last_host_id ?? undefined;
      const request = requestForVm(this.db, vm, placement);
      // Prefer the last host (its disks and caches are there) when it still passes every filter,
      // affinity included, so a restart never lands beside an anti-affinity peer (CloudStack #7202).
      const lastHost = preferred !== undefined ? this.engine.planner.plan({ ...request, hostId: preferred }) : undefined;
      if (pin && !lastHost?.host) refuseElsewhere({ ...pin, reason: `${pin.reason}, which cannot take it now` }, 'id');
      const outcome = lastHost?.host ? lastHost : this.engine.planner.require(request, `VM ${vm.display_name}`);
      chosen = outcome.host!;
      this.lastPlacement.set(vm.id, outcome);
      // Reach the host before touching the VM's state: an unreachable host changes nothing but a deploy's.
      session = await this.engine.hosts.session(chosen.id);
    } catch (error) {
      // A deploy whose placement fails in its job must not stay Creating (nothing can act on that).
      if (previous === 'Creating') this.transition(this.get(vm.id), 'Error', { caller, jobUuid, note: `deploy failed: ${errorText(error)}` });
      throw error;
    }
    let current = this.transition(vm, 'Starting', { caller, jobUuid, hostId: chosen.id });
    this.db.prepare('UPDATE vm_instances SET pod_id=?, cluster_id=? WHERE id=?').run(chosen.pod_id, chosen.cluster_id, vm.id);
    try {
      // Recorded before define, which may leave a domain or disks behind even when it fails.
      this.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(chosen.id, vm.id);
      // A domain of this VM already running on the chosen host (a start that a dead process left
      // behind) is adopted rather than defined again over it. Drivers refuse to redefine a running
      // domain, so the state is read only when define fails, not on every start.
      let adopted = false;
      try {
        await carryDefinition(this.engine, current, session, chosen.id, jobUuid);
        // Disks not made yet whose offerings carry storage tags get a pool with those tags (storage/pool-choice.ts).
        await placeTaggedVolumes(this.engine, current.id, chosen);
        await stageImages(this.engine, session, current);
        // An imported VM keeps its own definition (keepDefinition), which no config drive joins.
        const configDrive = current.adopted === 1 ? undefined : await prepareGuestMetadata(this.engine, session, current);
        const spec = withGuestMetadata(this.spec(current), configDrive);
        requirePrivateVlans(spec, session, chosen.name);
        // Its host knows the zone's other private-VLAN ports, and they know it, before it runs (private-vlan-peers.ts).
        if (spec.nics.some((n) => n.privateVlan)) await publishPrivateVlanPeers(this.engine, current.zone_id, { required: chosen.id });
        current = this.storeRefs(current, await session.define(spec, this.taskOptions(jobUuid)));
      } catch (error) {
        const state = await session.powerState(vmRef(current)).catch(() => undefined);
        if (state !== 'Running') throw error;
        adopted = true;
      }
      if (vm.last_host_id !== chosen.id) {
        // Best effort: a VM (an HA restart above all) must start even if its snapshots' records cannot follow;
        // revert and delete give them to the host again before they act.
        await carrySnapshots(this.engine, current, session).catch((error: unknown) =>
          this.engine.events.record({ type: 'VMSNAPSHOT.CREATE', level: 'WARN', description: `VM ${vm.display_name} (${vm.uuid}): its snapshots' records could not be given to host ${chosen.name}: ${error instanceof Error ? error.message : String(error)}`, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid }),
        );
      }
      if (!adopted) await session.start(vmRef(current), this.taskOptions(jobUuid));
      this.db.prepare(`UPDATE volumes SET state='Ready' WHERE vm_id=? AND removed IS NULL`).run(vm.id);
      // Every made disk on its pool's record now, not at the next refresh: placement judges the VM by it.
      await recordDefinedPools(this.engine, vm.id, chosen, session);
      current = this.transition(this.get(vm.id), 'Running', { caller, jobUuid, note: `on host ${chosen.name}` });
      await this.engine.hosts.refreshGpus(chosen.id);
      if (vm.last_host_id !== null && vm.last_host_id !== chosen.id) await this.forgetStaleDefinition(current, vm.last_host_id);
      // R18 needs the memory the guest booted with, not what live scaling later gave it.
      this.db.prepare(`INSERT INTO vm_details (vm_id, name, value, display) VALUES (?, 'kiln.startMemory', ?, 0) ON CONFLICT(vm_id, name) DO UPDATE SET value=excluded.value`).run(vm.id, String(current.memory));
      return current;
    } catch (error) {
      this.transition(this.get(vm.id), failedState, { caller, jobUuid, hostId: null, note: `start failed on host ${chosen.name}: ${errorText(error)}` });
      throw error;
    }
  }

  /**
   * One definition per VM: once it runs on a new host, the copy still defined on HOSTID goes (its
   * disks stay, on shared storage, and its snapshots' records went along with the start); left for
   * the HA monitor's pass when that host is not Up.
   */
  async forgetStaleDefinition(vm: VmRow, hostId: number): Promise<boolean> {
    const host = this.db.prepare('SELECT name, state FROM hosts WHERE id=?').get(hostId) as { name: string; state: string } | undefined;
    if (host?.state !== 'Up') return false;
    try {
      const session = await this.engine.hosts.session(hostId);
      if ((await session.powerState(vmRef(vm))) === 'Missing') return false;
      // Nothing may have moved the VM meanwhile (a start onto that very host, say): the row is the arbiter.
      if (this.get(vm.id).update_count !== vm.update_count) return false;
      await session.destroy(vmRef(vm), { removeDisks: [] });
      this.engine.events.record({ type: 'VM.UPDATE', description: `VM ${vm.display_name} (${vm.uuid}): its old definition on host ${host.name} removed (${vm.state === 'Destroyed' ? 'the VM was destroyed while the host could not be reached; disks kept until expunge' : 'it now lives on another host; disks kept'})`, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
      return true;
    } catch (error) {
      this.engine.log.warn(`could not remove the old definition of ${vm.internal_name} on host ${host.name}: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  async stop(caller: Caller, vm: VmRow, forced: boolean, jobUuid?: string): Promise<VmRow> {
    if (vm.state === 'Stopped') return vm;
    const hostId = vm.host_id;
    let session;
    let unreachable = false;
    try {
      session = hostId !== null ? await this.engine.hosts.session(hostId) : undefined;
    } catch (error) {
      // CloudStack's forced stop marks the VM Stopped even when the host cannot be told;
      // the fence in the HA monitor powers it off there if the host comes back.
      if (!forced) throw error;
      unreachable = true;
    }
    let current = this.transition(vm, 'Stopping', { caller, jobUuid, note: forced ? (unreachable ? 'forced; host unreachable, marked Stopped' : 'forced') : undefined });
    try {
      if (session) {
        await session.stop(vmRef(current), { forced, timeoutMs: this.engine.settings.int('vm.stop.timeout') * 1000, ...this.taskOptions(jobUuid) });
      }
    } catch (error) {
      // Settle on what the host reports: a domain that did power off (or is gone) is Stopped.
      const power = session ? await session.powerState(vmRef(current)).catch(() => undefined) : undefined;
      if (power === 'Running' || power === undefined || power === 'Paused') {
        this.transition(this.get(vm.id), 'Running', { caller, jobUuid, note: `stop failed: ${errorText(error)}` });
        throw error;
      }
      this.engine.log.warn(`stop of ${current.internal_name} reported an error, but its host says ${power}: ${errorText(error)}`);
    }
    current = this.transition(this.get(vm.id), 'Stopped', { caller, jobUuid, hostId: null });
    if (hostId !== null) this.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(hostId, vm.id);
    if (hostId !== null) await this.engine.hosts.refreshGpus(hostId);
    return current;
  }

  private hostName(hostId: number): string {
    return (this.db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(hostId) as string | undefined) ?? String(hostId);
  }

  /** 534 at once when the VM's host is known to be unreachable, before any job or state change. */
  assertHostReachable(vm: VmRow): void {
    if (vm.host_id === null) return;
    const host = this.db.prepare('SELECT name, state, last_error FROM hosts WHERE id=?').get(vm.host_id) as { name: string; state: string; last_error: string | null };
    if (host.state === 'Disconnected' || host.state === 'Down' || host.state === 'Alert') {
      throw ApiError.unavailable(`host ${host.name} of VM ${vm.display_name} is ${host.state}${host.last_error ? `: ${host.last_error}` : ''}`);
    }
  }

  /** Reboots in place (R9: no rebuild), unless the VM resets its root disk on reboot (R19). */
  async reboot(caller: Caller, vm: VmRow, jobUuid?: string, forced = false): Promise<VmRow> {
    if (vm.state !== 'Running' || vm.host_id === null) throw ApiError.param(`VM ${vm.display_name} (${vm.uuid}) is in state ${vm.state}; only a Running VM can be rebooted`);
    if (resetsOnReboot(this.engine, vm)) {
      const hostId = vm.host_id;
      const stopped = await this.stop(caller, vm, true, jobUuid);
      const template = stopped.template_id !== null ? (this.db.prepare('SELECT * FROM templates WHERE id=?').get(stopped.template_id) as TemplateRow) : undefined;
      await recreateRootDisk(this.engine, stopped, template);
      this.engine.events.record({ type: 'VM.REBOOT', description: `VM ${vm.display_name} (${vm.uuid}) rebooted with a fresh root disk (reset on reboot)`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid });
      return this.start(caller, this.get(vm.id), { hostId }, jobUuid);
    }
    const session = await this.engine.hosts.session(vm.host_id);
    if (forced) await session.reset(vmRef(vm), this.taskOptions(jobUuid));
    else await session.reboot(vmRef(vm), this.taskOptions(jobUuid));
    this.engine.events.record({ type: 'VM.REBOOT', description: `VM ${vm.display_name} (${vm.uuid}) rebooted`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid, jobUuid });
    return this.get(vm.id);
  }

  /**
   * Stops a running VM first, removes its definition from the host, keeps its disks until expunge.
   * A host that refuses leaves the VM in Error (which can be destroyed again); a host that does not
   * answer (unreachable, or a command that timed out: didNotAnswer) does not stop it: a running VM
   * stays Running and the destroy fails saying so; a stopped one is Destroyed and the host's share
   * waits in host_cleanups (an expunge in the same job owes the rest at once, without asking the
   * host again).
   */
  async destroy(caller: Caller, vm: VmRow, options: { expunge: boolean; volumeIds: number[] }, jobUuid?: string): Promise<VmRow> {
    let current = vm;
    if (current.state === 'Running' || current.state === 'Stopping' || current.state === 'Unknown') {
      try {
        current = await this.stop(caller, current, false, jobUuid);
      } catch (error) {
        if (!didNotAnswer(error)) throw error;
        throw ApiError.unavailable(`VM ${vm.display_name} is not destroyed: its host ${current.host_id !== null ? this.hostName(current.host_id) : '?'} did not answer the stop (${errorText(error)}); the VM is ${this.get(vm.id).state} as before`);
      }
    }
    current = this.transition(current, 'Destroying', { caller, jobUuid });
    const silent: HostSilence = {};
    current = await this.finishDestroy(caller, current, options.volumeIds, jobUuid, silent);
    if (options.expunge) current = await this.expunge(caller, current, jobUuid, silent);
    return current;
  }

  /**
   * The host's half of a destroy, for a VM in Destroying (a destroy job, or one a dead process left).
   * SILENT, when given, learns that the host did not answer (for the expunge that follows).
   */
  async finishDestroy(caller: Caller | undefined, vm: VmRow, volumeIds: number[], jobUuid?: string, silent?: HostSilence): Promise<VmRow> {
    const dataDisks = volumeIds.length
      ? (this.db.prepare(`SELECT path FROM volumes WHERE id IN (${volumeIds.map(() => '?').join(',')})`).all(...volumeIds) as { path: string }[]).map((v) => v.path)
      : [];
    let note: string | undefined;
    try {
      // R36: a destroyed VM's snapshots go with it, from the host's disks as well as the list.
      await removeSnapshotsOf(this.engine, vm, { caller, jobUuid, note: 'the VM was destroyed' });
      const hostId = vm.last_host_id ?? vm.host_id;
      if (hostId !== null) {
        try {
          const session = await this.engine.hosts.session(hostId);
          if ((await session.powerState(vmRef(vm))) !== 'Missing') {
            // Data disks not named in volumeids outlive the VM: out of its definition before it goes.
            await takeOutOfDefinition(session, vm, keptDataVolumes(this.db, vm.id, volumeIds));
            await session.destroy(vmRef(vm), { removeDisks: dataDisks, ...this.taskOptions(jobUuid) });
          }
          else if (dataDisks.length) await session.deleteDisks(dataDisks);
        } catch (error) {
          if (!didNotAnswer(error)) throw error;
          // The definition stays recorded (last_host_id): the HA pass undefines a Destroyed VM's copy, expunge owes the rest.
          if (dataDisks.length) owe(this.engine, hostId, vm, { disks: dataDisks, reason: 'data volumes deleted with the destroyed VM' });
          note = `host ${this.hostName(hostId)} did not answer (${errorText(error)}); its definition there is removed when the host answers`;
          if (silent) Object.assign(silent, { hostId, error: errorText(error) });
        }
      }
      for (const volumeId of volumeIds) {
        this.db.prepare(`UPDATE volumes SET state='Expunged', removed=?, vm_id=NULL WHERE id=?`).run(now(), volumeId);
        this.engine.events.usage({ type: 'VOLUME.DELETE', accountId: vm.account_id, zoneId: vm.zone_id, resourceId: volumeId });
      }
    } catch (error) {
      this.transition(this.get(vm.id), 'Error', { caller, jobUuid, note: `destroy failed: ${errorText(error)}` });
      throw error;
    }
    return this.transition(this.get(vm.id), 'Destroyed', { caller, jobUuid, hostId: null, note });
  }

  recover(caller: Caller, vm: VmRow): VmRow {
    if (vm.state !== 'Destroyed') throw ApiError.param(`VM ${vm.display_name} (${vm.uuid}) is in state ${vm.state}; only a Destroyed VM can be recovered`);
    const current = this.transition(vm, 'Stopped', { caller, note: 'recovered' });
    this.db.prepare('UPDATE vm_instances SET destroyed_at=NULL WHERE id=?').run(vm.id);
    this.engine.events.record({ type: 'VM.RECOVER', description: `VM ${vm.display_name} (${vm.uuid}) recovered`, userId: caller.userId, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
    return current;
  }

  /**
   * Deletes disks on the host and frees NICs (MAC and IP) and volumes for good. SILENT: the host
   * did not answer this job's destroy a moment ago, so it is not asked again (its share is owed).
   */
  async expunge(caller: Caller | undefined, vm: VmRow, jobUuid?: string, silent?: HostSilence): Promise<VmRow> {
    if (vm.state !== 'Destroyed' && vm.state !== 'Error' && vm.state !== 'Created') {
      throw ApiError.param(`VM ${vm.display_name} (${vm.uuid}) is in state ${vm.state}; destroy it before expunging`);
    }
    return this.finishExpunge(caller, this.transition(vm, 'Expunging', { caller, jobUuid }), jobUuid, silent);
  }

  /**
   * The host's half of an expunge and the rows', for a VM in Expunging (an expunge job, or one a
   * dead process left). A host that refuses leaves the VM in Error; one that does not answer
   * (didNotAnswer: unreachable, or a command timed out, which may or may not have run) owes its
   * share (host_cleanups, done with the VM's identity checked) and the VM is expunged all the same.
   */
  async finishExpunge(caller: Caller | undefined, vm: VmRow, jobUuid?: string, silent?: HostSilence): Promise<VmRow> {
    let current = vm;
    // Its data disks are detached, not deleted (kept-disks.ts); the rest goes with the VM.
    const kept = keptDataVolumes(this.db, vm.id);
    const volumes = (this.db.prepare('SELECT * FROM volumes WHERE vm_id=? AND removed IS NULL').all(vm.id) as VolumeRow[]).filter((v) => !kept.some((k) => k.id === v.id));
    // The config drive's copy on the host goes with the disks (destroy removes only a domain's disks).
    const drive = configDriveDisks(this.engine, vm.uuid);
    const disks = [...volumes.map((v) => v.path ?? ''), ...drive].filter(Boolean);
    const hadPrivateVlan = onPrivateVlan(this.engine, vm.id);
    let owedNote: string | undefined;
    try {
      // A restore of the VM cut short is abandoned: what it wrote beside the disks goes with them.
      await this.engine.backups.abandonRestores(current);
      const hostId = current.last_host_id ?? current.host_id;
      if (hostId !== null) {
        try {
          if (silent?.hostId === hostId) throw new HostDidNotAnswer(silent.error ?? 'no answer');
          const session = await this.engine.hosts.session(hostId);
          if ((await session.powerState(vmRef(current))) !== 'Missing') {
            await takeOutOfDefinition(session, current, kept);
            await session.destroy(vmRef(current), { removeDisks: 'all', ...this.taskOptions(jobUuid) });
            if (drive.length) await session.deleteDisks(drive);
          } else await session.deleteDisks(disks);
          // R71: the VM's GPU objects went with it; the host's capacity is read again now.
          await this.engine.hosts.refreshGpus(hostId);
        } catch (error) {
          if (!(error instanceof HostDidNotAnswer) && !didNotAnswer(error)) throw error;
          owe(this.engine, hostId, current, { domain: current.internal_name, disks, reason: `VM ${current.display_name} expunged` });
          owedNote = `host ${this.hostName(hostId)} did not answer (${errorText(error)}); its definition ${current.internal_name} and ${disks.length} disk(s) are removed there when it answers`;
        }
      }
      await this.removeOtherDefinitions(current, hostId);
    } catch (error) {
      this.transition(this.get(vm.id), 'Error', { caller, jobUuid, note: `expunge failed: ${errorText(error)}` });
      throw error;
    }
    this.db.transaction(() => {
      const stamp = now();
      detachKept(this.db, kept, current.last_host_id ?? current.host_id);
      this.db.prepare(`UPDATE volumes SET state='Expunged', removed=? WHERE vm_id=? AND removed IS NULL`).run(stamp, vm.id);
      this.db.prepare(`UPDATE nics SET state='Deallocated', removed=? WHERE vm_id=? AND removed IS NULL`).run(stamp, vm.id);
      this.db.prepare('DELETE FROM affinity_group_vms WHERE vm_id=?').run(vm.id);
      // Snapshots of a VM that never got through destroy (Error) went with its disks.
      for (const s of this.db.prepare('SELECT id, name FROM vm_snapshots WHERE vm_id=? AND removed IS NULL').all(vm.id) as { id: number; name: string }[]) {
        this.db.prepare(`UPDATE vm_snapshots SET state='Removed', is_current=0, removed=? WHERE id=?`).run(stamp, s.id);
        for (const type of ['VMSNAPSHOT.DELETE', 'VMSNAPSHOT.OFF_PRIMARY']) this.engine.events.usage({ type, accountId: vm.account_id, zoneId: vm.zone_id, resourceId: s.id, resourceName: s.name });
      }
      for (const v of volumes) this.engine.events.usage({ type: 'VOLUME.DELETE', accountId: vm.account_id, zoneId: vm.zone_id, resourceId: v.id, resourceName: v.name });
    })();
    current = this.transition(this.get(vm.id), 'Expunged', { caller, jobUuid, note: owedNote });
    forgetConfigDrive(this.engine, vm.uuid);
    // Its private-VLAN ports leave the zone's hosts' view (private-vlan-peers.ts).
    if (hadPrivateVlan) await republishPrivateVlanPeers(this.engine, vm.zone_id);
    // A deleted template's host copies that this VM still used can go now (images/host-copies.ts).
    if (vm.template_id !== null) await runCopyRemovals(this.engine, { templateId: vm.template_id }).catch((error: unknown) => this.engine.log.warn(`image copy removals after expunging ${vm.uuid}: ${errorText(error)}`));
    return current;
  }

  /**
   * An expunge removes every definition of the VM, not only where it lived: an HA restart while the
   * old host was away can leave a copy defined there (forgetStaleDefinition could not reach it, or
   * failed). The zone's other Up hosts of its hypervisor are asked; a definition with the VM's UUID
   * goes (its disks went with the VM's own). A host that does not answer is left to the HA pass,
   * which removes an expunged VM's copy when it sees one.
   */
  private async removeOtherDefinitions(vm: VmRow, home: number | null): Promise<void> {
    const others = this.db
      .prepare(`SELECT id, name FROM hosts WHERE zone_id=? AND hypervisor=? AND removed IS NULL AND state='Up' AND id<>?`)
      .all(vm.zone_id, vm.hypervisor, home ?? -1) as { id: number; name: string }[];
    for (const host of others) {
      try {
        const session = await this.engine.hosts.session(host.id);
        const found = (await session.listInstances()).find((i) => i.name === vmRef(vm) || i.name === vm.internal_name);
        // Only a domain with the VM's own UUID (or the one its import adopted) is Kiln's: a namesake may belong to another Kiln sharing the host.
        if (!found || !isOwnInstance(this.db, vm, found)) continue;
        await session.destroy(found.name, { removeDisks: [] });
        this.engine.events.record({ type: 'VM.EXPUNGE', description: `VM ${vm.display_name} (${vm.uuid}): a stale definition on host ${host.name} removed with the expunge`, accountId: vm.account_id, domainId: vm.domain_id, resourceType: 'VirtualMachine', resourceUuid: vm.uuid });
      } catch (error) {
        this.engine.log.warn(`expunge of ${vm.internal_name}: could not check host ${host.name} for a stale definition: ${errorText(error)}`);
      }
    }
  }

  /** The serial console of a running VM the caller may see (R31), as a duplex byte stream. */
  async openConsole(caller: Caller, uuid: string): Promise<import('node:stream').Duplex> {
    const vm = this.forCaller(caller, uuid, 'virtualmachineid');
    if (vm.state !== 'Running' || vm.host_id === null) throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; the console is available only while it is Running`);
    const serial = (await this.engine.hosts.session(vm.host_id)).console?.serial;
    if (!serial) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} has no serial console on its hypervisor`);
    return serial.open(vmRef(vm));
  }

  /** Expunges destroyed VMs older than expunge.delay; the sweeper calls this every expunge.interval. */
  async sweepExpunge(): Promise<number> {
    const cutoff = new Date(Date.now() - this.engine.settings.int('expunge.delay') * 1000).toISOString();
    const due = this.db.prepare(`SELECT * FROM vm_instances WHERE state='Destroyed' AND destroyed_at<=?`).all(cutoff) as VmRow[];
    let done = 0;
    for (const vm of due) {
      try {
        await this.expunge(undefined, vm);
        done++;
      } catch (error) {
        this.engine.log.warn(`expunge sweeper: ${vm.uuid}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return done;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** That a VM's host did not answer a destroy (destroy() hands it to the expunge of the same job). */
interface HostSilence {
  hostId?: number;
  error?: string;
}

/** The expunge of a destroy whose host did not answer: not asked again, its share owed. */
class HostDidNotAnswer extends Error {}

/** RFC 1123 allows 63 characters in a label; the internal name is one label. */
const LABEL_MAX = 63;

/**
 * The display-name part of an internal name, made RFC 1123-safe as a hostname label is: every run
 * of characters other than ASCII letters, digits and hyphens becomes a hyphen, hyphens at either
 * end go, and it is cut to fit the label after PREFIXLENGTH characters. `has space` becomes
 * `has-space`, `x;$(id)<b>` becomes `x-id-b`; a name with nothing usable left gives ''.
 */
export function internalNameSuffix(name: string, prefixLength: number): string {
  const room = Math.max(0, LABEL_MAX - prefixLength);
  return name.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, room).replace(/-+$/, '');
}

/** A locally administered unicast MAC in CloudStack's guest range 02:00:xx:xx:xx:xx. */
export function randomMac(): string {
  const bytes = randomBytes(4);
  return ['02', '00', ...[...bytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
