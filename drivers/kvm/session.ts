/**
 * One KVM host as a HostSession: every operation is virsh over the host's single SSH connection.
 * The libvirt domain name is the VM's ref and the snapshot name the snapshot's (unique per host
 * and per domain; Kiln never renames either). Optional facets are thin views over the methods
 * below, which tests also call directly.
 */
import { parseDomainCapabilities, refineCapabilities } from './domcapabilities.js';
import type { Duplex } from 'node:stream';
import {
  DriverError,
  type DriverCapabilities,
  type ConsoleFacet,
  type DefineResult,
  type HostCapacity,
  type HostEvent,
  type HostInventory,
  type HostSession,
  type ImportFacet,
  type InstanceInfo,
  type InstancePower,
  type MigrationFacet,
  type PowerState,
  type SnapshotFacet,
  type PrimaryStorageFacet,
  type PrivateVlanPeersFacet,
  type StorageFacet,
  type TrustAnchor,
  type SnapshotInfo,
  type StopOptions,
  type StagedImageName,
  type StoredImage,
  type VmSpec,
  type NicFacet,
  type NicSpec,
  type VolumeFacet,
} from '../types.js';
import { EventListeners } from '../common/event-listeners.js';
import { hostKeptSnapshots } from '../common/host-kept-snapshots.js';
import { kvmVolumes } from './volumes.js';
import { kvmBackup, type KvmBackupFacet } from './backup.js';
import { openConsole } from './console.js';
import { kvmImport } from './import.js';
import { detailBus, keptTarget } from './disk-buses.js';
import { buildDomainXml, KILN_NS, parseDomainXml, splitDocuments, type ParsedDomain, type ResolvedDisk, type ResolvedNic } from './domain-xml.js';
import { DomainEventWatcher } from './events.js';
import { newNonce, readCapacity, readInstances, readInventory, readPowerStates, readNetworks, readPciDevices, readPools, splitSections, type HostNetworks } from './inventory.js';
import { primaryPools } from './primary-storage.js';
import { parseSnapshotXml, type PciDevice } from './resource-xml.js';
import type { SshConnection } from './ssh-connection.js';
import { createVolume, deleteVolume, findVolume, isPath, PoolQueue, refreshPool, removeImage, uploadImage, type HostStorage } from './storage.js';
import { initiatorOf, parseDomstate, type DomainPowerChange } from './virsh-output.js';
import { command } from './shell.js';
import { Virsh, virshError } from './virsh.js';
import { moveStoppedDisks } from './volume-move.js';
import { moveRunningDisks } from './live-volume-move.js';
import { moveStoppedToHost, prepareStorageMigration, runStorageMigration, type StorageMigration } from './host-volume-move.js';
import { prepareNvramMigration } from './nvram-move.js';
import { attr, buildXml, child, type XmlNode } from './xml.js';
import { forwardVnc, type VncForward } from './vnc.js';
import { MetadataRelay } from './metadata-forward.js';
import { IsolationWatchdog } from './isolation-watchdog.js';
import { isTapName, peerScript, portDevices, portName, portScript, withoutLiveTaps, type PrivateVlanPort } from './private-vlan.js';
import { findInterface, interfaceNode, interfaceXml, metadataWithPorts, migrationXmlOnPorts, onPrivateVlanPort } from './nic-xml.js';

export const KVM_CAPABILITIES: DriverCapabilities = {
  liveMigration: true,
  // Disks move between the pools of a host, stopped (volume-move.ts) or running (block copy,
  // live-volume-move.ts), and with the VM to another host's pools (host-volume-move.ts).
  storageMotion: true,
  liveStorageMotion: true,
  storageMotionAcrossHosts: true,
  crossClusterMigration: false,
  memorySnapshots: true,
  // Internal qcow2 snapshots: disk-only needs the domain shut off; no guest agent to quiesce;
  // snapshot records are moved beside a migration (libvirt will not carry them).
  diskSnapshotsWhileRunning: false,
  quiesceSnapshots: false,
  migrateWithSnapshots: true,
  // Increase only: vCPU hot-unplug does not work under TCG (and is unreliable under KVM).
  liveScaleCpu: true,
  liveScaleMemory: true,
  serialConsole: true,
  vnc: true,
  gpu: false,
  // ebtables rules on the VMs' taps (private-vlan.ts); refine() drops it on a host without ebtables.
  privateVlans: true,
  // An imported domain's NIC moves onto Kiln's port in its kept definition (nic-xml.ts); with privateVlans.
  privateVlanImport: true,
  // CloudStack's hypervisor_capabilities default for KVM.
  maxGuestsLimit: 50,
};

/** Per-host settings, from HostConnectionSpec.options (all strings there). */
export interface KvmHostOptions {
  /** Storage pool for disks without their own pool. */
  pool: string;
  /** libvirt domain type: 'kvm' on real hardware, 'qemu' (TCG) where /dev/kvm is unusable. */
  domainType: 'qemu' | 'kvm';
  /** libvirt URI on the host itself. */
  uri: string;
  /** How other hosts reach this one's libvirt for migration; default qemu+ssh://user@host[:port]/system. */
  migrationUri?: string;
  /** Pass --unsafe to migrate: libvirt does not recognise every shared filesystem (a plain directory
   *  shared by several hosts, or disks without cache=none) as safe. Kiln migrates only between hosts
   *  that share primary storage. */
  migrateUnsafe: boolean;
  vnc: boolean;
  serialLog: boolean;
  /** Pools to report as shared even though their type (dir) does not say so. */
  sharedPools: Set<string>;
  /** NICs whose network is neither a libvirt network nor a bridge on the host use this one;
   *  without it they get qemu user-mode networking (NAT, needs nothing on the host). */
  defaultNetwork?: string;
  stopPollMs: number;
  migrateTimeoutMs: number;
  reconcileIntervalMs: number;
  /** Seconds without peers and gateway before the host's watchdog powers off its HA VMs. */
  isolationAfterS: number;
  /** Extra addresses that prove the host is not isolated (isolation-watchdog.ts). */
  isolationAddresses: string[];
}

/** Where a KVM domain moves: the destination session (the ticket of prepare(), or a test's own). */
export interface MigrationTarget {
  session: KvmSession;
  /** Destination storage pool per disk name (storage motion: to other pools of this host, or with the domain to the target's pools). */
  volumePools?: Record<string, string>;
}

export interface HostAddress {
  host: string;
  port: number;
  username: string;
}

const DEFAULT_STOP_TIMEOUT_MS = 60_000;
const NETWORKS_TTL_MS = 30_000;

export class KvmSession implements HostSession {
  /** The driver's static capabilities, narrowed for this host once it answers (refine()). */
  capabilities: DriverCapabilities = KVM_CAPABILITIES;
  readonly virsh: Virsh;
  /** This host's virsh and its pool queue, for the volume operations in storage.ts. */
  readonly pools: HostStorage;
  private readonly listeners = new EventListeners<HostEvent>();
  /** Lifecycle events and reconcile for this host. */
  readonly watcher: DomainEventWatcher;
  private readonly forwards = new Set<VncForward>();
  private pci: Promise<PciDevice[]> | undefined;
  /** Host networks and bridges for resolving NICs; they rarely change, so they are read at most
   *  once per NETWORKS_TTL_MS (inventory() refreshes them too). */
  private networks: { at: number; value: Promise<HostNetworks> } | undefined;
  private connectionUp = true;
  /** Per domain: the XML this session last defined, and the definition libvirt made of it. */
  private readonly defined = new Map<string, { xml: string; result: string }>();
  private closed = false;

  constructor(
    readonly hostId: string,
    readonly address: HostAddress,
    private readonly ssh: SshConnection,
    readonly options: KvmHostOptions,
    /** Shared by every session to the same host (see KvmDriver.poolQueue). */
    poolQueue: PoolQueue = new PoolQueue(),
  ) {
    this.virsh = new Virsh(ssh, options.uri);
    this.pools = { virsh: this.virsh, queue: poolQueue };
    this.watcher = new DomainEventWatcher(this.virsh, (event) => {
      if (event.state === 'Stopped' || event.state === 'Crashed') this.dropRulesOfStopped(event.name);
      this.emit(this.powerEvent(event));
    }, options.reconcileIntervalMs);
    ssh.on('down', (error: DriverError) => {
      if (!this.connectionUp || this.closed) return;
      this.connectionUp = false;
      this.emit({ kind: 'connection', state: 'down', error: error.message });
    });
    ssh.on('up', () => {
      if (this.connectionUp || this.closed) return;
      this.connectionUp = true;
      this.emit({ kind: 'connection', state: 'up' });
      this.watcher.restart();
    });
    this.watcher.start();
  }

  get hostKeyFingerprint(): string | undefined {
    return this.ssh.hostKeyFingerprint;
  }

  /** The host's ref on its endpoint: the address Kiln reaches it by (one host per KVM endpoint). */
  get ref(): string {
    return this.address.host;
  }

  get trust(): TrustAnchor | undefined {
    const fingerprint = this.ssh.hostKeyFingerprint;
    return fingerprint ? { kind: 'ssh-host-key', fingerprint } : undefined;
  }

  readonly storage: StorageFacet = { stageImage: (image) => this.stageImage(image), removeImage: (image) => this.removeImage(image) };

  /** The host's libvirt pools as primary storage: type, scope, the default pool (primary-storage.ts). */
  readonly primaryStorage: PrimaryStorageFacet = {
    pools: async () => primaryPools(await readPools(this.virsh), { defaultPool: this.options.pool, sharedPools: this.options.sharedPools }),
  };

  /** Backups of the VM's disks into the host's backup store (backup.ts). */
  get backup(): KvmBackupFacet {
    return (this.backupFacet ??= kvmBackup({ pools: this.pools, defaultPool: this.options.pool, domain: (name, inactive) => this.domain(name, inactive), isActive: (name) => this.isActive(name) }));
  }
  private backupFacet: KvmBackupFacet | undefined;

  /** Domains Kiln did not define, and taking one over as it is (import.ts). */
  get import(): ImportFacet {
    return (this.importFacet ??= kvmImport({
      listInstances: () => this.listInstances(),
      inventory: () => this.inventory(),
      findVolume: (pool, name) => findVolume(this.pools, pool, name),
      domain: (vm, inactive) => this.domain(vm, inactive),
      defaultPool: this.options.pool,
      keepOnPrivateVlanPorts: (vm, nics) => this.keepOnPrivateVlanPorts(vm, nics),
      dropKilnMetadata: async (vm) => {
        // --live only while it runs (a shut-off domain has no live definition); absent metadata is fine.
        const live = (await this.powerState(vm)) === 'Running' ? ['--live'] : [];
        const result = await this.virsh.tryRun(['metadata', '--domain', vm, '--uri', KILN_NS, '--remove', '--config', ...live]);
        if (result.code !== 0 && !/metadata not found|no metadata|Requested metadata element is not present/i.test(result.stderr)) throw virshError(result.stderr, `cannot remove Kiln's metadata from ${vm}`);
      },
    }));
  }
  private importFacet: ImportFacet | undefined;

  /** Data disks hot-plugged with attach-disk / detach-disk (volumes.ts). */
  get volumes(): VolumeFacet {
    return (this.volumeFacet ??= kvmVolumes({ pools: this.pools, defaultPool: this.options.pool, domain: (name, inactive) => this.domain(name, inactive), isActive: (name) => this.isActive(name) }));
  }
  private volumeFacet: VolumeFacet | undefined;

  /** Guests' metadata connections carried to Kiln by remote forwards on this connection (metadata-forward.ts). */
  get metadataRelay(): MetadataRelay {
    return (this.relay ??= new MetadataRelay(this.ssh));
  }
  private relay: MetadataRelay | undefined;

  /** Powers off this host's HA domains when it is cut off from its peers and gateway (isolation-watchdog.ts). */
  get isolationFencing(): IsolationWatchdog {
    return (this.watchdog ??= new IsolationWatchdog(this.ssh, this.options.uri, this.options.isolationAfterS, this.options.isolationAddresses));
  }
  private watchdog: IsolationWatchdog | undefined;

  /** libvirt keeps snapshot records per host, not with the disks: they must follow the VM (carry). */
  readonly snapshots: SnapshotFacet = hostKeptSnapshots(this);

  get console(): ConsoleFacet {
    return {
      serial: { open: (vm) => this.openConsole(vm) },
      graphical: this.options.vnc
        ? {
            protocol: 'vnc',
            open: async (vm) => {
              const forward = await this.forwardVnc(vm);
              return { protocol: 'vnc', port: forward.port, close: () => forward.close() };
            },
          }
        : undefined,
    };
  }

  /** prepare() runs on the destination (it names the URI the source's libvirt migrates to), perform() on the source. */
  readonly migration: MigrationFacet = {
    prepare: async () => ({ hostRef: this.ref, data: { uri: this.migrationUri() }, destination: this }),
    perform: async (request, ticket) => {
      if (!(ticket.destination instanceof KvmSession)) throw new DriverError('a KVM domain can only migrate to another KVM host', 'unsupported');
      // The moved disks keep their names and refs (targets); the engine records their new pools.
      await this.migrate(request.vm, { session: ticket.destination, volumePools: request.volumePools }, { live: request.live });
    },
  };

  /** A libvirt power change as a contract event: the domain name is its ref, on this host. */
  private powerEvent(change: DomainPowerChange): HostEvent {
    return { ...change, vmRef: change.name, hostRef: this.ref, initiator: initiatorOf(change.reason) };
  }

  private emit(event: HostEvent): void {
    this.listeners.emit(event);
  }

  onEvent(listener: (event: HostEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher.stop();
    this.virsh.close();
    await Promise.all([...this.forwards].map((f) => f.close()));
    await this.relay?.close();
    this.listeners.clear();
    await this.ssh.close();
  }

  // ---------------------------------------------------------------- inventory

  async inventory(): Promise<HostInventory> {
    return readInventory(this.virsh, {
      // PCI devices do not change while a host runs; read them once per session.
      pciDevices: () => (this.pci ??= readPciDevices(this.virsh).catch((error: unknown) => {
        this.pci = undefined;
        throw error;
      })),
      sharedPools: this.options.sharedPools,
      // A full inventory reads them afresh, and the NIC resolution of define() reuses that.
      networks: () => this.hostNetworks(true),
    });
  }

  /** CPUs, memory and version only (one round trip through the virsh shell): what a connect and a refresh record. */
  async capacity(): Promise<HostCapacity> {
    return readCapacity(this.virsh);
  }

  /**
   * Narrows the static capabilities by what this host offers (virsh domcapabilities) and what the
   * admin turned off for it (the vnc host option). A libvirt that cannot say keeps the static set.
   */
  async refine(): Promise<void> {
    const result = await this.virsh.tryRun(['domcapabilities', '--virttype', this.options.domainType]);
    const host = result.code === 0 ? parseDomainCapabilities(result.stdout) : undefined;
    const ebtables = await this.virsh.ssh.exec(command(['sh', '-c', 'command -v ebtables'])).then((r) => r.code === 0, () => false);
    this.capabilities = { ...refineCapabilities(KVM_CAPABILITIES, host, { vnc: this.options.vnc }), privateVlans: KVM_CAPABILITIES.privateVlans === true && ebtables, privateVlanImport: KVM_CAPABILITIES.privateVlanImport === true && ebtables };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    return readInstances(this.virsh);
  }

  /** Names, UUIDs and states only (two listings, one round trip through the virsh shell): the reconcile pass's read. */
  async listPowerStates(): Promise<InstancePower[]> {
    return readPowerStates(this.virsh);
  }

  async powerState(name: string): Promise<PowerState | 'Missing'> {
    const result = await this.virsh.tryRun(['domstate', '--domain', name]);
    if (result.code === 0) return parseDomstate(result.stdout).state;
    if (/failed to get domain|Domain not found/i.test(result.stderr)) return 'Missing';
    throw virshError(result.stderr, `cannot read the state of ${name}`);
  }

  /** The domain's XML (the running view unless `inactive`). */
  async domain(name: string, inactive = false): Promise<ParsedDomain> {
    return parseDomainXml(await this.virsh.run(['dumpxml', '--domain', name, ...(inactive ? ['--inactive'] : [])]));
  }

  // ---------------------------------------------------------------- define

  async define(spec: VmSpec): Promise<DefineResult> {
    // A backup's overlay still in a stopped domain's definition holds the guest's last writes: into its disks first.
    const state = await this.powerState(spec.internalName);
    if (state === 'Stopped' || state === 'Crashed') await this.backup.commitLeftOverlays(spec.internalName);
    if (spec.keepDefinition) await this.keepDomain(spec);
    else await this.defineDomain(spec);
    return { ref: spec.internalName };
  }

  /** An imported domain keeps its XML; only its vCPUs and memory follow Kiln's record (R46). */
  private async keepDomain(spec: VmSpec): Promise<void> {
    const state = await this.powerState(spec.internalName);
    if (state === 'Missing') throw new DriverError(`Domain not found: the imported VM ${spec.internalName} is not defined on this host`, 'not-found');
    if (state === 'Running' || state === 'Paused') throw new DriverError(`domain ${spec.internalName} is ${state.toLowerCase()}; stop it before redefining`, 'invalid');
    // Its NICs on private VLANs stay on Kiln's ports (the network may have moved since the import).
    await this.keepOnPrivateVlanPorts(spec.internalName, spec.nics, spec.details);
    const dom = await this.domain(spec.internalName, true);
    const change = {
      ...(dom.vcpusCurrent !== spec.cpuNumber ? { cpuNumber: spec.cpuNumber } : {}),
      ...(Math.floor(dom.currentMemoryKiB / 1024) !== spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}),
    };
    if (Object.keys(change).length) await this.scale(spec.internalName, change, false);
  }

  private async defineDomain(spec: VmSpec): Promise<void> {
    const state = await this.powerState(spec.internalName);
    if (state === 'Running' || state === 'Paused') {
      throw new DriverError(`domain ${spec.internalName} is ${state.toLowerCase()}; stop it before redefining`, 'invalid');
    }
    const disks: ResolvedDisk[] = [];
    let isoPath = spec.isoPath;
    // The first disk is the root (rootDiskController), the others data disks (dataDiskController).
    let root = true;
    for (const disk of spec.disks) {
      if (disk.device === 'cdrom') {
        // A CD-ROM beside the ISO drive (the config drive), staged into the pool under its name.
        const volume = await findVolume(this.pools, disk.pool ?? this.options.pool, disk.name);
        if (!volume) throw new DriverError(`CD-ROM image ${disk.name} not found in pool ${disk.pool ?? this.options.pool} on the host`, 'not-found');
        disks.push({ path: volume.path, format: 'raw', bus: 'ide', device: 'cdrom' });
        continue;
      }
      const pool = disk.pool ?? this.options.pool;
      const volume = (await findVolume(this.pools, pool, disk.name)) ?? (await createVolume(this.pools, pool, disk));
      const bus = disk.bus ?? detailBus(spec.details, root) ?? 'virtio';
      root = false;
      disks.push({ path: volume.path, format: volume.format === 'unknown' ? 'raw' : volume.format, bus, target: keptTarget(disk.ref, bus) });
    }
    if (isoPath) isoPath = await this.isoSource(isoPath);
    const nics = await this.resolveNics(spec.nics, spec.details);
    const xml = buildDomainXml({
      spec: { ...spec, isoPath },
      domainType: this.options.domainType,
      disks,
      nics,
      vnc: this.options.vnc && spec.details?.['vnc'] !== 'false',
      serialLog: this.options.serialLog ? serialLogPath(spec.internalName) : undefined,
    });
    // Every start redefines from Kiln's record (R9). When the XML is the one this session last
    // defined and the host still holds exactly what that define produced, defining it again
    // would change nothing; skipping saves the one command that cannot use the virsh shell.
    const last = this.defined.get(spec.internalName);
    if (last?.xml === xml && (await this.virsh.tryRun(['dumpxml', '--inactive', spec.internalName])).stdout === last.result) return;
    await this.virsh.run(['define', '--file', '/dev/stdin'], { stdin: xml });
    const result = await this.virsh.tryRun(['dumpxml', '--inactive', spec.internalName]);
    if (result.code === 0) this.defined.set(spec.internalName, { xml, result: result.stdout });
    else this.defined.delete(spec.internalName);
  }

  private async resolveNics(nics: readonly NicSpec[], details: VmSpec['details']): Promise<ResolvedNic[]> {
    if (nics.length === 0) return [];
    const host = await this.hostNetworks();
    const networkNames = new Set(host.networks.map((n) => n.name));
    const bridges = new Set(host.bridges);
    const resolve = (name: string | undefined): Pick<ResolvedNic, 'type' | 'source'> | undefined => {
      if (!name) return undefined;
      if (networkNames.has(name)) return { type: 'network', source: name };
      if (bridges.has(name)) return { type: 'bridge', source: name };
      return undefined;
    };
    return nics.map((nic) => {
      const source = resolve(nic.network) ?? resolve(this.options.defaultNetwork) ?? { type: 'user' as const };
      return {
        ...source,
        macAddress: nic.macAddress,
        // No <vlan> tag: libvirt accepts one only on Open vSwitch ports and refuses to start the
        // domain on a Linux bridge. VLAN isolation is the host's business (one bridge per VLAN);
        // a private VLAN's roles are the tap's ebtables rules (private-vlan.ts), applied at start.
        model: nic.adapterType ?? details?.['nicAdapter'] ?? 'virtio',
        ...(nic.privateVlan ? { privateVlan: this.privateVlanPort(nic, source.type) } : {}),
      };
    });
  }

  private privateVlanPort(nic: VmSpec['nics'][number], type: ResolvedNic['type']): PrivateVlanPort {
    const pvlan = nic.privateVlan!;
    if (!this.capabilities.privateVlans) throw new DriverError(`host ${this.address.host} cannot set up private VLANs (no ebtables)`, 'unsupported');
    if (type === 'user') throw new DriverError(`network ${nic.network} is a private VLAN, but host ${this.address.host} has no bridge or libvirt network of that name to put the port on`, 'invalid');
    if (nic.vlan === undefined) throw new DriverError(`network ${nic.network} has a private VLAN but no primary VLAN`, 'invalid');
    return { port: portName(nic.macAddress), primaryVlan: nic.vlan, secondaryVlan: pvlan.secondaryVlan, type: pvlan.type };
  }

  /**
   * A kept definition's NICs that Kiln has on private VLANs (NICS, by MAC), each moved onto Kiln's
   * port in the persistent definition with the rest of it kept (nic-xml.ts), and the ports listed
   * in Kiln's metadata; a definition that has them already is not touched. The rules come at start.
   *
   * A running domain (an import of a running VM) keeps running: libvirt cannot rename a running
   * tap, so each NIC gets its port's rules on the tap it has (read from the live XML) at once, is
   * moved live onto the network's bridge if it is not on it (update-device --live, tap name kept;
   * libvirt allows that between bridge and network sources, not from user-mode networking, whose
   * refusal is passed on with nothing changed), and the persistent definition names Kiln's port,
   * which the tap gets at the next start (private-vlan.ts).
   */
  async keepOnPrivateVlanPorts(name: string, nics: readonly NicSpec[], details?: VmSpec['details']): Promise<void> {
    const resolved = (await this.resolveNics(nics.filter((n) => n.privateVlan), details)).flatMap((n) => (n.privateVlan ? [{ ...n, privateVlan: n.privateVlan }] : []));
    if (resolved.length === 0) return;
    const running = await this.isActive(name);
    let ports = resolved.map((n) => n.privateVlan);
    if (running) await this.inPortQueue(name, async () => void (ports = await this.onPortsLive(name, resolved)));
    try {
      const xml = await this.virsh.run(['dumpxml', '--inactive', '--domain', name]);
      for (const nic of resolved) {
        const kept = findInterface(xml, nic.macAddress);
        if (!kept) throw new DriverError(`domain ${name} has no NIC with MAC ${nic.macAddress} to put on its private-VLAN port`, 'invalid');
        const moved = onPrivateVlanPort(kept, nic);
        if (moved) await this.virsh.run(['update-device', '--domain', name, '--file', '/dev/stdin', '--config'], { stdin: interfaceXml(moved) });
      }
      await this.updatePorts(name, (listed) => [...listed.filter((p) => !ports.some((q) => q.port === p.port)), ...ports], running);
      this.liveMoves.delete(name);
    } catch (error) {
      if (running) await this.inPortQueue(name, () => this.undoPortsLive(name, ports)).catch(() => undefined);
      throw error;
    }
  }

  /** The live part of keepOnPrivateVlanPorts: rules on each NIC's live tap first, then the NIC onto the network's bridge; all undone on a refusal. */
  private readonly liveMoves = new Map<string, { mac: string; before: XmlNode }[]>();
  private async onPortsLive(name: string, nics: readonly (ResolvedNic & { privateVlan: PrivateVlanPort })[]): Promise<PrivateVlanPort[]> {
    const xml = await this.virsh.run(['dumpxml', '--domain', name]);
    const ports: PrivateVlanPort[] = [];
    const moves: { mac: string; before: XmlNode }[] = [];
    this.liveMoves.set(name, moves);
    try {
      for (const nic of nics) {
        const live = findInterface(xml, nic.macAddress);
        if (!live) throw new DriverError(`running domain ${name} has no NIC with MAC ${nic.macAddress} to put on its private-VLAN port`, 'invalid');
        const tap = attr(child(live, 'target'), 'dev');
        if (!isTapName(tap)) {
          throw new DriverError(`NIC ${nic.macAddress} of running domain ${name} has no tap device (${attr(live, 'type') ?? 'unknown'} networking); libvirt cannot move it onto network ${nic.source} while the domain runs, so it goes onto Kiln's private-VLAN port only while the domain is shut off: shut it down first, or map the NIC to a network without a private VLAN`, 'invalid');
        }
        const port: PrivateVlanPort = { ...nic.privateVlan, ...(tap !== nic.privateVlan.port ? { tap } : {}) };
        // Isolated before it is on the private VLAN's bridge: the rules are keyed by the name.
        await this.applyPrivateVlans([port]);
        ports.push(port);
        const moved = onPrivateVlanPort(live, { ...nic, privateVlan: { ...nic.privateVlan, port: tap } });
        if (!moved) continue;
        const result = await this.virsh.tryRun(['update-device', '--domain', name, '--file', '/dev/stdin', '--live'], { stdin: interfaceXml(moved) });
        if (result.code !== 0) {
          throw new DriverError(`NIC ${nic.macAddress} of running domain ${name} cannot be moved onto network ${nic.source} while it runs (libvirt: ${result.stderr.trim().replace(/^error: /gm, '').split('\n').pop()}); shut it down first, or map the NIC to a network without a private VLAN`, 'invalid');
        }
        moves.push({ mac: nic.macAddress, before: live });
      }
      return ports;
    } catch (error) {
      await this.undoPortsLive(name, ports).catch(() => undefined);
      throw error;
    }
  }

  /** Puts back the NICs onPortsLive moved and removes the rules it set. */
  private async undoPortsLive(name: string, ports: readonly PrivateVlanPort[]): Promise<void> {
    for (const { before } of (this.liveMoves.get(name) ?? []).reverse()) {
      const node = Object.fromEntries(Object.entries(before).filter(([key]) => key !== '#text'));
      await this.virsh.tryRun(['update-device', '--domain', name, '--file', '/dev/stdin', '--live'], { stdin: interfaceXml(node) }).catch(() => undefined);
    }
    this.liveMoves.delete(name);
    await this.clearPrivateVlans(ports);
  }

  /**
   * A domain that no longer runs on live taps (stopped, or about to start on Kiln's ports): their
   * rules go, and so does their record, as libvirt may give those names to other domains.
   */
  private async forgetLiveTaps(name: string, ports: readonly PrivateVlanPort[]): Promise<PrivateVlanPort[]> {
    const onPorts = withoutLiveTaps(ports);
    if (!ports.some((p) => p.tap)) return onPorts;
    await this.virsh.ssh.exec(portScript(ports.flatMap((p) => (p.tap ? [p.tap] : []))));
    await this.updatePorts(name, withoutLiveTaps, false).catch(() => undefined);
    return onPorts;
  }

  /** Kiln's metadata element of the domain lists CHANGE(its ports) (the persistent definition, and the running one with LIVE). */
  private async updatePorts(name: string, change: (ports: PrivateVlanPort[]) => PrivateVlanPort[], live: boolean): Promise<void> {
    for (const flag of live ? ['--config', '--live'] : ['--config']) {
      const listed = (await this.domain(name, flag === '--config')).privateVlans ?? [];
      const wanted = change(listed);
      if (JSON.stringify(wanted) === JSON.stringify(listed)) continue;
      const current = await this.virsh.tryRun(['metadata', '--domain', name, '--uri', KILN_NS, flag]);
      const element = metadataWithPorts(current.code === 0 ? current.stdout : undefined, wanted);
      await this.virsh.run(['metadata', '--domain', name, '--uri', KILN_NS, '--key', 'kiln', '--set', element, flag]);
    }
  }

  /**
   * NICs hot-plugged and unplugged (attach-device / detach-device, and the persistent definition
   * with them). A private-VLAN NIC's rules exist before its tap does (ebtables takes a name that
   * is not there yet), so it never sends or takes a frame unisolated, and they go after it.
   */
  readonly nics: NicFacet = {
    add: async (vm, nic, options) => {
      const [resolved] = await this.resolveNics([nic], undefined);
      const port = resolved!.privateVlan;
      const flags = options.live ? ['--live', '--config'] : ['--config'];
      if (port && options.live) await this.inPortQueue(vm, () => this.applyPrivateVlans([port]));
      let attached = false;
      try {
        await this.virsh.run(['attach-device', '--domain', vm, '--file', '/dev/stdin', ...flags], { stdin: interfaceXml(interfaceNode(resolved!)) });
        attached = true;
        if (port) await this.updatePorts(vm, (ports) => [...ports.filter((p) => p.port !== port.port), port], options.live);
      } catch (error) {
        // Settled: no NIC and no rule left of a plug that failed.
        if (attached) await this.virsh.tryRun(['detach-device', '--domain', vm, '--file', '/dev/stdin', ...flags], { stdin: interfaceXml(interfaceNode(resolved!)) }).catch(() => undefined);
        if (port && options.live) await this.clearPrivateVlans([port]).catch(() => undefined);
        throw error;
      }
    },
    remove: async (vm, nic, options) => {
      // The running guest first (it may not let go: then nothing changed), the definition after.
      for (const flag of options.live ? ['--live', '--config'] : ['--config']) {
        const dump = () => this.virsh.run(['dumpxml', '--domain', vm, ...(flag === '--config' ? ['--inactive'] : [])]);
        const node = findInterface(await dump(), nic.macAddress);
        if (!node) continue;
        await this.virsh.run(['detach-device', '--domain', vm, '--file', '/dev/stdin', flag], { stdin: interfaceXml(node) });
        if (flag === '--live' && findInterface(await dump(), nic.macAddress)) {
          throw new DriverError(`the guest of ${vm} did not release NIC ${nic.macAddress} (no hot-unplug support, or it is still booting); it stays`, 'failed');
        }
      }
      const port = portName(nic.macAddress);
      const listed = ((await this.domain(vm, true)).privateVlans ?? []).filter((p) => p.port === port);
      await this.updatePorts(vm, (ports) => ports.filter((p) => p.port !== port), options.live);
      if (options.live) await this.inPortQueue(vm, () => this.clearPrivateVlans(listed));
    },
  };

  /** Gives the domain's private-VLAN ports their rules (after any earlier ones of the same ports are gone). */
  async applyPrivateVlans(ports: readonly PrivateVlanPort[]): Promise<void> {
    if (ports.length === 0) return;
    const result = await this.virsh.ssh.exec(portScript(portDevices(ports), ports));
    if (result.code !== 0) throw new DriverError(`cannot set up the private VLAN ports ${ports.map((p) => p.port).join(', ')} on ${this.address.host}: ${result.stderr.trim()}`, 'failed');
  }

  /** The zone's private-VLAN ports by MAC and role: frames from other hosts are marked by them (private-vlan.ts peerScript). */
  readonly privateVlanPeers: PrivateVlanPeersFacet = {
    publish: async (vlans) => {
      if (vlans.length === 0 || !this.capabilities.privateVlans) return;
      const result = await this.virsh.ssh.exec(peerScript(vlans));
      if (result.code !== 0) throw new DriverError(`cannot tell ${this.address.host} the private-VLAN ports of VLAN ${vlans.map((v) => v.primaryVlan).join(', ')}: ${result.stderr.trim()}`, 'failed');
    },
  };

  /** Removes every rule of the ports; what is already gone is fine. */
  async clearPrivateVlans(ports: readonly PrivateVlanPort[]): Promise<void> {
    if (ports.length === 0) return;
    await this.virsh.ssh.exec(portScript(portDevices(ports)));
  }

  /** Rule changes per domain, one after another: a stopped guest's clean-up never lands between a start and its rules. */
  private readonly portQueue = new Map<string, Promise<void>>();
  private inPortQueue(name: string, work: () => Promise<void>): Promise<void> {
    const next = (this.portQueue.get(name) ?? Promise.resolve()).then(work);
    const settled = next.catch(() => undefined);
    this.portQueue.set(name, settled);
    void settled.then(() => {
      if (this.portQueue.get(name) === settled) this.portQueue.delete(name);
    });
    return next;
  }

  /** A domain that stopped without Kiln (its guest powered off, it crashed) loses its rules too, unless it runs again by then. */
  private dropRulesOfStopped(name: string): void {
    if (this.closed) return;
    void this.inPortQueue(name, async () => {
      if ((await this.powerState(name)) === 'Running') return;
      const dom = await this.domain(name, true).catch(() => undefined);
      await this.clearPrivateVlans(dom?.privateVlans ?? []);
      await this.forgetLiveTaps(name, dom?.privateVlans ?? []);
    }).catch(() => undefined);
  }

  private hostNetworks(fresh = false): Promise<HostNetworks> {
    const cached = this.networks;
    if (!fresh && cached && Date.now() - cached.at < NETWORKS_TTL_MS) return cached.value;
    const entry = { at: Date.now(), value: readNetworks(this.virsh) };
    this.networks = entry;
    entry.value.catch(() => {
      if (this.networks === entry) this.networks = undefined;
    });
    return entry.value;
  }

  // ---------------------------------------------------------------- power

  async start(name: string): Promise<void> {
    const dom = await this.domain(name, true);
    await this.refuseDisksInUse(name, dom);
    // A record of live taps left by a stop Kiln did not see: the domain starts on Kiln's ports.
    const ports = await this.forgetLiveTaps(name, dom.privateVlans ?? []);
    await this.virsh.run(['start', '--domain', name]);
    try {
      await this.inPortQueue(name, () => this.applyPrivateVlans(ports));
    } catch (error) {
      // A VM on a private VLAN never runs without its isolation.
      await this.virsh.tryRun(['destroy', '--domain', name]).catch(() => undefined);
      await this.clearPrivateVlans(ports).catch(() => undefined);
      throw error;
    }
  }

  /**
   * A VM whose host was cut off by its network may still run there, holding its disks on shared
   * storage. qemu would then start here, fail on the image lock, and exit; for that moment the VM
   * is listed on two hosts. `qemu-img info` takes the same lock without starting anything, so a disk
   * in use is refused up front, with the reason. (A host without qemu-img just skips the check.)
   */
  private async refuseDisksInUse(name: string, dom: ParsedDomain): Promise<void> {
    for (const disk of dom.disks) {
      if (disk.device !== 'disk' || disk.type !== 'file' || !disk.path) continue;
      const result = await this.virsh.ssh.exec(command(['env', 'LC_ALL=C', 'qemu-img', 'info', '--output=json', disk.path]));
      if (result.code !== 0 && /lock/i.test(result.stderr)) {
        const reason = result.stderr.split('\n').find((line) => /lock/i.test(line))?.trim() ?? result.stderr.trim();
        throw new DriverError(`disk ${disk.path} of ${name} is in use by another process (the VM may still run on a host Kiln cannot reach): ${reason}`, 'invalid');
      }
    }
  }

  async stop(name: string, options: StopOptions = {}): Promise<void> {
    await this.powerOff(name, options);
    // The tap is gone with the VM; its private-VLAN rules go too (and a live tap's record).
    const ports = (await this.domain(name, true).catch(() => undefined))?.privateVlans ?? [];
    await this.clearPrivateVlans(ports);
    await this.forgetLiveTaps(name, ports);
  }

  private async powerOff(name: string, options: StopOptions): Promise<void> {
    const state = await this.powerState(name);
    if (state === 'Missing') throw new DriverError(`Domain not found: no domain with matching name '${name}'`, 'not-found');
    if (state === 'Stopped') return;
    if (!options.forced && state === 'Running') {
      const result = await this.virsh.tryRun(['shutdown', '--domain', name, '--mode', 'acpi']);
      if (result.code === 0 && (await this.waitForState(name, 'Stopped', options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS))) return;
    }
    // Forced, paused, or the guest ignored ACPI: pull the plug.
    const result = await this.virsh.tryRun(['destroy', '--domain', name]);
    if (result.code !== 0 && !/not running|is not active/i.test(result.stderr)) {
      throw virshError(result.stderr, `cannot power off ${name}`);
    }
    await this.waitForState(name, 'Stopped', 30_000);
  }

  private async waitForState(name: string, wanted: PowerState, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.powerState(name);
      if (state === wanted || (wanted === 'Stopped' && state === 'Missing')) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.options.stopPollMs, Math.max(0, deadline - Date.now()))));
    }
  }

  async reboot(name: string): Promise<void> {
    await this.virsh.run(['reboot', '--domain', name]);
  }

  async reset(name: string): Promise<void> {
    await this.virsh.run(['reset', '--domain', name]);
  }

  async destroy(name: string, options: { removeDisks?: string[] | 'all' } = {}): Promise<void> {
    const dom = await this.domain(name, true);
    const state = await this.powerState(name);
    if (state === 'Running' || state === 'Paused' || state === 'Unknown') {
      const result = await this.virsh.tryRun(['destroy', '--domain', name]);
      if (result.code !== 0 && !/not running|is not active/i.test(result.stderr)) {
          throw virshError(result.stderr, `cannot power off ${name}`);
      }
    }
    // Internal snapshots live inside the qcow2 files; only their metadata is libvirt's.
    // Checkpoints (backup.ts) are libvirt's records of the disks' dirty bitmaps; they go with the definition.
    await this.clearPrivateVlans(dom.privateVlans ?? []);
    await this.virsh.run(['undefine', '--domain', name, '--snapshots-metadata', '--checkpoints-metadata', '--managed-save', ...(dom.hasNvram ? ['--nvram'] : [])]);
    // The serial log is Kiln's own file (libvirt leaves it behind).
    if (this.options.serialLog) await this.virsh.ssh.exec(command(['rm', '-f', '--', serialLogPath(name)])).catch(() => undefined);
    const images = dom.disks.filter((d) => d.device === 'disk' && d.path && d.type === 'file').map((d) => d.path as string);
    const requested = options.removeDisks ?? 'all';
    const doomed = requested === 'all' ? images : images.filter((path) => requested.some((r) => r === path || path.endsWith(`/${r}`)));
    await this.deleteDisks(doomed);
  }

  async deleteDisks(disks: string[]): Promise<void> {
    for (const disk of disks) {
      if ((await deleteVolume(this.pools, this.options.pool, disk)) || isPath(disk)) continue;
      // A disk storage tags put on another pool is found there by its name (Kiln's volume names are unique).
      for (const pool of (await readPools(this.virsh)).map((p) => p.name).filter((name) => name !== this.options.pool)) {
        if (await deleteVolume(this.pools, pool, disk).catch(() => false)) break;
      }
    }
  }

  // ---------------------------------------------------------------- media, resources

  private async cdromTarget(name: string): Promise<string> {
    const dom = await this.domain(name, true);
    // The ISO drive is hdc; a config drive beside it (hdd) is not for attachIso to replace.
    const cdrom = dom.disks.find((d) => d.device === 'cdrom' && d.target === 'hdc') ?? dom.disks.find((d) => d.device === 'cdrom');
    if (!cdrom) throw new DriverError(`domain ${name} has no CD-ROM drive; stop and start it so Kiln redefines it with one`, 'unsupported');
    return cdrom.target;
  }

  private async isActive(name: string): Promise<boolean> {
    const state = await this.powerState(name);
    if (state === 'Missing') throw new DriverError(`Domain not found: no domain with matching name '${name}'`, 'not-found');
    return state === 'Running' || state === 'Paused';
  }

  /** Image copies this session has checked (by SHA-256) in the host's pool. */
  private readonly verifiedImages = new Set<string>();

  async stageImage(image: StoredImage): Promise<void> {
    await uploadImage(this.pools, this.options.pool, image, this.verifiedImages);
  }

  /** Deletes the pool volume stageImage made (the pool is shared: one delete serves every host on it). */
  async removeImage(image: StagedImageName): Promise<boolean> {
    const volume = await removeImage(this.pools, this.options.pool, image.name);
    if (volume) this.verifiedImages.delete(volume);
    return volume !== undefined;
  }

  /**
   * The file an ISO drive reads: an ISO Kiln copied into the pool (stageImage) is named by its
   * volume, and the domain needs its path; an absolute path (the root admin's) is taken as it is.
   * One rule for define and attachIso.
   */
  private async isoSource(isoPath: string): Promise<string> {
    if (isPath(isoPath)) return isoPath;
    const volume = await findVolume(this.pools, this.options.pool, isoPath);
    if (!volume) throw new DriverError(`ISO ${isoPath} not found in pool ${this.options.pool} on the host`, 'not-found');
    return volume.path;
  }

  async attachIso(name: string, isoPath: string): Promise<void> {
    const target = await this.cdromTarget(name);
    const source = await this.isoSource(isoPath);
    const scope = (await this.isActive(name)) ? ['--live', '--config'] : ['--config'];
    await this.virsh.run(['change-media', '--domain', name, '--path', target, '--source', source, '--update', ...scope]);
  }

  async detachIso(name: string): Promise<void> {
    const target = await this.cdromTarget(name);
    const scope = (await this.isActive(name)) ? ['--live', '--config'] : ['--config'];
    const result = await this.virsh.tryRun(['change-media', '--domain', name, '--path', target, '--eject', '--force', ...scope]);
    // An empty drive is already what was asked for.
    if (result.code !== 0 && !/no media|is empty|doesn't have media|has no source/i.test(result.stderr)) {
      throw virshError(result.stderr, `cannot eject the CD-ROM of ${name}`);
    }
  }

  async scale(name: string, resources: { cpuNumber?: number; memoryMiB?: number }, live: boolean): Promise<void> {
    const active = await this.isActive(name);
    const applyLive = active && live;
    if (resources.cpuNumber !== undefined) {
      const count = resources.cpuNumber;
      if (!Number.isInteger(count) || count < 1) throw new DriverError(`invalid vCPU count ${count}`, 'invalid');
      if (applyLive) {
        const now = await this.domain(name);
        if (count < now.vcpusCurrent) {
          throw new DriverError(`cannot remove vCPUs from running domain ${name} (${now.vcpusCurrent} -> ${count}): vCPU hot-unplug is not supported; stop the VM to reduce its vCPUs`, 'unsupported');
        }
        if (count > now.vcpusMax) {
          throw new DriverError(`cannot give running domain ${name} ${count} vCPUs: its maximum is ${now.vcpusMax}; stop the VM to raise it`, 'invalid');
        }
        if (count > now.vcpusCurrent) await this.virsh.run(['setvcpus', '--domain', name, '--count', String(count), '--live', '--config']);
      } else {
        const config = await this.domain(name, true);
        if (count > config.vcpusMax) await this.virsh.run(['setvcpus', '--domain', name, '--count', String(count), '--maximum', '--config']);
        await this.virsh.run(['setvcpus', '--domain', name, '--count', String(count), '--config']);
      }
    }
    if (resources.memoryMiB !== undefined) {
      const kib = Math.floor(resources.memoryMiB * 1024);
      if (!(kib > 0)) throw new DriverError(`invalid memory size ${resources.memoryMiB} MiB`, 'invalid');
      if (applyLive) {
        const now = await this.domain(name);
        if (kib > now.memoryKiB) {
          throw new DriverError(`cannot give running domain ${name} ${resources.memoryMiB} MiB: its maximum is ${Math.floor(now.memoryKiB / 1024)} MiB; stop the VM to raise it`, 'invalid');
        }
        // The balloon gives memory back to (or takes it from) the running guest.
        await this.virsh.run(['setmem', '--domain', name, '--size', `${kib}KiB`, '--live', '--config']);
      } else {
        const config = await this.domain(name, true);
        if (kib > config.memoryKiB) await this.virsh.run(['setmaxmem', '--domain', name, '--size', `${kib}KiB`, '--config']);
        await this.virsh.run(['setmem', '--domain', name, '--size', `${kib}KiB`, '--config']);
      }
    }
  }

  // ---------------------------------------------------------------- migration

  /** The URI another host's libvirt uses to reach this host (see KvmHostOptions.migrationUri). */
  migrationUri(): string {
    if (this.options.migrationUri) return this.options.migrationUri;
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    const port = this.address.port === 22 ? '' : `:${this.address.port}`;
    // no_tty: fail at once instead of waiting for a password prompt nobody will answer.
    return `qemu+ssh://${encodeURIComponent(this.address.username)}@${host}${port}/system?no_tty=1`;
  }

  /**
   * Moves the domain to another host, or (volumePools) its disks to other pools of this host, or
   * both: the domain to the target host with those disks in the target's pools.
   */
  async migrate(name: string, target: MigrationTarget, options: { live?: boolean } = {}): Promise<void> {
    if (!(target.session instanceof KvmSession)) throw new DriverError('a KVM domain can only migrate to another KVM host', 'unsupported');
    const sameHost = target.session === this || (target.session.address.host === this.address.host && target.session.address.port === this.address.port);
    const moving = target.volumePools && Object.keys(target.volumePools).length > 0 ? target.volumePools : undefined;
    if (moving && sameHost) {
      // Storage motion within the host: a block copy while the guest runs, a copy of the files while it is shut off.
      if (await this.isActive(name)) await moveRunningDisks(this.pools, name, moving);
      else await moveStoppedDisks(this.pools, name, moving);
      return;
    }
    if (sameHost) throw new DriverError(`domain ${name} is already on host ${this.address.host}`, 'invalid');
    const active = await this.isActive(name);
    const destination = { storage: target.session.pools, host: target.session.address.host };
    if (moving && !active) {
      await moveStoppedToHost(this.pools, destination, name, moving);
      // As after any migration: the serial log here is stale, the destination's view of the default pool too.
      if (this.options.serialLog) await this.virsh.ssh.exec(command(['rm', '-f', '--', serialLogPath(name)])).catch(() => undefined);
      await refreshPool(target.session.pools, target.session.options.pool).catch(() => undefined);
      return;
    }
    // libvirt refuses to migrate a domain with snapshot records: they travel separately, and are
    // put back here if the migration fails.
    const snapshots = await this.listSnapshots(name);
    const current = snapshots.find((s) => s.current)?.name;
    const portable = snapshots.map((s) => ({ name: s.name, metadata: s.metadata ?? '' }));
    const args = ['migrate', '--domain', name, '--desturi', target.session.migrationUri(), '--persistent', '--undefinesource'];
    // Without --live, libvirt pauses the domain while its memory is copied (a "cold" move of a
    // running VM); a shut-off domain moves only its definition.
    if (active && options.live !== false) args.push('--live');
    if (!active) args.push('--offline');
    if (this.options.migrateUnsafe) args.push('--unsafe');
    // A running VM's private-VLAN rules wait on the destination before its tap exists there (they
    // are keyed by the tap's name), so it never runs there unisolated; they leave here after the move.
    const ports = active ? ((await this.domain(name, true)).privateVlans ?? []) : [];
    // A domain imported while it ran is still on its own tap names here: it arrives on Kiln's ports
    // (the destination's taps are new, so the migration XML names them), whose rules wait there.
    const arriving = withoutLiveTaps(ports);
    if (ports.some((p) => p.tap)) args.push('--xml', '/dev/stdin');
    const migrationXml = ports.some((p) => p.tap) ? migrationXmlOnPorts(await this.virsh.run(['dumpxml', '--domain', name, '--migratable']), ports) : undefined;
    // A UEFI domain's variable store, per host outside the pools (nvram-move.ts): copied first for a
    // definition-only move (a refusal changes nothing), the source's deleted after either kind.
    const there = target.session;
    const missingThere = async () => (await there.powerState(name).catch(() => 'Unknown')) === 'Missing';
    const inactiveXml = await this.virsh.run(['dumpxml', '--domain', name, '--inactive']);
    const nvram = await prepareNvramMigration(this.virsh, { virsh: there.virsh, host: destination.host, missing: missingThere }, name, inactiveXml, active);
    // With disks to move: the destination's volumes are made first, and the copy rides along (host-volume-move.ts).
    let storage: StorageMigration | undefined;
    try {
      storage = moving ? await prepareStorageMigration(this.pools, destination, name, moving) : undefined;
      if (storage && migrationXml) throw new DriverError(`domain ${name} still runs on the tap names it had when it was imported; a live migration with its disks waits until it has been stopped and started once (then its NICs are on Kiln's private-VLAN ports)`, 'invalid');
      await target.session.applyPrivateVlans(arriving);
    } catch (error) {
      await storage?.abandon();
      await nvram?.abandon().catch(() => undefined);
      throw error;
    }
    await this.watcher.quietly(name, async () => {
      try {
        await this.dropSnapshotMetadata(name, snapshots);
        if (storage) await runStorageMigration(this.pools, [...args, ...storage.args], storage, this.options.migrateTimeoutMs);
        else await this.virsh.run(args, { timeoutMs: this.options.migrateTimeoutMs, ...(migrationXml ? { stdin: migrationXml } : {}) });
      } catch (error) {
        await target.session.clearPrivateVlans(arriving).catch(() => undefined);
        if (error instanceof DriverError && error.category === 'timeout') {
          // Stop the job so the domain keeps running here rather than half-way elsewhere.
          await this.virsh.tryRun(['domjobabort', '--domain', name]).catch(() => undefined);
        }
        // The volumes made there go, unless the guest got there after all (a failure reported after the switch).
        if (storage && (await missingThere())) await storage.abandon();
        await nvram?.abandon().catch(() => undefined);
        if (portable.length) await this.importSnapshots(name, portable, current).catch(() => undefined);
        throw error;
      }
    });
    await this.clearPrivateVlans(ports).catch(() => undefined);
    // Its persistent definition came along with the live taps' record, which is this host's past.
    if (migrationXml) await target.session.updatePorts(name, withoutLiveTaps, true).catch(() => undefined);
    await storage?.finish();
    await nvram?.finish();
    if (portable.length) await target.session.importSnapshots(name, portable, current);
    // Serial output continues in the destination's log; the one here would only go stale.
    if (this.options.serialLog) await this.virsh.ssh.exec(command(['rm', '-f', '--', serialLogPath(name)])).catch(() => undefined);
    // The destination's view of the shared pool is stale until refreshed (later volume deletes there).
    await refreshPool(target.session.pools, target.session.options.pool).catch(() => undefined);
  }

  // ---------------------------------------------------------------- snapshots

  async createSnapshot(name: string, snapshot: { name: string; description?: string; withMemory: boolean; quiesce?: boolean; timeoutMs?: number }): Promise<void> {
    checkSnapshotName(snapshot.name);
    // There is no guest agent to freeze the file systems (KVM_CAPABILITIES.quiesceSnapshots is
    // false): refuse rather than hand back an unquiesced snapshot as a quiesced one.
    if (snapshot.quiesce) throw new DriverError(`a quiesced snapshot of ${name} is not supported on KVM (no guest agent); take it without quiesce`, 'unsupported');
    const active = await this.isActive(name);
    if (active && !snapshot.withMemory) {
      // libvirt 9 can only take disk-only snapshots of a running domain as external overlays,
      // and it cannot revert to those: refuse rather than create a snapshot that cannot be used.
      throw new DriverError(`a disk-only snapshot of running domain ${name} is not supported on KVM; take it with memory, or stop the VM first`, 'unsupported');
    }
    // Internal snapshot: with memory while running, of the disks only while shut off. The XML is
    // ours (escaped by the builder), not assembled by virsh from the arguments.
    const xml = buildXml({ domainsnapshot: { name: snapshot.name, ...(snapshot.description ? { description: snapshot.description } : {}) } });
    await this.watcher.quietly(name, () => this.virsh.run(['snapshot-create', '--domain', name, '--xmlfile', '/dev/stdin', '--atomic'], { stdin: xml, timeoutMs: snapshot.timeoutMs ?? 600_000 }));
  }

  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    const names = await this.snapshotNames(name);
    if (names.length === 0) return [];
    const current = await this.virsh.tryRun(['snapshot-current', '--domain', name, '--name']);
    const currentName = current.code === 0 ? current.stdout.replace(/\n+$/, '') : undefined;
    const nonce = newNonce();
    const output = await this.virsh.runScript(
      `n=$1 d=$2; shift 2
for s in "$@"; do
  echo "@@$n snap"; $VIRSH snapshot-dumpxml --domain "$d" --snapshotname "$s" || exit 1
done`,
      [nonce, name, ...names],
    );
    return splitSections(output, nonce)
      .flatMap((section) => splitDocuments(section.body, 'domainsnapshot'))
      .map((xml) => ({ xml, s: parseSnapshotXml(xml) }))
      .map(({ xml, s }) => ({
        ref: s.name,
        name: s.name,
        description: s.description || undefined,
        parent: s.parent,
        current: s.name === currentName,
        withMemory: s.memory === 'internal' || s.memory === 'external',
        createdAt: s.createdAt,
        metadata: xml,
      }));
  }

  async importSnapshots(name: string, snapshots: { name: string; metadata: string }[], current?: string): Promise<void> {
    const known = new Set(await this.snapshotNames(name));
    for (const snapshot of snapshots) {
      if (known.has(snapshot.name)) continue;
      // The data of an internal snapshot is in the qcow2 files on shared storage; only libvirt's record of it is missing here.
      await this.virsh.run(['snapshot-create', '--domain', name, '--xmlfile', '/dev/stdin', '--redefine'], { stdin: snapshot.metadata });
    }
    if (current !== undefined) await this.virsh.run(['snapshot-current', '--domain', name, '--snapshotname', current]);
  }

  /** The domain's snapshot names, parents before children (the order importSnapshots needs). */
  private async snapshotNames(name: string): Promise<string[]> {
    return (await this.virsh.run(['snapshot-list', '--domain', name, '--name', '--topological'])).split('\n').filter((n) => n.trim() !== '');
  }

  /** Takes libvirt's snapshot records off the domain (children first), keeping the snapshots themselves in its disks. */
  private async dropSnapshotMetadata(name: string, snapshots: SnapshotInfo[]): Promise<void> {
    for (const snapshot of [...snapshots].reverse()) {
      await this.virsh.run(['snapshot-delete', '--domain', name, '--snapshotname', snapshot.name, '--metadata']);
    }
  }

  async revertSnapshot(name: string, snapshotName: string): Promise<void> {
    await this.watcher.quietly(name, () => this.virsh.run(['snapshot-revert', '--domain', name, '--snapshotname', snapshotName], { timeoutMs: 600_000 }));
  }

  async deleteSnapshot(name: string, snapshotName: string): Promise<void> {
    await this.watcher.quietly(name, () => this.virsh.run(['snapshot-delete', '--domain', name, '--snapshotname', snapshotName], { timeoutMs: 600_000 }));
  }

  // ---------------------------------------------------------------- consoles

  async openConsole(name: string): Promise<Duplex> {
    return openConsole(this.virsh, name);
  }

  /** A local TCP port (127.0.0.1) that reaches the domain's VNC display through this host's SSH connection. */
  async forwardVnc(name: string): Promise<VncForward> {
    const forward = await forwardVnc(this.virsh, name);
    this.forwards.add(forward);
    return {
      port: forward.port,
      close: async () => {
        this.forwards.delete(forward);
        await forward.close();
      },
    };
  }
}

function serialLogPath(name: string): string {
  return `/var/log/libvirt/qemu/${name}-serial.log`;
}

/** Snapshot names are listed one per line; refuse names that could break that. */
function checkSnapshotName(name: string): void {
  // eslint-disable-next-line no-control-regex
  if (name.trim() === '' || /[\u0000-\u001f/]/.test(name)) {
    throw new DriverError(`invalid snapshot name ${JSON.stringify(name)}: it must not be empty or contain '/' or control characters`, 'invalid');
  }
}
