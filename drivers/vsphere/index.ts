/**
 * The vSphere driver on the driver contract (drivers/types.ts). connect() opens (or shares) one
 * VsphereEndpoint per vCenter and user: one SOAP session, one inventory cache fed by one change
 * stream, whatever number of Kiln hosts sit behind it. An Endpoint is scoped to the datacenter
 * and cluster its URL names (https://VCENTER/DC/CLUSTER) or to a standalone ESXi; its hosts'
 * sessions address VMs, snapshots and datastores by MoRef value (vm-42, snapshot-7, datastore-3).
 */
import {
  DriverError,
  type ConnectionForm, type ConnectionInput, type DefineResult, type DriverCapabilities, type DriverDefaults, type Endpoint, type EndpointEvent,
  type EndpointHost, type EndpointSpec, type HostInventory, type HostSession, type HypervisorDriver, type InstanceInfo, type MigrationFacet,
  type MigrationRequest, type MigrationTicket, type OperationOptions, type OperationResult, type PowerState, type Ref, type SnapshotFacet,
  type StopOptions, type StorageFacet, type PrimaryStorageFacet, type TaskOutcome, type TrustAnchor, type VmSpec, type ConsoleFacet, type ImportFacet,
  type VolumeFacet,
} from '../types.js';
import { checkPrivateVlans } from './private-vlan.js';
import { InitiatedBy } from '../initiated-by.js';
import { SharedConnections } from '../common/shared-connections.js';
import { keepingFirstTask, withTaskRef } from '../common/task-ref.js';
import { probeCertificateTrust } from '../tls-trust.js';
import { VsphereEndpoint, type EndpointEvent as VsEvent } from './endpoint.js';
import type { CachedObject } from './inventory.js';
import { mapped, toDriverError } from './errors.js';
import { fromVcenterName, parseVsphereUrl, toVcenterName } from './names.js';
import { MoRef, asArray, asMoRef, asNumber, asObject, asString, isVimFault, normalizeThumbprint, reattachTask, vm as vim } from './soap/index.js';
import { acquireConsole } from './console.js';
import { importAppliance, OVA_APPLIANCES } from './ova/index.js';
import { DETAIL_OPTIONS, detailsOfDevices, type VmwareDetails } from './vm-details.js';
import { applyControllers, deployVm, destroyVm, kilnMark, placementOf, powerOn, rebootVm, resetVm, runTask, stopVm, vmsNamed } from './vm-lifecycle.js';
import { removeStagedImage, stageImage, stagedIsoPath } from './images.js';
import { performMigration, prepareMigration } from './vm-migration.js';
import { scaleVm } from './vm-scaling.js';
import { vsphereImport } from './vm-import.js';
import { VSPHERE_NETWORK_DISCOVERY } from './network-discovery.js';
import { deleteVolumeFiles, vsphereVolumes } from './vm-volumes.js';
import { bootOrderFor, cdromDrives, driveChanges, isoIn } from './vm-cdrom.js';
import { createSnapshot, findSnapshot, removeSnapshot, revertSnapshot, snapshotTree } from './vm-snapshots.js';

export const VSPHERE_CAPABILITIES: DriverCapabilities = {
  liveMigration: true,
  storageMotion: true,
  crossClusterMigration: true,
  memorySnapshots: true,
  diskSnapshotsWhileRunning: true,
  quiesceSnapshots: true,
  migrateWithSnapshots: true,
  liveScaleCpu: true,
  liveScaleMemory: true,
  liveScaleNeedsGuestTools: true,
  serialConsole: false,
  vnc: false,
  gpu: false,
  // Private VLANs are the distributed switch's; define checks the portgroup is the network's (private-vlan.ts).
  privateVlans: true,
  // CloudStack's hypervisor_capabilities for VMware 6.x/7.x.
  maxGuestsLimit: 1024,
};

// Templates: a RAW or QCOW2 disk becomes a flat VMDK (images.ts; QCOW2 converted as it streams), an OVA is imported as its OVF says.
export const VSPHERE_DEFAULTS: DriverDefaults = { diskFormat: 'vmdk', diskBus: 'scsi', nicAdapter: 'Vmxnet3', templateFormats: ['RAW', 'QCOW2', 'OVA', 'ISO'] };

const DEFAULT_STOP_TIMEOUT_MS = 180_000;

const POWER: Record<string, PowerState> = { poweredOn: 'Running', poweredOff: 'Stopped', suspended: 'Paused' };
const powerOf = (s: unknown): PowerState => POWER[String(s)] ?? 'Unknown';

/** A cached VM as listInstances reports it (no devices: the import facet reads those in bulk). */
export function cachedInstance(v: CachedObject): InstanceInfo {
  return {
    ref: v.ref.value,
    name: fromVcenterName(asString(v.props['name']) ?? ''),
    uuid: asString(v.props['config.uuid']),
    powerState: powerOf(v.props['runtime.powerState']),
    cpuNumber: asNumber(v.props['config.hardware.numCPU']) ?? 0,
    memoryMiB: asNumber(v.props['config.hardware.memoryMB']) ?? 0,
    isTemplate: v.props['config.template'] === true,
    disks: [],
    nics: [],
  };
}

const vmRef = (ref: Ref): MoRef => new MoRef('VirtualMachine', ref);

export class VsphereDriver implements HypervisorDriver {
  readonly hypervisor = 'VMware' as const;
  readonly capabilities = VSPHERE_CAPABILITIES;
  readonly defaults = VSPHERE_DEFAULTS;
  /** OVA templates are imported as their OVF describes them (ova/). */
  readonly appliances = OVA_APPLIANCES;
  readonly detailOptions: Record<string, string[]> = DETAIL_OPTIONS;
  /** An endpoint's portgroups, VLANs and VMs, read before it is added (kiln discover-networks uses the same). */
  readonly networkDiscovery = VSPHERE_NETWORK_DISCOVERY;
  readonly connectionForm: ConnectionForm = {
    urlExample: 'https://vcenter.example.com/Datacenter/Cluster',
    urlRule: 'a vCenter cluster is https://VCENTER[:port]/DATACENTER/CLUSTER; a standalone ESXi host is https://ESXI[:port]',
    credentials: [['username', 'password']],
    adds: 'cluster',
    trust: 'tls-certificate',
  };
  /** One VsphereEndpoint per vCenter, user and pin, shared by every connect() to it (one session, one stream). */
  private readonly endpoints = new SharedConnections<VsphereEndpoint>((ep) => ep.close());

  constructor(private readonly tuning: { pageSize?: number; maxWaitSeconds?: number; stopTimeoutMs?: number } = {}) {}

  validateConnection(input: ConnectionInput, scope: 'host' | 'cluster'): { url: string; name: string } {
    let loc;
    try {
      loc = parseVsphereUrl(input.url);
    } catch (e) {
      throw new DriverError(`url: ${(e as Error).message}`, 'invalid', { param: 'url' });
    }
    if (scope === 'cluster' && (!loc.datacenter || !loc.cluster)) {
      throw new DriverError(`url: ${this.connectionForm.urlRule}; ${input.url} names no datacenter and cluster`, 'invalid', { param: 'url' });
    }
    if (!input.username) throw new DriverError('username: a vCenter or ESXi user is required', 'invalid', { param: 'username' });
    if (!input.password) throw new DriverError('password: the user\'s password is required', 'invalid', { param: 'password' });
    const base = `https://${loc.host}${loc.port === 443 ? '' : `:${loc.port}`}`;
    const path = [loc.datacenter, loc.cluster].filter((p): p is string => !!p).map(encodeURIComponent).join('/');
    return { url: path ? `${base}/${path}` : base, name: loc.cluster ?? loc.host };
  }

  async probeTrust(url: string): Promise<TrustAnchor> {
    const loc = parseVsphereUrl(url);
    return probeCertificateTrust(loc.host, loc.port);
  }

  async connect(spec: EndpointSpec): Promise<Endpoint> {
    const loc = parseVsphereUrl(spec.url);
    if (!spec.username || !spec.password) throw new DriverError('a vCenter connection needs a username and password', 'invalid', { param: spec.username ? 'password' : 'username' });
    const pinned = spec.pinnedTrust;
    if (pinned && pinned.kind !== 'tls-certificate') throw new DriverError(`a vCenter is trusted by its TLS certificate, not by ${pinned.kind}`, 'invalid');
    const thumbprint = pinned ? normalizeThumbprint(pinned.fingerprint) : undefined;
    const { username, password } = spec;
    const shared = await this.endpoints.acquire(`${loc.sdkUrl}\n${username}\n${thumbprint ?? ''}`, async () => {
      const ep = await VsphereEndpoint.open({
        sdkUrl: loc.sdkUrl, username, password, thumbprint,
        pageSize: this.tuning.pageSize, maxWaitSeconds: this.tuning.maxWaitSeconds,
      });
      await probeConsole(ep);
      return ep;
    });
    const scope = { datacenter: loc.datacenter, cluster: loc.cluster, standaloneHost: loc.datacenter ? undefined : loc.host };
    return new VsphereEndpointView(shared.value, spec.hostId, scope, this.tuning.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS, shared.release);
  }
}

/** Learns once per endpoint whether console tickets exist, on a running VM (a ticket is harmless: it expires unused). */
async function probeConsole(ep: VsphereEndpoint): Promise<void> {
  const running = ep.cache.ofType('VirtualMachine').find((v) => v.props['runtime.powerState'] === 'poweredOn');
  if (!running) return;
  await acquireConsole(ep, running.ref).catch(() => undefined);
}

interface Scope {
  datacenter?: string;
  cluster?: string;
  /** A standalone ESXi endpoint: every host it has (one). */
  standaloneHost?: string;
}

class VsphereEndpointView implements Endpoint {
  /** Operations Kiln itself started, by VM: events they cause are the user's, not the platform's. */
  readonly initiated = new InitiatedBy<MoRef>((vm) => vm.value);

  constructor(
    readonly ep: VsphereEndpoint,
    readonly hostId: string,
    readonly scope: Scope,
    readonly stopTimeoutMs: number,
    private readonly release: () => Promise<void>,
  ) {}

  get trust(): TrustAnchor | undefined {
    const t = this.ep.thumbprint;
    return t ? { kind: 'tls-certificate', fingerprint: t } : undefined;
  }

  private scopedHosts() {
    if (this.scope.datacenter) return this.ep.hosts({ datacenter: this.scope.datacenter, cluster: this.scope.cluster });
    return this.ep.hosts();
  }

  async hosts(): Promise<EndpointHost[]> {
    this.ep.assertReachable('listing the hosts');
    const hosts = this.scopedHosts();
    if (this.scope.datacenter && hosts.length === 0 && !this.ep.cache.computeResources().some((cr) => cr.props['name'] === this.scope.cluster)) {
      throw new DriverError(`vCenter has no cluster ${JSON.stringify(this.scope.cluster)} in datacenter ${JSON.stringify(this.scope.datacenter)}`, 'not-found', { param: 'url' });
    }
    return hosts.map((h) => ({ ref: h.ref.value, name: h.name, cluster: h.computeResourceName, connected: h.connectionState === 'connected' }));
  }

  host(ref: Ref): HostSession {
    const h = this.scopedHosts().find((x) => x.ref.value === ref);
    if (!h) throw new DriverError(`host ${ref} is not behind this vCenter endpoint`, 'not-found');
    return new VsphereHostSession(this, h.ref);
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    return this.ep.onEvent((e) => {
      for (const out of this.translate(e)) listener(out);
    });
  }

  private inScope(host: MoRef | undefined): boolean {
    return !!host && this.scopedHosts().some((h) => h.ref.equals(host));
  }

  private translate(e: VsEvent): EndpointEvent[] {
    switch (e.kind) {
      case 'connection':
        // The endpoint's connection, and what it means for each host behind it.
        return [
          e.state === 'up' ? { kind: 'connection', state: 'up' } : { kind: 'connection', state: 'down', error: e.error },
          ...this.scopedHosts().map((h): EndpointEvent => ({ kind: 'host', hostRef: h.ref.value, state: e.state === 'up' ? 'connected' : 'disconnected' })),
        ];
      case 'host-state':
        if (!this.inScope(e.host)) return [];
        return [{ kind: 'host', hostRef: e.host.value, state: e.state === 'connected' ? 'connected' : 'disconnected' }];
      case 'moved': {
        if (!this.inScope(e.to) && !this.inScope(e.from)) return [];
        const state = powerOf(this.ep.cache.get(e.vm)?.props['runtime.powerState']);
        return [{ kind: 'power', vmRef: e.vm.value, name: e.name, hostRef: e.to?.value, state, reason: 'migrated', initiator: this.initiated.has(e.vm) ? 'user' : 'platform' }];
      }
      case 'power': {
        if (!this.inScope(e.host)) return [];
        const state = powerOf(e.state);
        const mine = this.initiated.has(e.vm);
        // Not Kiln's: a power-on is the platform's (vSphere HA restarts), a power-off the guest's (shut down inside).
        const initiator = mine ? 'user' : state === 'Running' ? 'platform' : 'guest';
        return [{ kind: 'power', vmRef: e.vm.value, name: e.name, hostRef: e.host?.value, state, reason: state === 'Running' ? 'started' : state === 'Stopped' ? (mine ? 'stopped' : 'shutdown') : undefined, initiator }];
      }
      case 'vm-gone':
        if (!this.inScope(e.host)) return [];
        return [{ kind: 'power', vmRef: e.vm.value, name: e.name, hostRef: e.host?.value, state: 'Unknown', reason: 'destroyed', initiator: this.initiated.has(e.vm) ? 'user' : 'platform' }];
    }
  }

  async reattachTask(taskRef: Ref, options: OperationOptions = {}): Promise<TaskOutcome> {
    const value = taskRef.replace(/^Task:/, '');
    this.ep.assertReachable(`reattaching task ${value}`);
    try {
      const result = await reattachTask(this.ep.client, value).wait({ signal: options.signal, onProgress: options.onProgress ? (p) => options.onProgress!(p) : undefined });
      const unfinished = await this.unfinishedDeploy(value, asMoRef(result));
      if (unfinished) return { state: 'error', error: unfinished };
      // Read-your-writes, as after Kiln's own tasks: the VM the task acted on is read into the
      // cache now, so the engine settles on where and how it is (the stream may still be behind).
      const entity = asMoRef((await this.ep.read(new MoRef('Task', value), ['info.entity']))['info.entity']);
      if (entity?.type === 'VirtualMachine' && this.ep.cache.get(entity)) await this.ep.refresh(entity, ['runtime.powerState', 'runtime.host', 'resourcePool', 'datastore']);
      return { state: 'success', result: asMoRef(result)?.value };
    } catch (e) {
      if (isVimFault(e, 'RequestCanceled')) return { state: 'cancelled', error: e.message };
      if (isVimFault(e)) return { state: 'error', error: e.message };
      throw toDriverError(e, `reattaching task ${value}`);
    }
  }

  /**
   * A reattached CloneVM_Task that made a VM with Kiln's uuid mark belonged to a deploy the dead
   * process never finished: the deploy records its next task (the ReconfigVM_Task that sizes the
   * clone) as soon as it starts, so a job still holding the clone's task never got past it (the VM
   * not sized, its NIC and CD-ROMs not set, its ref not stored). The VM is destroyed, so nothing
   * stays orphaned in vCenter, and the reason is returned for the job; its next start deploys it
   * again. A blank VM's CreateVM_Task is left alone: it may be the last task of a deploy whose VM
   * the engine did store, and one it did not is still found by name (resolve) and replaced or removed.
   */
  private async unfinishedDeploy(task: string, made: MoRef | undefined): Promise<string | undefined> {
    const id = asString((await this.ep.read(new MoRef('Task', task), ['info.descriptionId']))['info.descriptionId']) ?? '';
    // vCenter: VirtualMachine.clone; vcsim: VirtualMachine.cloneVm.
    if (made?.type !== 'VirtualMachine' || !/^VirtualMachine\.clone/.test(id)) return undefined;
    if ((await kilnMark(this.ep, made).catch(() => undefined)) === undefined) return undefined;
    await this.ep.cache.admit(made);
    await destroyVm(this.ep, made);
    return `the deploy was interrupted by Kiln's restart after ${id} made ${made.value}, which was destroyed in vCenter; start the VM to deploy it again`;
  }

  close(): Promise<void> {
    return this.release();
  }

  abort(): void {
    this.ep.abort();
  }
}

/** vSphere's datastore summary.type -> CloudStack's StoragePoolType. */
const DATASTORE_TYPES: Record<string, string> = { VMFS: 'VMFS', NFS: 'NetworkFilesystem', NFS41: 'NetworkFilesystem', vsan: 'VSAN', VVOL: 'VVOL' };

class VsphereHostSession implements HostSession {
  readonly capabilities = VSPHERE_CAPABILITIES;
  readonly snapshots: SnapshotFacet;
  readonly migration: MigrationFacet;

  constructor(
    private readonly view: VsphereEndpointView,
    private readonly hostRef: MoRef,
  ) {
    this.snapshots = this.snapshotFacet();
    this.migration = this.migrationFacet();
  }

  get ref(): Ref {
    return this.hostRef.value;
  }

  get hostId(): string {
    return this.view.hostId;
  }

  get trust(): TrustAnchor | undefined {
    return this.view.trust;
  }

  private get ep(): VsphereEndpoint {
    return this.view.ep;
  }

  /** Absent (with the reason on the endpoint) where the server hands out no tickets. */
  get console(): ConsoleFacet | undefined {
    if (this.ep.console.supported === false) return undefined;
    return {
      graphical: {
        protocol: 'webmks',
        open: async (vm) => {
          const t = await acquireConsole(this.ep, this.vm(vm));
          return { protocol: 'webmks', url: t.url, port: t.port, password: t.ticket, close: async () => undefined };
        },
      },
    };
  }

  /** Data disks added and removed with ReconfigVM_Task (vm-volumes.ts). */
  get volumes(): VolumeFacet {
    return (this.volumeFacet ??= vsphereVolumes(this.ep, (ref) => this.vm(ref), this.hostRef));
  }
  private volumeFacet: VolumeFacet | undefined;

  /** The host's VMs in full detail and taking one over as it is (vm-import.ts). */
  get import(): ImportFacet {
    return (this.importFacet ??= vsphereImport(this.ep, this.hostRef, () => this.listInstances()));
  }
  private importFacet: ImportFacet | undefined;

  /** Why there is no console facet, for the UI ("say so rather than show a dead button"). */
  get consoleUnavailableReason(): string | undefined {
    return this.ep.console.supported === false ? this.ep.console.reason : undefined;
  }

  private vm(ref: Ref): MoRef {
    const r = vmRef(ref);
    if (!this.ep.cache.get(r)) throw new DriverError(`VM ${ref} does not exist in vCenter`, 'not-found');
    return r;
  }

  /**
   * The VM a ref names, or Kiln's internal name (R3) where the engine has no ref: a deploy a dead
   * process interrupted before its result was stored left a VM Kiln knows only by that name. It is
   * found by its vCenter name and Kiln's uuid mark (kiln.uuid, given from the CloneVM_Task on), so
   * powerState sees it and destroy and expunge remove it; a namesake without the mark is not Kiln's.
   */
  private async resolve(ref: Ref): Promise<MoRef | undefined> {
    const r = vmRef(ref);
    if (this.ep.cache.get(r)) return r;
    if (/^vm-\d+$/.test(ref)) return undefined;
    const found = (await vmsNamed(this.ep, placementOf(this.ep, this.hostRef).folder, toVcenterName(ref))).find((v) => v.mark !== undefined);
    if (found && !this.ep.cache.get(found.ref)) await this.ep.cache.admit(found.ref);
    return found?.ref;
  }

  private op<T>(vm: MoRef, fn: () => Promise<T>): Promise<T> {
    return this.view.initiated.run(vm, fn);
  }

  async inventory(): Promise<HostInventory> {
    this.ep.assertReachable('reading the host inventory');
    const h = this.ep.host(this.hostRef);
    if (!h) throw new DriverError(`host ${this.hostRef.value} is no longer in vCenter`, 'not-found');
    const hostObj = this.ep.cache.get(this.hostRef)!;
    const storagePools = this.ep.refsOf(hostObj.props['datastore']).map((ds) => {
      const d = this.ep.cache.get(ds);
      return {
        ref: ds.value, name: asString(d?.props['name']) ?? ds.value,
        capacityBytes: asNumber(d?.props['summary.capacity']) ?? 0, availableBytes: asNumber(d?.props['summary.freeSpace']) ?? 0,
        shared: d?.props['summary.multipleHostAccess'] === true,
      };
    });
    const networks = this.ep.refsOf(hostObj.props['network']).map((n) => ({ ref: n.value, name: asString(this.ep.cache.get(n)?.props['name']) ?? n.value }));
    const totalMhz = h.cpuNumber * h.cpuSpeedMhz;
    return {
      hostname: h.name, hypervisorVersion: h.version, cpuSockets: h.cpuSockets, cpuNumber: h.cpuNumber, cpuSpeedMhz: h.cpuSpeedMhz,
      memoryTotalMiB: h.memoryTotalMiB, memoryFreeMiB: Math.max(0, h.memoryTotalMiB - h.memoryUsedMiB),
      cpuUsed: totalMhz > 0 ? Math.min(1, h.cpuUsedMhz / totalMhz) : undefined,
      storagePools, networks, pciDevices: [], gpus: [],
    };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    this.ep.assertReachable('listing the VMs');
    return this.ep.vmsOn(this.hostRef).map(cachedInstance);
  }

  /** As every host session reports it: a VM on another host of the vCenter is Missing here (as listInstances has it). */
  async powerState(vm: Ref): Promise<PowerState | 'Missing'> {
    this.ep.assertReachable(`reading the power state of ${vm}`);
    const found = await mapped(`looking for ${vm}`, () => this.resolve(vm));
    // Read from vCenter, not only the event-fed cache: the engine asks at the moments it decides
    // by the answer (a start's or migration's outcome, reconcile), and the stream may not have
    // brought the latest change yet (a power-on by another client answered 'Stopped', and the
    // start that followed was refused as already running).
    if (found && this.ep.cache.get(found)) {
      const gone = await this.ep.refresh(found, ['runtime.powerState', 'runtime.host']).then(
        () => false,
        (e: unknown) => {
          if (e instanceof DriverError && e.category === 'not-found') return true; // destroyed since the stream last said
          throw e;
        },
      );
      if (gone) return 'Missing';
    }
    const o = found && this.ep.cache.get(found);
    // A VM found by Kiln's name (its ref never stored) counts wherever vCenter placed it: the deploy
    // that made it was for this host, and it must not be missed by destroy (vcsim puts clones on the template's host).
    const here = o && (found.value !== vm || asMoRef(o.props['runtime.host'])?.equals(this.hostRef));
    return o && here ? powerOf(o.props['runtime.powerState']) : 'Missing';
  }

  /**
   * The host's datastores as primary storage: one seen by several hosts (summary.multipleHostAccess,
   * or mounted on another host of this host's cluster) is the cluster's when every connected host of
   * the cluster mounts it, any other this host's own (a datastore only some of the cluster's hosts
   * mount is reached by those hosts only: each has its own record of it, one store by its identity).
   * CloudStack's pool types for vSphere's. Each has its identity, the vCenter's instance uuid and the
   * datastore's moref: a datastore hosts of two clusters mount is one store in both clusters' records,
   * so a VM on it moves to a host of the other cluster with its disks staying there (vMotion without
   * storage motion, which vCenter allows when the destination host mounts the datastore).
   */
  readonly primaryStorage: PrimaryStorageFacet = {
    pools: async () => {
      this.ep.assertReachable('reading the datastores');
      const hostObj = this.ep.cache.get(this.hostRef);
      if (!hostObj) throw new DriverError(`host ${this.hostRef.value} is no longer in vCenter`, 'not-found');
      const cluster = this.ep.host(this.hostRef)?.computeResource;
      const peers = cluster ? this.ep.hosts().filter((h) => h.computeResource.equals(cluster) && !h.ref.equals(this.hostRef)) : [];
      const mounts = (h: { ref: MoRef }, ds: MoRef) => this.ep.refsOf(this.ep.cache.get(h.ref)?.props['datastore']).some((r) => r.equals(ds));
      // A peer vCenter does not reach now does not decide (its datastore list may be stale): a disconnect changes no record.
      const everyPeer = (ds: MoRef) => peers.filter((h) => h.connectionState === 'connected').every((h) => mounts(h, ds));
      const shared = (d: CachedObject, ds: MoRef) => (d.props['summary.multipleHostAccess'] === true || peers.some((h) => mounts(h, ds))) && everyPeer(ds);
      return this.ep.refsOf(hostObj.props['datastore']).flatMap((ds) => {
        const d = this.ep.cache.get(ds);
        if (!d || d.props['summary.accessible'] === false) return [];
        const capacity = asNumber(d.props['summary.capacity']) ?? 0;
        const kind = asString(d.props['summary.type']) ?? '';
        return [{
          ref: ds.value, name: asString(d.props['name']) ?? ds.value, type: DATASTORE_TYPES[kind] ?? 'PreSetup',
          scope: shared(d, ds) ? ('CLUSTER' as const) : ('HOST' as const),
          capacityBytes: capacity, usedBytes: Math.max(0, capacity - (asNumber(d.props['summary.freeSpace']) ?? 0)),
          identity: `vcenter ${this.ep.client.serviceContent.about.instanceUuid || this.ep.options.sdkUrl} datastore ${ds.value}`,
        }];
      });
    },
  };

  /** Kiln's downloaded templates become vSphere templates on a datastore of this host (images.ts). */
  readonly storage: StorageFacet = {
    stageImage: async (image, options = {}) => {
      await stageImage(this.ep, this.hostRef, image, options);
    },
    removeImage: (image) => removeStagedImage(this.ep, image),
  };

  /** A template by ref (vm-12) or by its vCenter name. */
  private template(id: string): MoRef {
    const byRef = this.ep.cache.get(vmRef(id));
    if (byRef) return byRef.ref;
    return this.ep.resolveVm(toVcenterName(id)).ref;
  }

  async define(spec: VmSpec, options: OperationOptions = {}): Promise<DefineResult> {
    // An imported VM is only ever redefined (below), never cloned anew from Kiln's record.
    if (spec.keepDefinition && !(spec.ref && this.ep.cache.get(vmRef(spec.ref)))) throw new DriverError(`the imported VM ${spec.internalName} is no longer in vCenter`, 'not-found');
    // A private-VLAN NIC joins only its own PVLAN portgroup (vCenter enforces the isolation).
    if (!spec.keepDefinition) await checkPrivateVlans(this.ep, this.hostRef, spec.nics);
    if (spec.ref && this.ep.cache.get(vmRef(spec.ref))) {
      // A redefine: vSphere keeps the VM; only its size follows Kiln's record.
      const r = vmRef(spec.ref);
      const p = this.ep.cache.get(r)!.props;
      if (p['runtime.powerState'] === 'poweredOn') throw new DriverError(`${spec.internalName} is running; a running VM is not redefined`, 'invalid');
      if ((p['config.hardware.numCPU'] !== spec.cpuNumber || p['config.hardware.memoryMB'] !== spec.memoryMiB)) {
        await this.op(r, () => scaleVm(this.ep, r, { cpuNumber: spec.cpuNumber, memoryMiB: spec.memoryMiB, ...options }));
      }
      // Defined here means here: a stopped VM Kiln places on another host of the vCenter moves (cold).
      if (!asMoRef(p['runtime.host'])?.equals(this.hostRef)) {
        const { pool } = placementOf(this.ep, this.hostRef);
        await this.op(r, () => mapped(`moving ${spec.internalName} to host ${this.hostRef.value}`, () => runTask(() => vim.relocate(this.ep.client, r, { host: this.hostRef, pool }), options)));
        await this.ep.refresh(r, ['runtime.host', 'resourcePool']);
      }
      // The config drive is rebuilt on every start: the CD-ROMs get this start's copies.
      await this.layCdroms(r, spec);
      return { ref: spec.ref, disks: await this.diskRefs(r, spec) };
    }
    if (spec.appliance) {
      // An OVA: CreateImportSpec + ImportVApp with the deploy's choices (ova/import.ts); the option gives its size.
      const applianceTask = keepingFirstTask(options);
      const imported = await importAppliance(this.ep, {
        name: spec.internalName, host: this.hostRef, uuid: spec.uuid, datastore: spec.disks.find((d) => d.device === 'disk')?.pool, appliance: spec.appliance,
        ...applianceTask.options,
      });
      return { ref: imported.value, disks: await this.diskRefs(imported, spec), taskRef: applianceTask.first() };
    }
    const root = spec.disks.find((d) => d.device === 'disk');
    const details: VmwareDetails = {
      rootDiskController: spec.details?.['rootDiskController'], dataDiskController: spec.details?.['dataDiskController'], nicAdapter: spec.details?.['nicAdapter'] ?? spec.nics[0]?.adapterType,
    };
    const task = keepingFirstTask(options);
    const made = await deployVm(this.ep, {
      name: spec.internalName, host: this.hostRef, uuid: spec.uuid,
      template: root?.backingImage ? this.template(root.backingImage) : undefined,
      cpuNumber: spec.cpuNumber, memoryMiB: spec.memoryMiB,
      datastore: root?.pool, rootDiskGiB: root ? Math.max(1, Math.ceil(root.sizeBytes / 2 ** 30)) : undefined,
      isoPath: this.isoOf(spec), configDrive: this.configDriveOf(spec), network: spec.nics[0]?.network, details,
      hotAdd: spec.maxCpuNumber !== undefined || spec.maxMemoryMiB !== undefined,
      maxCpuNumber: spec.maxCpuNumber, maxMemoryMiB: spec.maxMemoryMiB,
      ...task.options,
    });
    // Data disks (a deploy's disk offering) beyond those the template brought are made on the new
    // VM as attachVolume makes them; a failure leaves no VM behind.
    try {
      await this.layCdroms(made, spec);
      const has = asArray((await this.ep.read(made, ['config.hardware.device']))['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk').length;
      for (const d of spec.disks.filter((x) => x.device === 'disk').slice(Math.max(1, has))) await this.volumes.attach(made.value, { name: d.name, sizeBytes: d.sizeBytes, pool: d.pool }, { live: false, create: true });
      // R30: the deploy's dataDiskController for the disks just made too (attach puts them on the VM's first SCSI controller).
      await this.op(made, () => applyControllers(this.ep, made, { dataDiskController: details.dataDiskController }, { signal: options.signal, onTask: options.onTask }));
    } catch (e) {
      await this.op(made, () => destroyVm(this.ep, made)).catch(() => undefined);
      throw e;
    }
    return { ref: made.value, disks: await this.diskRefs(made, spec), taskRef: task.first() };
  }

  /**
   * The datastore paths of the VM's ISO and of its config drive (a cdrom DiskSpec), as stageImage
   * put them on a datastore; a datastore path ("[DS] dir/x.iso") passes as it is.
   */
  private isoOf(spec: VmSpec): string | undefined {
    return spec.isoPath === undefined ? undefined : this.datastorePath(spec.isoPath);
  }

  private configDriveOf(spec: VmSpec): string | undefined {
    const drive = spec.disks.find((d) => d.device === 'cdrom');
    return drive ? this.datastorePath(drive.name) : undefined;
  }

  private datastorePath(name: string): string {
    return /^\[[^\]]+\] /.test(name) ? name : stagedIsoPath(this.ep, name);
  }

  /**
   * The VM's disks' device keys, matched in order to the spec's disks, each with its datastore: the
   * pool Kiln names for it, or (none named: an untagged offering's disk) the datastore, by moref
   * value, its VMDK is on, where the clone, ImportVApp or CreateVM put it (as diskDatastores after a move).
   */
  private async diskRefs(vm: MoRef, spec: VmSpec): Promise<{ name: string; ref: Ref; pool?: string }[]> {
    const devices = asArray((await this.ep.read(vm, ['config.hardware.device']))['config.hardware.device']).map(asObject);
    const disks = devices.filter((d) => d.$type === 'VirtualDisk').sort((a, b) => asNumber(a['key'])! - asNumber(b['key'])!);
    return spec.disks.filter((d) => d.device === 'disk').flatMap((d, i) => {
      const disk = disks[i];
      if (!disk) return [];
      const pool = d.pool ?? this.datastoreOf(vm, disk);
      return [{ name: d.name, ref: String(asNumber(disk['key'])), ...(pool ? { pool } : {}) }];
    });
  }

  /**
   * The datastore a VirtualDisk of VM is on, by moref value (a datastore's name is unique in its
   * datacenter only): its backing's datastore, else the one of the VM's datastores the "[DS]" of its
   * file name names, else that name as it is.
   */
  private datastoreOf(vm: MoRef, disk: ReturnType<typeof asObject>): string | undefined {
    const backing = asObject(disk['backing']);
    const ds = asMoRef(backing['datastore']);
    if (ds) return ds.value;
    const name = /^\[([^\]]+)\]/.exec(asString(backing['fileName']) ?? '')?.[1];
    if (name === undefined) return undefined;
    const own = this.ep.refsOf(this.ep.cache.get(vm)?.props['datastore']).find((r) => this.ep.cache.get(r)?.props['name'] === name);
    return own?.value ?? name;
  }

  /** The VMware details of a VM or template (R30), as CloudStack names them. */
  async details(vm: Ref): Promise<VmwareDetails> {
    return detailsOfDevices((await this.ep.read(this.vm(vm), ['config.hardware.device']))['config.hardware.device']);
  }

  async start(vm: Ref, options: OperationOptions = {}): Promise<OperationResult> {
    const r = this.vm(vm);
    return withTaskRef(options, (o) => this.op(r, () => powerOn(this.ep, r, o)));
  }

  async stop(vm: Ref, options: StopOptions = {}): Promise<OperationResult> {
    const r = this.vm(vm);
    return withTaskRef(options, (o) => this.op(r, () => stopVm(this.ep, r, { ...o, forced: options.forced, timeoutMs: options.timeoutMs ?? this.view.stopTimeoutMs })));
  }

  async reboot(vm: Ref, options: OperationOptions = {}): Promise<OperationResult> {
    const r = this.vm(vm);
    return withTaskRef(options, (o) => this.op(r, () => rebootVm(this.ep, r, o)));
  }

  async reset(vm: Ref, options: OperationOptions = {}): Promise<OperationResult> {
    const r = this.vm(vm);
    return withTaskRef(options, (o) => this.op(r, () => resetVm(this.ep, r, o)));
  }

  async destroy(vm: Ref, options: { removeDisks?: string[] | 'all' } & OperationOptions = {}): Promise<OperationResult> {
    this.ep.assertReachable(`destroying ${vm}`);
    const r = (await mapped(`looking for ${vm}`, () => this.resolve(vm))) ?? this.vm(vm);
    // Destroy_Task deletes the VM's disks with it; vSphere has no "undefine but keep the disks" short of detaching them first.
    return withTaskRef(options, (o) => this.op(r, () => destroyVm(this.ep, r, o)));
  }

  async deleteDisks(disks: string[]): Promise<void> {
    // A VM's own disks went with Destroy_Task; what is left are detached data disks (vm-volumes.ts).
    await deleteVolumeFiles(this.ep, disks);
  }

  /** ISOPATH is Kiln's name of the staged ISO (as a define's isoPath): the drive gets its datastore path. */
  async attachIso(vm: Ref, isoPath: string): Promise<void> {
    await this.setCdrom(this.vm(vm), this.datastorePath(isoPath));
  }

  async detachIso(vm: Ref): Promise<void> {
    await this.setCdrom(this.vm(vm), undefined);
  }

  /** The ISO drive (the first, vm-cdrom.ts) of the VM, live when it runs; the config drive beside it stays. */
  private async setCdrom(vm: MoRef, isoPath: string | undefined): Promise<void> {
    const read = await this.ep.read(vm, ['config.hardware.device', 'runtime.powerState']);
    const devices = asArray(read['config.hardware.device']).map(asObject);
    const deviceChange = driveChanges(devices, [isoPath, isoIn(cdromDrives(devices)[1])], read['runtime.powerState'] === 'poweredOn');
    if (deviceChange.length === 0) return;
    await this.op(vm, () => mapped(`${isoPath ? 'attaching an ISO to' : 'detaching the ISO of'} ${vm.value}`, () => runTask(() => vim.reconfigure(this.ep.client, vm, { deviceChange }))));
  }

  /**
   * At define: the VM's ISO in its first drive (or none), its config drive in the second, and the
   * CD-ROM first in the boot order while an ISO is in (vm-cdrom.ts). An imported VM keeps its own
   * drives and boot order; only an ISO Kiln gives it goes in.
   */
  private async layCdroms(vm: MoRef, spec: VmSpec): Promise<void> {
    const iso = this.isoOf(spec);
    if (spec.keepDefinition && iso === undefined) return;
    const read = await this.ep.read(vm, ['config.hardware.device', 'config.bootOptions']);
    const devices = asArray(read['config.hardware.device']).map(asObject);
    const deviceChange = driveChanges(devices, [iso, spec.keepDefinition ? isoIn(cdromDrives(devices)[1]) : this.configDriveOf(spec)], false);
    const bootOptions = spec.keepDefinition ? undefined : bootOrderFor(devices, read['config.bootOptions'], iso !== undefined);
    if (deviceChange.length === 0 && !bootOptions) return;
    // Element order of VirtualMachineConfigSpec: deviceChange comes before bootOptions.
    await this.op(vm, () => mapped(`setting the CD-ROMs of ${spec.internalName}`, () =>
      runTask(() => vim.reconfigure(this.ep.client, vm, { deviceChange: deviceChange.length > 0 ? deviceChange : undefined, bootOptions }))));
  }

  async scale(vm: Ref, resources: { cpuNumber?: number; memoryMiB?: number }, live: boolean, options: OperationOptions = {}): Promise<OperationResult> {
    const r = this.vm(vm);
    const running = this.ep.cache.get(r)?.props['runtime.powerState'] === 'poweredOn';
    if (running && !live) throw new DriverError(`${vm} is running; stop it to change its size offline, or scale it live`, 'invalid');
    return withTaskRef(options, (o) => this.op(r, () => scaleVm(this.ep, r, { ...resources, ...o })));
  }

  private snapshotFacet(): SnapshotFacet {
    return {
      create: async (vm, s, options = {}) => {
        const r = this.vm(vm);
        const task = keepingFirstTask(options);
        const ref = await this.op(r, () => createSnapshot(this.ep, r, {
          name: s.name, description: s.description, memory: s.withMemory && this.ep.cache.get(r)?.props['runtime.powerState'] === 'poweredOn', quiesce: s.quiesce ?? false,
          ...task.options,
        }));
        return { ref: ref.value, taskRef: task.first() };
      },
      list: async (vm) => (await snapshotTree(this.ep, this.vm(vm))).map((s) => ({
        ref: s.ref.value, name: s.name, description: s.description || undefined, parent: s.parent?.value, current: s.current, withMemory: s.withMemory, createdAt: s.createdAt,
      })),
      revert: async (vm, snapshot, options = {}) => {
        const r = this.vm(vm);
        const s = await findSnapshot(this.ep, r, snapshot);
        return withTaskRef(options, (o) => this.op(r, () => revertSnapshot(this.ep, s.ref, o)));
      },
      remove: async (vm, snapshot, options = {}) => {
        const r = this.vm(vm);
        const s = await findSnapshot(this.ep, r, snapshot);
        return withTaskRef(options, (o) => this.op(r, () => removeSnapshot(this.ep, s.ref, o)));
      },
    };
  }

  private migrationFacet(): MigrationFacet {
    return {
      // On the destination: check it and resolve the datastores; nothing is sent to vCenter.
      prepare: async (req: MigrationRequest): Promise<MigrationTicket> => {
        const r = this.vm(req.vm);
        const diskDatastores: Record<string, string> = {};
        const diskSpecs = req.spec.disks.filter((d) => d.device === 'disk');
        const keys = (req.volumePools && Object.keys(req.volumePools).length > 0) ? await this.diskRefs(r, req.spec) : [];
        for (const [diskName, pool] of Object.entries(req.volumePools ?? {})) {
          const ref = diskSpecs.find((d) => d.name === diskName)?.ref ?? keys.find((k) => k.name === diskName)?.ref;
          if (!ref) throw new DriverError(`the VM has no disk ${JSON.stringify(diskName)}`, 'not-found');
          diskDatastores[ref] = pool;
        }
        const plan = await prepareMigration(this.ep, r, { host: this.hostRef, diskDatastores });
        return {
          hostRef: this.hostRef.value,
          destination: this,
          data: {
            host: plan.host.value, pool: plan.pool?.value ?? '', datastore: plan.datastore?.value ?? '',
            disks: JSON.stringify((plan.disks ?? []).map((d) => [d.diskId, d.datastore.value])),
            crossCluster: String(plan.crossCluster),
          },
        };
      },
      // On the source: the task. A move to another cluster reports where each disk now is (by
      // datastore moref), so Kiln records it on that cluster's record of the datastore.
      perform: async (req, ticket, options = {}) => {
        const r = this.vm(req.vm);
        const disks = (JSON.parse(ticket.data['disks'] ?? '[]') as [number, string][]).map(([diskId, ds]) => ({ diskId, datastore: new MoRef('Datastore', ds) }));
        const crossCluster = ticket.data['crossCluster'] === 'true';
        const done = await withTaskRef(options, (o) => this.op(r, () => performMigration(this.ep, {
          vm: r, host: new MoRef('HostSystem', ticket.data['host']!), crossCluster,
          pool: ticket.data['pool'] ? new MoRef('ResourcePool', ticket.data['pool']) : undefined,
          datastore: ticket.data['datastore'] ? new MoRef('Datastore', ticket.data['datastore']) : undefined,
          disks: disks.length > 0 ? disks : undefined,
        }, o)));
        return crossCluster ? { ...done, disks: await this.diskDatastores(r, req.spec, disks) } : done;
      },
    };
  }

  /**
   * Each of SPEC's disks on VM by DiskSpec.name after a move, with its device key and where it is:
   * a disk the move relocated (MOVED, by device key) on its new datastore; one it left where it was
   * on the pool Kiln names for it, or (none named) the datastore its file is on; by moref value.
   */
  private async diskDatastores(vm: MoRef, spec: VmSpec, moved: { diskId: number; datastore: MoRef }[]): Promise<{ name: string; ref: Ref; pool: string }[]> {
    const devices = asArray((await this.ep.read(vm, ['config.hardware.device']))['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk');
    const keys = await this.diskRefs(vm, spec);
    return spec.disks.filter((d) => d.device === 'disk').flatMap((d) => {
      const ref = d.ref ?? keys.find((k) => k.name === d.name)?.ref;
      const to = moved.find((m) => String(m.diskId) === ref)?.datastore;
      const dev = devices.find((x) => String(asNumber(x['key'])) === ref);
      const ds = to ? to.value : d.pool ?? (dev ? this.datastoreOf(vm, dev) : undefined);
      return ref && ds ? [{ name: d.name, ref, pool: ds }] : [];
    });
  }
}

export { VsphereEndpoint } from './endpoint.js';
export { DETAIL_OPTIONS as VMWARE_DETAIL_OPTIONS } from './vm-details.js';
