/**
 * The one contract every hypervisor driver implements: simulator, KVM (ssh2 + virsh), vSphere
 * (vim25 SOAP) and XenServer (xapi JSON-RPC). A new hypervisor is one folder under drivers/ and a
 * green run of test/conformance. The shape, and why:
 *
 * - Provider and endpoint. A HypervisorDriver is the kind (Podman Desktop's provider); connect()
 *   opens an Endpoint (its connection): an SSH host for KVM, a vCenter or standalone ESXi, a xapi
 *   pool master, a simulator host. One endpoint = one shared connection and one event stream,
 *   because vCenter and xapi multiplex many hosts over one session (Xen Orchestra keeps one object
 *   per pool). The endpoint reports the hosts behind it; endpoint.host(ref) is a HostSession, a
 *   per-host view over the same connection. The engine maps endpoint hosts onto its hosts rows.
 * - References. Every VM, disk, snapshot, network and host carries the hypervisor's own `ref`
 *   (libvirt domain name, MoRef, OpaqueRef): names are not unique on vSphere or xapi. The engine
 *   stores refs and addresses objects by them; names are for display and the internal-name rule
 *   (R3). define() returns the VM's ref. On KVM the libvirt name is the ref (unique per host, and
 *   Kiln never renames a domain), so rows from before refs existed still resolve by name.
 * - Long operations take OperationOptions: an AbortSignal (cancel: CancelTask, task.cancel) and
 *   progress. Where the hypervisor runs a task, the driver calls onTask(ref) as soon as the task
 *   exists, so the engine stores it before waiting; after a restart Endpoint.reattachTask(ref)
 *   finishes the job instead of failing it. Drivers without tasks (KVM) leave reattachTask out;
 *   the engine then reconciles with what the host reports (powerState, listInstances).
 * - Capabilities are static per driver (HypervisorDriver.capabilities, known before any host is
 *   connected, so placement and listApis can use them) and refined per host
 *   (HostSession.capabilities, e.g. from libvirt's domcapabilities). The engine and renderer decide
 *   by them, never by hypervisor name. DriverDefaults say what a driver names by itself (disk
 *   format, default disk bus and NIC adapter) so the engine writes none of it.
 * - Facets. Optional concerns are optional objects on the session (libvirt's separate driver
 *   tables, most entries optional): storage, snapshots, console, gpu, guestMetadata, backup,
 *   import, migration. An absent facet means "unsupported", known before any work starts; the
 *   engine checks `session.snapshots`, never a name.
 * - Migration is two-phase, as libvirt's: prepare() on the destination host (checks, storage,
 *   the address the source must reach) gives a MigrationTicket, perform() on the source moves the
 *   VM. One shape for live and offline moves, across hosts, clusters and datastores.
 * - Trust is one model for SSH host keys and TLS certificates: a TrustAnchor (kind + SHA-256
 *   fingerprint). probeTrust(url) reads it before anything is sent (shown, confirmed by the
 *   admin); connect() with a pinned anchor refuses a different one (DriverError category
 *   'host-key-changed', details.presented) until an admin accepts the new one; without one it
 *   trusts on first use and reports what it saw in Endpoint.trust for the engine to pin.
 * - Events say who caused them (initiator): 'platform' when the hypervisor itself moved, restarted
 *   or powered a VM (vMotion, DRS, xapi HA), so Kiln's HA monitor follows instead of fighting it;
 *   'user' for an API request (Kiln's or another client's); 'guest' for the guest OS (a shutdown
 *   inside, a crash).
 * - Connection specs are validated by the driver (validateConnection, connectionForm), so the
 *   engine's addHost/addCluster hold no per-hypervisor URL or credential rules, and the UI builds
 *   its add dialog from the same declaration.
 */
import type { Duplex, Readable } from 'node:stream';
import type { ApplianceDeploy, ApplianceFacet } from './appliance.js';
import type { NetworkDiscoveryFacet } from './network-discovery.js';

export type HypervisorType = 'Simulator' | 'KVM' | 'VMware' | 'XenServer';

/** The hypervisor's own identifier of an object: libvirt name, vSphere MoRef value, xapi OpaqueRef. Opaque to the engine. */
export type Ref = string;

/** What a long operation accepts. Every field is optional; a driver honours what its hypervisor can. */
export interface OperationOptions {
  /** Aborting cancels the operation (the hypervisor's task where there is one) and rejects with category 'timeout'. */
  signal?: AbortSignal;
  /** Progress 0..100, as the hypervisor reports it. */
  onProgress?(percent: number): void;
  /** Called once the hypervisor's task exists (before it ends), so the engine can store the ref for reattachTask. */
  onTask?(taskRef: Ref): void;
}

/** What a long operation resolves to: the hypervisor task that ran it, when there was one. */
export type OperationResult = { taskRef?: Ref } | void;

/** How a reattached task ended. `result` is the task's result ref (e.g. the new VM of a clone). */
export interface TaskOutcome {
  state: 'success' | 'error' | 'cancelled';
  result?: Ref;
  error?: string;
}

/**
 * What Kiln trusts an endpoint by: its SSH host key or its TLS certificate, as a SHA-256
 * fingerprint in the kind's usual form (SSH: "SHA256:base64"; TLS: "AB:CD:…", 32 pairs).
 */
export interface TrustAnchor {
  kind: 'ssh-host-key' | 'tls-certificate';
  fingerprint: string;
}

/** Power state as the hypervisor reports it; the engine maps it onto its own VM states. */
export type PowerState = 'Running' | 'Stopped' | 'Paused' | 'Crashed' | 'Unknown';

/** How to reach one endpoint. Secrets arrive decrypted, only for the life of the connection. */
export interface HostConnectionSpec {
  /** Kiln's id for the connection (a host uuid); drivers key pools and logs by it. */
  hostId: string;
  /** The canonical URL validateConnection returned: ssh://10.0.0.5:22, https://vcenter/DC/CLUSTER, https://xenhost, simulator://sim-1 */
  url: string;
  username?: string;
  password?: string;
  privateKey?: string;
  /** What the admin confirmed (probeTrust) or Kiln pinned on first use; absent on first contact. */
  pinnedTrust?: TrustAnchor;
  /** Per-driver extras: storage pool name, datacenter, etc. */
  options?: Record<string, string>;
}
export type EndpointSpec = HostConnectionSpec;

/** What addHost/addCluster pass for validation, before anything is stored or connected. */
export interface ConnectionInput {
  url: string;
  username?: string;
  password?: string;
  privateKey?: string;
}

/**
 * How a driver's endpoints are added, declared once for the engine's checks, the API docs and the
 * UI's add dialog (Podman Desktop's connection factories with their own parameter schema).
 */
export interface ConnectionForm {
  /** e.g. "ssh://10.0.0.5" */
  urlExample: string;
  /** The rule in words, for the param error and the dialog, e.g. "a KVM host is reached as ssh://host[:port]". */
  urlRule: string;
  /** Which credentials an endpoint needs: one of these groups must be given in full. */
  credentials: ('password' | 'privatekey' | 'username')[][];
  /** What one URL adds: one host (KVM, standalone ESXi) or every host of a cluster (vCenter, pool). */
  adds: 'host' | 'cluster';
  /** The trust anchor kind its endpoints present. */
  trust: TrustAnchor['kind'];
}

/** A host behind an endpoint. */
export interface EndpointHost {
  ref: Ref;
  /** Display name (host name as the hypervisor knows it). */
  name: string;
  /** The cluster/pool the hypervisor groups it in, for addCluster's discovery. */
  cluster?: string;
  /** Whether the endpoint can reach it now (a vCenter reports disconnected ESXi hosts too). */
  connected: boolean;
}

export interface GpuDeviceInfo {
  /** GPU group / PCI class name, e.g. "Group of NVIDIA Corporation GK107GL [GRID K1] GPUs". */
  group: string;
  /** vGPU type name ("passthrough" for whole-device pass-through). */
  vgpuType: string;
  maxCapacity: number;
  remainingCapacity: number;
  /** How many of this type one physical GPU holds (CloudStack's maxvgpuperpgpu). */
  maxVgpuPerPgpu?: number;
  videoRamMiB?: number;
  maxHeads?: number;
  maxResolutionX?: number;
  maxResolutionY?: number;
  /**
   * Per physical GPU, where the hypervisor tells them apart (xapi's PGPUs): its PCI address, its
   * share of this type's capacity, and the Kiln VMs (uuids) whose vGPU of this type it holds.
   */
  pgpus?: { address: string; remainingCapacity: number; maxCapacity: number; vmUuids: string[] }[];
}

export interface HostInventory {
  hostname: string;
  hypervisorVersion: string;
  cpuSockets: number;
  cpuNumber: number;
  cpuSpeedMhz: number;
  memoryTotalMiB: number;
  memoryFreeMiB: number;
  /** Fraction 0..1 of CPU in use, when the hypervisor reports it. */
  cpuUsed?: number;
  storagePools: { ref?: Ref; name: string; path?: string; capacityBytes: number; availableBytes: number; shared: boolean }[];
  networks: { ref?: Ref; name: string; bridge?: string; vlan?: number }[];
  pciDevices: { address: string; vendor: string; product: string; className?: string }[];
  gpus: GpuDeviceInfo[];
}

/** What a host's periodic refresh records (HostSession.capacity): its CPUs, memory, version and GPUs. */
export type HostCapacity = Pick<HostInventory, 'hypervisorVersion' | 'cpuSockets' | 'cpuNumber' | 'cpuSpeedMhz' | 'memoryTotalMiB' | 'memoryFreeMiB' | 'gpus'>;

export type DiskBus = 'virtio' | 'scsi' | 'ide' | 'sata';

export interface DiskSpec {
  /** Volume name the driver understands (a file in a storage pool), chosen by Kiln in DriverDefaults.diskFormat. */
  name: string;
  /** The disk's ref once the hypervisor has it (DefineResult.disks); absent before the first define. */
  ref?: Ref;
  sizeBytes: number;
  /** Clone from this image (a backing file on KVM, a linked clone on vSphere). */
  backingImage?: string;
  device: 'disk' | 'cdrom';
  /** Absent: the driver's DriverDefaults.diskBus. */
  bus?: DiskBus;
  pool?: string;
}

export interface NicSpec {
  macAddress: string;
  /** Network name, or its ref (HostInventory.networks) where the hypervisor's names are not unique. */
  network: string;
  vlan?: number;
  /**
   * The network's private VLAN (createNetwork isolatedpvlan / isolatedpvlantype): `vlan` is its
   * primary VLAN, this its secondary and the port's role. Only a driver with the privateVlans
   * capability configures it on the hypervisor; the engine starts no such NIC on other hosts.
   */
  privateVlan?: { type: 'isolated' | 'community' | 'promiscuous'; secondaryVlan: number };
  adapterType?: string;
}

/** Everything needed to (re)build a VM on a host. Start rebuilds from this; reboot does not (R9). */
export interface VmSpec {
  /** The VM's ref when it has one (a redefine); absent on first define. */
  ref?: Ref;
  internalName: string;
  displayName: string;
  uuid: string;
  cpuNumber: number;
  cpuSpeedMhz: number;
  memoryMiB: number;
  /** Upper bounds for live scaling when the VM is dynamically scalable. */
  maxCpuNumber?: number;
  maxMemoryMiB?: number;
  disks: DiskSpec[];
  nics: NicSpec[];
  isoPath?: string;
  /** Direct kernel boot (test guests, appliances); otherwise the driver boots from disk. */
  kernel?: string;
  initrd?: string;
  kernelArgs?: string;
  bootType?: 'BIOS' | 'UEFI';
  gpu?: { group: string; vgpuType: string };
  /** The VM's HA flag (R13): a driver with isolationFencing marks it so an isolated host powers it off. */
  highAvailability?: boolean;
  /** Free-form details the driver may honour (nicAdapter, rootDiskController, …). */
  details?: Record<string, string>;
  /**
   * An imported VM (ImportFacet.adopt): its definition on the hypervisor is the source of truth for
   * disks, NICs, controllers and devices. define() then keeps that definition and only sets vCPUs
   * and memory to the spec's (a fixed offering chosen at import, R46); it never rebuilds the VM.
   */
  keepDefinition?: boolean;
  /** An appliance template (ApplianceFacet) deployed as it is described: the first define imports it with these choices. */
  appliance?: ApplianceDeploy;
}

/** An image in Kiln's image store (the zone's secondary storage), for a host to copy. */
export interface StoredImage {
  /** The name the host's copy gets, chosen by Kiln (never by a user); a plain file name. */
  name: string;
  format: 'qcow2' | 'raw' | 'iso';
  sizeBytes: number;
  /** SHA-256 (hex) of the bytes, to tell a complete copy from a partial one. */
  sha256: string;
  /** The bytes, read from the start. */
  open(): Readable;
  /** LENGTH bytes at POSITION (short only past the end): for a driver that must read a QCOW2 image's tables to convert it. */
  readAt?(position: number, length: number): Promise<Buffer>;
  /** The template's details (R30: rootDiskController, nicAdapter, …), for a driver that builds a template around the image. */
  details?: Record<string, string>;
}

/** A VM found on a host, managed or not (for listUnmanagedInstances and reconcile). */
/** What the reconcile pass compares per VM (HostSession.listPowerStates). */
export type InstancePower = Pick<InstanceInfo, 'ref' | 'name' | 'uuid' | 'powerState'>;

export interface InstanceInfo {
  ref: Ref;
  name: string;
  uuid?: string;
  powerState: PowerState;
  cpuNumber: number;
  cpuCoresPerSocket?: number;
  cpuSpeedMhz?: number;
  memoryMiB: number;
  osDisplayName?: string;
  /** MHz reserved for the VM (vSphere's CPU reservation), when the hypervisor has one. */
  cpuReservationMhz?: number;
  /** Whether the guest's tools/agent run (guest IPs come from them). */
  toolsRunning?: boolean;
  isTemplate?: boolean;
  bootType?: string;
  disks: {
    /** The disk's ref. */
    id: string;
    label?: string;
    capacityBytes: number;
    controller?: string;
    controllerUnit?: number;
    position?: number;
    imagePath?: string;
    datastore?: string;
  }[];
  nics: {
    id: string;
    macAddress: string;
    networkName?: string;
    vlanId?: number;
    /** The secondary (isolated) VLAN of a private-VLAN port. */
    pvlanId?: number;
    /** Its kind as the switch says: isolated, community or promiscuous. */
    pvlanType?: string;
    adapterType?: string;
    pciSlot?: string;
    ipAddresses?: string[];
  }[];
}

export interface SnapshotInfo {
  ref: Ref;
  name: string;
  description?: string;
  /** The parent snapshot's ref. */
  parent?: Ref;
  current: boolean;
  withMemory: boolean;
  createdAt: string;
  /**
   * The hypervisor's own record of the snapshot (libvirt's snapshot XML), opaque to the engine:
   * enough for importSnapshots to recreate it where the VM's disks are seen from another host.
   */
  metadata?: string;
}

export interface StopOptions extends OperationOptions {
  /** Skip the graceful (ACPI) step and power off at once. */
  forced?: boolean;
  /** How long to wait for a graceful shutdown before forcing. */
  timeoutMs?: number;
}

/** What define() tells the engine to store. */
export interface DefineResult {
  ref: Ref;
  /**
   * Each disk's ref by DiskSpec.name, when the hypervisor gives disks their own. POOL: the pool the
   * disk is on now (a PrimaryStoragePool's ref or name), when the driver knows it: the engine records
   * the volume on that pool's record (the cluster's, else the host's own), whether Kiln named a pool or not.
   */
  disks?: { name: string; ref: Ref; pool?: string }[];
  taskRef?: Ref;
}

// ------------------------------------------------------------------ events

/** Who caused a change: the platform's own automation, an API request, or the guest. */
export type EventInitiator = 'platform' | 'user' | 'guest';

/**
 * A change an endpoint reports on its own. `hostRef` is the host the VM is on after the change: a
 * platform move (vMotion, DRS, xapi HA restart) is a power event with reason 'migrated',
 * initiator 'platform' and the new host, which the engine follows rather than "repairs".
 */
export type HostEvent =
  | {
      kind: 'power';
      /** The VM's ref (KVM: its name). */
      vmRef: Ref;
      /** The VM's name, for logs and rows without a ref. */
      name: string;
      hostRef?: Ref;
      state: PowerState;
      reason?: 'crashed' | 'shutdown' | 'destroyed' | 'started' | 'migrated' | 'stopped' | 'rebooted' | string;
      initiator: EventInitiator;
    }
  | { kind: 'host'; hostRef: Ref; state: 'connected' | 'disconnected' | 'maintenance' | 'added' | 'removed' }
  /** The endpoint's own connection (for KVM, the one host). */
  | { kind: 'connection'; state: 'up' | 'down'; error?: string };
export type EndpointEvent = HostEvent;

// ------------------------------------------------------------------ capabilities and defaults

export interface DriverCapabilities {
  liveMigration: boolean;
  /** Moving disks between pools during migration. */
  storageMotion: boolean;
  /** false: storage motion only for a stopped VM (its disks move between pools while it is shut off). Absent: as storageMotion. */
  liveStorageMotion?: boolean;
  /** A stopped VM's disks to another host's local storage, the VM with them (KVM streams them between the hosts). Absent: no. */
  storageMotionAcrossHosts?: boolean;
  crossClusterMigration: boolean;
  /**
   * A migration to a host of another cluster copies the VM's disks onto the destination's storage
   * (its default pool, or the pool migrateto names): XenServer's VM.migrate_send. Absent: the
   * disks stay where they are, so the destination must reach them.
   */
  crossClusterCarriesDisks?: boolean;
  memorySnapshots: boolean;
  /** A disk-only snapshot of a running VM (KVM's internal snapshots need the VM stopped for that). */
  diskSnapshotsWhileRunning: boolean;
  /** Freezing the guest's file systems for the snapshot (needs a guest agent). */
  quiesceSnapshots: boolean;
  /** Live migration of a VM that has snapshots (libvirt refuses: its snapshot metadata stays behind). */
  migrateWithSnapshots: boolean;
  liveScaleCpu: boolean;
  liveScaleMemory: boolean;
  /** Live scaling needs the guest's tools/agent (VMware Tools: CloudStack's isdynamicallyscalable). */
  liveScaleNeedsGuestTools?: boolean;
  serialConsole: boolean;
  vnc: boolean;
  gpu: boolean;
  /** Ports on a private VLAN (NicSpec.privateVlan) set up on the hypervisor: isolated, community and promiscuous. */
  privateVlans?: boolean;
  /**
   * An imported VM's kept definition can have a NIC moved onto the driver's own private-VLAN port
   * (ImportFacet.adopt's privateVlanNics; again at each start with keepDefinition), the rest of the
   * definition kept. Without it, a kept NIC is isolated only if the hypervisor already has it on
   * that private VLAN (InstanceInfo pvlanId).
   */
  privateVlanImport?: boolean;
  /**
   * A data disk of a running VM resizes while it runs (resizeVolume on a Running VM); absent: yes.
   * False: the engine refuses that resize (431) and the UI offers it only while the VM is stopped.
   */
  liveVolumeResize?: boolean;
  /**
   * CloudStack's hypervisor capability `maxguestslimit`: the most VMs one host of this hypervisor
   * should run. The driver's default; an admin overrides it (updateHypervisorCapabilities, or per
   * cluster), and placement and the N−1 headroom check read the result.
   */
  maxGuestsLimit: number;
}

/** What a driver names by itself, so the engine writes no hypervisor's conventions. */
export interface DriverDefaults {
  /** The disk format new volumes get; Kiln names a volume `${uuid}.${diskFormat}`. */
  diskFormat: 'qcow2' | 'vmdk' | 'vhd' | 'raw';
  /** The bus a disk gets when its DiskSpec names none. */
  diskBus: DiskBus;
  /** The NIC model a NIC gets when its NicSpec names none. */
  nicAdapter: string;
  /** The registerTemplate formats (QCOW2, RAW, OVA, ISO, …) its hosts deploy from; absent: any. The engine refuses others at registration. */
  templateFormats?: readonly string[];
}

// ------------------------------------------------------------------ facets

/** Storage the host sees beyond HostInventory.storagePools. */
export interface StorageFacet {
  /**
   * Makes an image from Kiln's image store (a downloaded template or ISO) available to this host,
   * copying it into the host's storage on first use; a complete copy already there is kept.
   * Resolves once DiskSpec.backingImage / VmSpec.isoPath may name it by `image.name`.
   */
  stageImage(image: StoredImage, options?: OperationOptions): Promise<void>;
  /**
   * Removes the host's copy of an image stageImage made (deleteTemplate, deleteIso), found by the
   * name Kiln gave it; a copy on storage other hosts share goes for them too. Resolves true when a
   * copy was removed, false when there was none (a retry, or a host that never had it). The engine
   * calls it only when no VM it knows still uses the image there. Absent: the driver cannot
   * remove copies (listHosts publishes this as the capability removeImage).
   */
  removeImage?(image: StagedImageName, options?: OperationOptions): Promise<boolean>;
}

/** A staged image as removeImage finds it: Kiln's name for it and its format (a template's copy and an ISO's live differently). */
export type StagedImageName = Pick<StoredImage, 'name' | 'format'>;

/**
 * One primary storage pool as the hypervisor has it (CloudStack's storage pool, listStoragePools):
 * a libvirt pool, a datastore, an SR, the simulator's storage. The engine keeps a record per pool
 * and cluster (tags, enabled) and names the pool to the driver by `ref` in DiskSpec.pool /
 * VolumeDisk.pool.
 */
export interface PrimaryStoragePool {
  /** What DiskSpec.pool names it by (libvirt pool name, datastore MoRef value, SR OpaqueRef). */
  ref: Ref;
  name: string;
  /** CloudStack's StoragePoolType: NetworkFilesystem, Filesystem, LVM, RBD, VMFS, PreSetup, … */
  type: string;
  /** CLUSTER: every host of the cluster reaches it; HOST: only this host (local storage). */
  scope: 'CLUSTER' | 'HOST';
  capacityBytes: number;
  usedBytes: number;
  /** Bytes promised to volumes (thin disks may exceed usedBytes); absent: what the hypervisor does not say. */
  allocatedBytes?: number;
  /** Where a disk without a pool of its own goes (DiskSpec.pool absent). */
  isDefault?: boolean;
  /**
   * The store itself, the same whichever host or cluster reports it (a vSphere datastore: its
   * vCenter's instance uuid and moref). Records of several clusters with one identity are one store:
   * a disk on it stays where it is when its VM moves to a host that reports it too. Absent: the
   * driver cannot say, and the pool is reached by its own cluster's (or host's) hosts only.
   */
  identity?: string;
}

/** The host's primary storage in full (listStoragePools' source); absent: the engine keeps no pool records for its hosts. */
export interface PrimaryStorageFacet {
  pools(): Promise<PrimaryStoragePool[]>;
}

/** A data disk as the volume facet sees it: Kiln's volume name in the host's own storage (never a user's path). */
export interface VolumeDisk {
  /** The volume name Kiln chose (DiskSpec.name: `${uuid}.${diskFormat}`). */
  name: string;
  /** The disk's ref once the hypervisor has one (a vSphere device key). */
  ref?: Ref;
  sizeBytes: number;
  /** Absent: the host's default pool / datastore. */
  pool?: string;
  bus?: DiskBus;
}

/**
 * Data disks added to and removed from a defined VM (CloudStack's attachVolume/detachVolume,
 * resizeVolume). `live` applies the change to the running VM as well as its definition; without
 * it only the definition changes (the VM is shut off). A detached disk stays in the host's storage
 * until deleteDisks; Kiln deletes it with deleteVolume.
 */
export interface VolumeFacet {
  /**
   * Attaches DISK, creating it empty in the host's storage first when `create` (it does not exist yet). Resolves with its ref.
   * `details` are the VM's, as its define spec has them, for drivers whose disk placement follows them (VMware's dataDiskController, R30).
   */
  attach(vm: Ref, disk: VolumeDisk, options: { live: boolean; create: boolean; details?: Record<string, string> } & OperationOptions): Promise<{ ref?: Ref }>;
  /** Detaches DISK; the disk itself stays. Resolves once the running guest has let it go (live). */
  detach(vm: Ref, disk: VolumeDisk, options: { live: boolean } & OperationOptions): Promise<void>;
  /**
   * Sets DISK's capacity to SIZEBYTES: through the VM when `vm` is given (the running guest sees it
   * when `live`), else the disk alone. A smaller size only with `shrink` (else DriverError 'invalid').
   */
  resize(disk: VolumeDisk, sizeBytes: number, options: { vm?: Ref; live: boolean; shrink: boolean } & OperationOptions): Promise<void>;
}

/**
 * NICs added to and removed from a defined VM (addNicToVirtualMachine, removeNicFromVirtualMachine).
 * `live` changes the running VM at once (a hot plug / unplug) as well as its definition; without it
 * only the definition (the VM is stopped). Each call settles: a NIC whose plug failed is not left
 * behind, a NIC whose removal failed stays as it was. A NIC the VM does not have is removed already.
 */
export interface NicFacet {
  /** Adds NIC as the VM's device DEVICE (Kiln's device id). */
  add(vm: Ref, nic: NicSpec, options: { device: number; live: boolean } & OperationOptions): Promise<void>;
  /** Removes the VM's NIC with NIC's MAC address. */
  remove(vm: Ref, nic: NicSpec, options: { live: boolean } & OperationOptions): Promise<void>;
}

export interface SnapshotRequest {
  name: string;
  description?: string;
  withMemory: boolean;
  quiesce?: boolean;
  timeoutMs?: number;
}

export interface SnapshotFacet {
  /** Takes a snapshot that becomes the current one, a child of the previous current one. */
  create(vm: Ref, snapshot: SnapshotRequest, options?: OperationOptions): Promise<{ ref: Ref; taskRef?: Ref }>;
  list(vm: Ref): Promise<SnapshotInfo[]>;
  /** Back to the snapshot's disks (and, for a memory snapshot, its running state); it becomes current. */
  revert(vm: Ref, snapshot: Ref, options?: OperationOptions): Promise<OperationResult>;
  /** Deletes one snapshot; its children move to its parent, and its parent becomes current if it was. */
  remove(vm: Ref, snapshot: Ref, options?: OperationOptions): Promise<OperationResult>;
  /**
   * Only where snapshot records live with the host rather than the disks (libvirt): makes this
   * host know the VM's snapshots (parents before children) from SnapshotInfo.metadata, after the
   * VM came here without them. The engine calls it when present, whatever the hypervisor.
   */
  carry?(vm: Ref, snapshots: { name: string; metadata: string }[], current?: string): Promise<void>;
}

/** How a graphical console is reached: a local TCP port forwarded to the VM's display. */
export interface GraphicalConsole {
  protocol: 'vnc' | 'webmks' | 'rfb';
  /** 127.0.0.1 port to connect to, or a ticketed URL for protocols the hypervisor serves itself. */
  port?: number;
  url?: string;
  password?: string;
  close(): Promise<void>;
}

export interface ConsoleFacet {
  /** A duplex byte stream on the VM's serial console. */
  serial?: { open(vm: Ref): Promise<Duplex> };
  /** The VM's display; absent where the server cannot hand one out (vcsim without AcquireTicket). */
  graphical?: { protocol: GraphicalConsole['protocol']; open(vm: Ref): Promise<GraphicalConsole> };
}

export interface GpuFacet {
  /** GPU groups and vGPU types with capacity (also in HostInventory.gpus); VmSpec.gpu may name them. */
  list(): Promise<GpuDeviceInfo[]>;
}

/** How user data and metadata reach a guest (R-series userdata): Kiln builds the payload, the driver delivers it. */
/**
 * Guests on a host reach Kiln's metadata HTTP service (R62) through the host: it listens on its
 * own address on a guest network and hands Kiln each connection with the guest's source address
 * as the host saw it, which is what the service identifies the guest by.
 */
export interface RelayListener {
  /** The host's address on the guests' network (the network's gateway). */
  address: string;
  port: number;
  kind: 'metadata' | 'password';
}
export type RelayConnectionHandler = (stream: Duplex, from: { guestAddress: string; listener: RelayListener }) => void;
export interface MetadataRelayFacet {
  /** Opens the listeners not open yet (idempotent) and sends their connections to ONCONNECTION; returns those the host refused, with why. */
  ensure(listeners: RelayListener[], onConnection: RelayConnectionHandler): Promise<{ listener: RelayListener; reason: string }[]>;
}

export interface GuestMetadataFacet {
  method: 'config-drive' | 'guestinfo' | 'xenstore';
  deliver(vm: Ref, data: { userData?: string; metaData: Record<string, string> }, options?: OperationOptions): Promise<void>;
}

/**
 * Backups of a VM's disks into the host's backup store, a directory the driver owns on the host
 * (never a path from a user). Files are named by Kiln's ids (uuids); one directory per backup.
 * A backup is written under names that do not look complete and only renamed once verified.
 */
export interface BackupRequest {
  /** Kiln's id of the backup (a uuid): names its directory. */
  id: string;
  /** Kiln's id of the VM (a uuid): the store keeps one directory per VM. */
  vmId: string;
  /** The disks to back up, by DiskSpec.name, in order; their position names their file. */
  disks: { name: string; pool?: string }[];
  /** An earlier backup to build an incremental on; the driver writes a full one when it cannot. */
  parent?: { id: string; checkpoint?: string };
  quiesce?: boolean;
  /** Where the files go: a backup repository; absent, the host's own store. */
  store?: BackupStoreSpec;
}

/**
 * A backup repository: another machine reached over SSH (ssh://address:port) whose store is the
 * driver's own directory there (KVM: `kiln-backups` in the SSH user's home), never a path a user
 * names. Its host key is pinned: learned on first use (probeStore), refused if it changes.
 */
export interface BackupStoreSpec {
  /** The admin's name for it (messages only). */
  name?: string;
  url: string;
  username: string;
  password?: string;
  privateKey?: string;
  pinnedTrust?: TrustAnchor;
}

/** One disk a restore writes: the chain of files (the full first) into the disk named TARGET (replaced, or a new one). */
export interface BackupRestoreDisk {
  chain: BackupDiskFile[];
  target: { name: string; pool?: string };
}

/** One disk as a backup holds it. */
export interface BackupDiskFile {
  /** DiskSpec.name of the disk backed up. */
  name: string;
  /** Its file, relative to the store. */
  file: string;
  /** Bytes written (the file's size). */
  bytes: number;
  /** The disk's virtual size. */
  virtualSize: number;
  /** The file's checksum as the driver computes it (KVM: POSIX cksum, CRC and length), checked before a restore reads it. */
  checksum: string;
}

export interface BackupResult {
  mode: 'full' | 'incremental';
  /** How it was taken: the hypervisor's backup job, or a copy of a quiescent (stopped) disk. */
  method: string;
  /** What a later incremental builds on (libvirt's checkpoint name); absent when none can. */
  checkpoint?: string;
  disks: BackupDiskFile[];
}

export interface BackupFacet {
  /** Writes and verifies a backup; a running VM keeps running. Progress 0..100. */
  create(vm: Ref, request: BackupRequest, options?: OperationOptions): Promise<BackupResult>;
  /**
   * Writes disks back from their chains of backup files, each written aside first; only when
   * every one is written are they renamed over their targets, one after another (finishRestore).
   * A restore cut short before that leaves every target as it was (discardRestore removes what was
   * written aside). BEFORERENAMES runs between the two: the caller records that the renames are
   * under way, so that a restore cut short during them is finished (finishRestore), never left
   * half done; when it throws, nothing is renamed and what was written aside is removed.
   */
  restoreDisks(disks: BackupRestoreDisk[], options?: OperationOptions, store?: BackupStoreSpec, beforeRenames?: () => void | Promise<void>): Promise<{ virtualSize: number }[]>;
  /** Removes what an interrupted restoreDisks wrote aside for these targets (never the targets). */
  discardRestore(targets: { name: string; pool?: string }[]): Promise<void>;
  /**
   * Renames each target's restored copy over it where the copy is still aside (restoreDisks does
   * this last; again after a restore cut short during its renames): afterwards every target is
   * the restored disk. Resolves to the number it renamed now.
   */
  finishRestore(targets: { name: string; pool?: string }[]): Promise<number>;
  /** The VM's disks were rewritten (a restore): what later incrementals built on is gone. */
  forgetCheckpoints(vm: Ref): Promise<void>;
  /** Folds PARENT's file into CHILD's (an incremental on it), so CHILD no longer needs it; returns CHILD's new file. */
  merge(parent: BackupDiskFile, child: BackupDiskFile, grandparent?: BackupDiskFile, store?: BackupStoreSpec): Promise<BackupDiskFile>;
  /** Deletes a backup's directory (and its checkpoint on VM, when given). */
  remove(vmId: string, id: string, vm?: { ref: Ref; checkpoint?: string }, store?: BackupStoreSpec): Promise<void>;
  /** Whether the backup is complete in the store, and its bytes. */
  inspect(vmId: string, id: string, store?: BackupStoreSpec): Promise<{ present: boolean; bytes: number }>;
  /** Stops a backup job left running (a restart) and deletes what it wrote. */
  discard(vmId: string, id: string, vm?: Ref, store?: BackupStoreSpec): Promise<void>;
  /** Connects to a repository (trusting its key on first use), makes its store directory; resolves to the key it trusts. */
  probeStore(store: BackupStoreSpec): Promise<TrustAnchor>;
}

/**
 * Taking over VMs Kiln did not create (listUnmanagedInstances / importUnmanagedInstance, R41–R50).
 * The driver reports what is there and hands the VM over as it is; the engine decides what can be
 * imported (it knows which refs and MACs are its own) and writes the rows. After adopt(), Kiln
 * defines the VM with VmSpec.keepDefinition, so the hypervisor's definition stays what it was.
 */
export interface ImportFacet {
  /**
   * Every VM on the host in full detail (disks with capacity, controller, unit, image path and the
   * pool/datastore they are on; NICs with network, VLAN, adapter, PCI slot and the IPs the guest's
   * tools report; OS name; CPU reservation), templates flagged. One bulk read per host.
   */
  list(): Promise<InstanceInfo[]>;
  /** The same detail for one VM (DriverError 'not-found' when it is gone). */
  inspect(vm: Ref): Promise<InstanceInfo>;
  /**
   * Takes over the VM without changing it (no redefine, no power change): how Kiln addresses it
   * and each of its disks from now on. Refuses (DriverError 'invalid') a VM it cannot keep as is.
   * LISTED: the VM as list() reported it when the import was planned, so a bulk import lists each
   * host once, not once per VM; the driver then reads back only this VM, to refuse one that changed.
   * PRIVATEVLANNICS (capability privateVlanImport): the VM's NICs, by MAC, that Kiln maps onto
   * private-VLAN networks; each is moved onto the driver's port for it in the kept definition,
   * after the checks (a refusal changes nothing). A running VM keeps running, its NICs isolated at
   * once (KVM: on the taps it has until its next start).
   * UUID: Kiln's uuid of the VM it becomes; a driver that marks the VMs it makes with Kiln's uuid
   * (XenServer: other_config kiln_uuid) marks this one the same way, so listInstances reports it
   * by that uuid (a move whose answer was lost is followed by it, moved-after-all.ts); release()
   * drops the mark again.
   */
  adopt(vm: Ref, listed?: InstanceInfo, privateVlanNics?: NicSpec[], uuid?: string): Promise<AdoptedVm>;
  /**
   * A disk image already in one of the host's storage pools (importVm from a disk, CloudStack
   * 4.19's importsource=local/shared), by its volume name there (never a path: DriverError
   * 'invalid' for one); undefined when the pool has no such volume. Absent where unsupported.
   */
  poolDisk?(name: string, pool?: string): Promise<{ name: string; pool: string; capacityBytes: number; format: string } | undefined>;
  /**
   * A VM archive from Kiln's image store (XenServer: an XVA, `xe vm-export`'s format) imported
   * into the host's pool as a VM of this host that Kiln does not manage yet (halted), on POOL (a
   * storage pool ref this host reaches; absent: its default) and named NAME when given; resolves
   * to its ref. A bad archive is the hypervisor's error, and leaves no VM or disk behind. Absent
   * where unsupported (importVm importsource=xva).
   */
  importArchive?(archive: StoredImage, options?: OperationOptions & { pool?: string; name?: string }): Promise<Ref>;
  /**
   * unmanageVirtualMachine: drops the marks Kiln itself put on the VM that make the host act on it
   * for Kiln (KVM: Kiln's <metadata> element, whose HA flag the host's isolation watchdog obeys;
   * XenServer: other_config kiln_uuid, so the VM is no Kiln VM to its reconcile any more),
   * and nothing else: devices, disks and power stay as they are. Absent: nothing to drop.
   */
  release?(vm: Ref): Promise<void>;
}

/**
 * A host Kiln does not manage, opened only to list its VMs and copy their disks out (listVmsForImport,
 * importVm importsource=external). Nothing on it is changed: a disk is read into a scratch copy there
 * (which remove() deletes again) and streamed to a Kiln host's pool.
 */
export interface ExternalImportFacet {
  /** Connects with HostConnectionSpec's credentials; a pinned trust that differs is DriverError 'host-key-changed'. */
  open(spec: HostConnectionSpec): Promise<ExternalImportSource>;
}

export interface ExternalImportSource {
  /** What the host was trusted by (the pinned anchor, or what it presented on first contact). */
  readonly trust?: TrustAnchor;
  /** Every VM on the host, in full detail (as ImportFacet.list). */
  list(): Promise<InstanceInfo[]>;
  /**
   * One disk of a stopped VM as an image for StorageFacet.stageImage, named NAME (Kiln's choice, a
   * plain file name): a self-contained copy (no backing chain) made on the source host. Refuses
   * (DriverError 'invalid') a VM that is not shut off: its disks would change while being read.
   */
  exportDisk(vm: Ref, diskId: string, name: string): Promise<ExportedDisk>;
  close(): Promise<void>;
}

export interface ExportedDisk extends StoredImage {
  /** The disk's ref for the copy (DiskSpec.ref at its define; KVM: its target, so it keeps its unit). */
  ref?: Ref;
  /** Deletes the scratch copy on the source host (the source disk is never touched). */
  remove(): Promise<void>;
}

/** What adopt() tells the engine to store. */
export interface AdoptedVm {
  ref: Ref;
  /** Per InstanceInfo disk id: the DiskSpec.name Kiln passes later (destroy, deleteDisks), its ref and pool. */
  disks: { id: string; name: string; ref?: Ref; pool?: string }[];
}

export interface MigrationRequest {
  vm: Ref;
  /** The VM as Kiln records it, for a destination that must prepare disks or a definition. */
  spec: VmSpec;
  live: boolean;
  /** Destination pool (storage pool or datastore ref) per DiskSpec.name: storage motion. */
  volumePools?: Record<string, string>;
}

/** What prepare() on the destination hands to perform() on the source. Opaque to the engine. */
export interface MigrationTicket {
  hostRef: Ref;
  /** Driver-private: addresses, pool names, resource pools. */
  data: Record<string, string>;
  /** The destination session, for drivers that need to finish there (re-import snapshot records, refresh pools). */
  destination: HostSession;
}

/** Two-phase migration (libvirt's Prepare/Perform): prepare on the destination host, perform on the source host. */
export interface MigrationFacet {
  prepare(request: MigrationRequest): Promise<MigrationTicket>;
  perform(request: MigrationRequest, ticket: MigrationTicket, options?: OperationOptions): Promise<MigrationResult>;
  /**
   * On the destination: the VM under REF on this host is the one SPEC describes (its Kiln uuid,
   * InstanceInfo.uuid), which a move whose outcome perform could not learn (its answer lost) brought
   * here after all; its new ref and its disks' refs and pools by DiskSpec.name, as perform would
   * have reported them. Absent where a moved VM keeps its ref (the reconcile then has nothing to follow).
   */
  arrived?(ref: Ref, spec: VmSpec): Promise<MigrationResult>;
}

/**
 * What perform() reports. Where refs belong to one endpoint (xapi: a VM moved to another pool is a
 * new object there), the VM's new ref and its disks' new refs and pools, by DiskSpec.name.
 */
export type MigrationResult = { taskRef?: Ref; ref?: Ref; disks?: { name: string; ref: Ref; pool: string }[] } | void;

/**
 * Host isolation response (vSphere HA's "power off" on isolation). The host watches its peers
 * (the other hosts of its cluster) and its gateway by itself, not Kiln, and powers off the VMs
 * marked HA (VmSpec.highAvailability) once it has reached none of them for a while. So a host
 * Kiln has not reached for timeoutMs has its HA VMs off, unless it was never isolated (then it
 * still reaches its peers, and the driver's own checks, e.g. a disk lock, refuse a second copy).
 */
export interface IsolationFencingFacet {
  /** Time without contact after which the host has powered off its HA VMs (detection and power-off included). */
  readonly timeoutMs: number;
  /** Starts the host's watchdog, or updates its peers; idempotent. Peers are the other hosts' connection URLs. */
  arm(peers: { ref: Ref; url: string }[]): Promise<void>;
  /** Stops the watchdog (the host is removed from Kiln). */
  disarm(): Promise<void>;
}

/** A private-VLAN port of the zone, on whichever host: its MAC and its role (NicSpec.privateVlan). */
export interface PrivateVlanPeer extends NonNullable<NicSpec['privateVlan']> {
  macAddress: string;
}

/**
 * Private VLANs across hosts: a driver that enforces them on each host's own ports (KVM's ebtables)
 * still has to know the roles of the ports on the other hosts, whose frames reach it over the
 * uplink. The engine tells every host of the zone, per primary VLAN, every port's MAC and role,
 * again whenever a VM joins, leaves, moves or is imported, and when the host (re)connects.
 */
export interface PrivateVlanPeersFacet {
  /** Makes the host's view of each listed primary VLAN exactly these peers (none: forget the VLAN). */
  publish(vlans: { primaryVlan: number; peers: PrivateVlanPeer[] }[]): Promise<void>;
}

// ------------------------------------------------------------------ sessions and endpoints

/** One host behind an endpoint, over the endpoint's connection. VMs are addressed by ref. */
export interface HostSession {
  /** The host's ref on its endpoint. */
  readonly ref: Ref;
  readonly hostId: string;
  /** The driver's capabilities refined for this host. */
  readonly capabilities: DriverCapabilities;
  /** What the endpoint was trusted by on this connection (pinned, or seen on first use). */
  readonly trust?: TrustAnchor;

  inventory(): Promise<HostInventory>;
  /**
   * The part of inventory() a connect and a refresh record, where the driver reads it cheaper
   * (no pools, networks or devices). Absent: inventory() serves.
   */
  capacity?(): Promise<HostCapacity>;
  /** Every VM defined on the host, including ones Kiln does not manage. */
  listInstances(): Promise<InstanceInfo[]>;
  /**
   * Every VM's power state alone, for the reconcile pass: where the driver lists that cheaper
   * than listInstances (no definitions, no disk sizes). Absent: the pass uses listInstances.
   */
  listPowerStates?(): Promise<InstancePower[]>;
  powerState(vm: Ref): Promise<PowerState | 'Missing'>;

  /** Define (or redefine, when spec.ref is set) the VM from Kiln's record; creates disks that do not exist yet. */
  define(spec: VmSpec, options?: OperationOptions): Promise<DefineResult>;
  start(vm: Ref, options?: OperationOptions): Promise<OperationResult>;
  /** Graceful (ACPI / guest tools) with a fallback to power-off after timeoutMs; `forced` skips the wait. */
  stop(vm: Ref, options?: StopOptions): Promise<OperationResult>;
  reboot(vm: Ref, options?: OperationOptions): Promise<OperationResult>;
  reset(vm: Ref, options?: OperationOptions): Promise<OperationResult>;
  /** Power off, undefine, and delete the named disks (all of the VM's disks when omitted). */
  destroy(vm: Ref, options?: { removeDisks?: string[] | 'all' } & OperationOptions): Promise<OperationResult>;
  /** Deletes disks (by DiskSpec.name) that no defined VM uses any more (expunge of a VM already undefined). */
  deleteDisks(disks: string[]): Promise<void>;

  attachIso(vm: Ref, isoPath: string): Promise<void>;
  detachIso(vm: Ref): Promise<void>;
  /** Change vCPUs and memory; `live` applies to the running VM as well as its definition. */
  scale(vm: Ref, resources: { cpuNumber?: number; memoryMiB?: number }, live: boolean, options?: OperationOptions): Promise<OperationResult>;

  readonly storage?: StorageFacet;
  /** The host's primary storage pools with type and scope (storage-pool records, storage tags). */
  readonly primaryStorage?: PrimaryStorageFacet;
  /** Data disks on a defined VM (attach, detach, resize); absent: the engine refuses volume changes on its VMs. */
  readonly volumes?: VolumeFacet;
  /** NICs added to or removed from a defined VM; absent: a running VM's NICs change only at a stop and start. */
  readonly nics?: NicFacet;
  readonly snapshots?: SnapshotFacet;
  readonly console?: ConsoleFacet;
  readonly gpu?: GpuFacet;
  readonly guestMetadata?: GuestMetadataFacet;
  /** Guests reach Kiln's metadata service through the host (a KVM host's SSH remote forward). */
  readonly metadataRelay?: MetadataRelayFacet;
  readonly backup?: BackupFacet;
  readonly import?: ImportFacet;
  readonly migration?: MigrationFacet;
  readonly isolationFencing?: IsolationFencingFacet;
  /** The zone's private-VLAN ports on other hosts (with the privateVlans capability). */
  readonly privateVlanPeers?: PrivateVlanPeersFacet;
}

/** One connection to a hypervisor endpoint, and the hosts behind it. */
export interface Endpoint {
  /** What the endpoint was trusted by (pinned, or first seen: the engine pins it). */
  readonly trust?: TrustAnchor;
  /** The hosts behind the endpoint, as it reports them now. */
  hosts(): Promise<EndpointHost[]>;
  /** A session for one of its hosts (throws DriverError 'not-found' for an unknown ref). */
  host(ref: Ref): HostSession;
  /** The endpoint's one event stream, for all its hosts; returns an unsubscribe function. */
  onEvent(listener: (event: EndpointEvent) => void): () => void;
  /** Finishes a task started before a restart (OperationOptions.onTask); absent where the hypervisor has no tasks. */
  reattachTask?(taskRef: Ref, options?: OperationOptions): Promise<TaskOutcome>;
  close(): Promise<void>;
  /**
   * After a close that did not finish in time (its goodbye got no answer over the link): destroys
   * the connection's sockets and fails what is still waiting on them, without saying goodbye.
   */
  abort?(): void;
}

export interface HypervisorDriver {
  readonly hypervisor: HypervisorType;
  /** What every host of this driver can do at most, known before any host is connected (listHypervisorCapabilities). */
  readonly capabilities: DriverCapabilities;
  readonly defaults: DriverDefaults;
  /**
   * The VM detail keys the driver honours and their values (R30: VMware's rootDiskController,
   * dataDiskController, nicAdapter), for listDetailOptions; a template's details of these keys
   * pass to the VMs deployed from it.
   */
  readonly detailOptions?: Record<string, string[]>;
  readonly connectionForm: ConnectionForm;
  /** VMs on a host Kiln does not manage, to copy in (CloudStack 4.19's importsource=external); absent: unsupported. */
  readonly externalImport?: ExternalImportFacet;
  /** Templates this driver deploys as they are described (an OVA's OVF); absent: none. */
  readonly appliances?: ApplianceFacet;
  /** Lists an endpoint's networks before it is added (R52: kiln discover-networks, discoverEndpointNetworks); absent: unsupported. */
  readonly networkDiscovery?: NetworkDiscoveryFacet;
  /**
   * Checks an addHost/addCluster input against the driver's rules and returns the canonical URL
   * (the one stored and deduplicated) and a display name. Throws DriverError 'invalid' whose
   * details.param names the parameter (url, password, privatekey, username).
   */
  validateConnection(input: ConnectionInput, scope: 'host' | 'cluster'): { url: string; name: string };
  /** Reads the endpoint's trust anchor without sending credentials, for the admin to confirm. */
  probeTrust(url: string): Promise<TrustAnchor>;
  connect(spec: EndpointSpec): Promise<Endpoint>;
}

export interface DriverErrorDetails {
  /** For 'invalid': the API parameter at fault. */
  param?: string;
  /** For 'host-key-changed': what the endpoint presented now, for the admin to confirm. */
  presented?: TrustAnchor;
  /**
   * A storage motion (MigrationRequest.volumePools) that failed part-way: the disks that did move
   * (DiskSpec.name) and the pool each is in now, as the host reports it; the others did not move.
   */
  moved?: { name: string; pool: string }[];
}

/** Errors a driver raises carry the hypervisor's own message and a category the engine maps to API codes. */
export class DriverError extends Error {
  constructor(
    message: string,
    /** 'host-key-changed': the endpoint's trust anchor (SSH host key or TLS certificate) is not the pinned one. */
    readonly category: 'not-found' | 'unsupported' | 'unreachable' | 'host-key-changed' | 'insufficient-capacity' | 'invalid' | 'failed' | 'timeout',
    readonly details: DriverErrorDetails = {},
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

/** A session's facet, or a DriverError 'unsupported' naming what is missing (for the engine's checks before a job). */
export function requireFacet<K extends 'storage' | 'volumes' | 'snapshots' | 'console' | 'gpu' | 'guestMetadata' | 'backup' | 'import' | 'migration'>(
  session: HostSession,
  facet: K,
  what: string,
): NonNullable<HostSession[K]> {
  const found = session[facet];
  if (!found) throw new DriverError(`this hypervisor does not support ${what}`, 'unsupported');
  return found as NonNullable<HostSession[K]>;
}
