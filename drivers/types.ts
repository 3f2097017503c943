/**
 * The one interface every hypervisor driver implements: simulator, KVM (ssh2 + virsh),
 * vSphere (vim25 SOAP) and XenServer (xapi JSON-RPC).
 *
 * The engine never speaks a hypervisor's dialect. It asks a driver for a HostSession per host
 * and drives VMs by their internal (hypervisor-side) name. Anything a hypervisor cannot do is
 * announced up front in `capabilities`, so the engine refuses with a clear error instead of
 * discovering the gap half-way through a job.
 */
import type { Duplex, Readable } from 'node:stream';

export type HypervisorType = 'Simulator' | 'KVM' | 'VMware' | 'XenServer';

/** Power state as the hypervisor reports it; the engine maps it onto its own VM states. */
export type PowerState = 'Running' | 'Stopped' | 'Paused' | 'Crashed' | 'Unknown';

/** How to reach one host. Secrets arrive decrypted, only for the life of the connection. */
export interface HostConnectionSpec {
  /** Kiln's host uuid; drivers key pools and pinned keys by it. */
  hostId: string;
  /** e.g. ssh://10.0.0.5:22, https://vcenter/sdk, https://xenhost, simulator://sim-1 */
  url: string;
  username?: string;
  password?: string;
  privateKey?: string;
  /** A pinned SSH host-key fingerprint (SHA256:…); absent on first contact (trust on first use). */
  pinnedHostKey?: string;
  /** Per-driver extras: storage pool name, datacenter, TLS fingerprint, etc. */
  options?: Record<string, string>;
}

export interface GpuDeviceInfo {
  /** GPU group / PCI class name, e.g. "Group of NVIDIA Corporation GK107GL [GRID K1] GPUs". */
  group: string;
  /** vGPU type name ("passthrough" for whole-device pass-through). */
  vgpuType: string;
  maxCapacity: number;
  remainingCapacity: number;
  videoRamMiB?: number;
  maxHeads?: number;
  maxResolutionX?: number;
  maxResolutionY?: number;
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
  storagePools: { name: string; path?: string; capacityBytes: number; availableBytes: number; shared: boolean }[];
  networks: { name: string; bridge?: string; vlan?: number }[];
  pciDevices: { address: string; vendor: string; product: string; className?: string }[];
  gpus: GpuDeviceInfo[];
}

export interface DiskSpec {
  /** Path or volume name the driver understands, e.g. a qcow2 in a storage pool. */
  name: string;
  sizeBytes: number;
  /** Clone from this image (a backing file on KVM, a linked clone on vSphere). */
  backingImage?: string;
  device: 'disk' | 'cdrom';
  bus?: 'virtio' | 'scsi' | 'ide' | 'sata';
  pool?: string;
}

export interface NicSpec {
  macAddress: string;
  network: string;
  vlan?: number;
  adapterType?: string;
}

/** Everything needed to (re)build a VM on a host. Start rebuilds from this; reboot does not (R9). */
export interface VmSpec {
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
  /** Free-form details the driver may honour (nicAdapter, rootDiskController, …). */
  details?: Record<string, string>;
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
}

/** A VM found on a host, managed or not (for listUnmanagedInstances and reconcile). */
export interface InstanceInfo {
  name: string;
  uuid?: string;
  powerState: PowerState;
  cpuNumber: number;
  cpuCoresPerSocket?: number;
  cpuSpeedMhz?: number;
  memoryMiB: number;
  osDisplayName?: string;
  isTemplate?: boolean;
  bootType?: string;
  disks: {
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
    adapterType?: string;
    pciSlot?: string;
    ipAddresses?: string[];
  }[];
}

export interface SnapshotInfo {
  name: string;
  description?: string;
  parent?: string;
  current: boolean;
  withMemory: boolean;
  createdAt: string;
  /**
   * The hypervisor's own record of the snapshot (libvirt's snapshot XML), opaque to the engine:
   * enough for importSnapshots to recreate it where the VM's disks are seen from another host.
   */
  metadata?: string;
}

export interface StopOptions {
  /** Skip the graceful (ACPI) step and power off at once. */
  forced?: boolean;
  /** How long to wait for a graceful shutdown before forcing. */
  timeoutMs?: number;
}

export interface MigrationTarget {
  session: HostSession;
  /** Destination storage pool per disk name, for storage motion (migrateVirtualMachineWithVolume). */
  volumePools?: Record<string, string>;
}

/** A change a host reports on its own: a crash, a guest-initiated shutdown, a host going away. */
export type HostEvent =
  | { kind: 'power'; name: string; state: PowerState; reason?: 'crashed' | 'shutdown' | 'destroyed' | 'started' | 'migrated' | string }
  | { kind: 'connection'; state: 'up' | 'down'; error?: string };

export interface DriverCapabilities {
  liveMigration: boolean;
  /** Moving disks between pools during migration. */
  storageMotion: boolean;
  crossClusterMigration: boolean;
  memorySnapshots: boolean;
  /** A disk-only snapshot of a running VM (KVM's internal snapshots need the VM stopped for that). */
  diskSnapshotsWhileRunning: boolean;
  /** Freezing the guest's file systems for the snapshot (needs a guest agent). */
  quiesceSnapshots: boolean;
  /** Live migration of a VM that has snapshots (libvirt refuses: its snapshot metadata stays behind). */
  migrateWithSnapshots: boolean;
  liveScaleCpu: boolean;
  liveScaleMemory: boolean;
  serialConsole: boolean;
  vnc: boolean;
  gpu: boolean;
  /**
   * CloudStack's hypervisor capability `maxguestslimit`: the most VMs one host of this hypervisor
   * should run. The driver's default; an admin overrides it (updateHypervisorCapabilities, or per
   * cluster), and placement and the N−1 headroom check read the result.
   */
  maxGuestsLimit: number;
}

/** One open connection to one host; a driver multiplexes all work for that host over it. */
export interface HostSession {
  readonly hostId: string;
  readonly capabilities: DriverCapabilities;
  /** A fingerprint the driver learned on first contact, for the engine to pin. */
  readonly hostKeyFingerprint?: string;

  inventory(): Promise<HostInventory>;
  /** Every VM defined on the host, including ones Kiln does not manage. */
  listInstances(): Promise<InstanceInfo[]>;
  powerState(name: string): Promise<PowerState | 'Missing'>;

  /** Define (or redefine) the VM from Kiln's record; creates disks that do not exist yet. */
  define(spec: VmSpec): Promise<void>;
  start(name: string): Promise<void>;
  stop(name: string, options?: StopOptions): Promise<void>;
  reboot(name: string): Promise<void>;
  reset(name: string): Promise<void>;
  /** Power off, undefine, and delete the named disks (all of the VM's disks when omitted). */
  destroy(name: string, options?: { removeDisks?: string[] | 'all' }): Promise<void>;
  /** Deletes disks that no defined VM uses any more (expunge of a VM already undefined). */
  deleteDisks(disks: string[]): Promise<void>;

  /**
   * Makes an image from Kiln's image store (a downloaded template or ISO) available to this host,
   * copying it into the host's storage on first use; a complete copy already there is kept.
   * Resolves once DiskSpec.backingImage / VmSpec.isoPath may name it by `image.name`. Optional: a
   * driver without it can use only images its hosts already see.
   */
  stageImage?(image: StoredImage): Promise<void>;

  attachIso(name: string, isoPath: string): Promise<void>;
  detachIso(name: string): Promise<void>;
  /** Change vCPUs and memory; `live` applies to the running VM as well as its definition. */
  scale(name: string, resources: { cpuNumber?: number; memoryMiB?: number }, live: boolean): Promise<void>;
  migrate(name: string, target: MigrationTarget, options?: { live?: boolean }): Promise<void>;

  /** Takes a snapshot that becomes the current one, a child of the previous current one. */
  createSnapshot(name: string, snapshot: { name: string; description?: string; withMemory: boolean; quiesce?: boolean; timeoutMs?: number }): Promise<void>;
  listSnapshots(name: string): Promise<SnapshotInfo[]>;
  /** Back to the snapshot's disks (and, for a memory snapshot, its running state); it becomes current. */
  revertSnapshot(name: string, snapshotName: string): Promise<void>;
  /** Deletes one snapshot; its children move to its parent, and its parent becomes current if it was. */
  deleteSnapshot(name: string, snapshotName: string): Promise<void>;
  /**
   * Makes this host know the VM's snapshots (parents before children) from their metadata, after
   * the VM moved here without them; ones it knows already are left as they are.
   */
  importSnapshots(name: string, snapshots: { name: string; metadata: string }[], current?: string): Promise<void>;

  /** A duplex byte stream on the VM's serial console. */
  openConsole(name: string): Promise<Duplex>;
  /** Host events; returns an unsubscribe function. */
  onEvent(listener: (event: HostEvent) => void): () => void;
  close(): Promise<void>;
}

export interface HypervisorDriver {
  readonly hypervisor: HypervisorType;
  /** What every session of this driver can do, known before any host is connected (listHypervisorCapabilities). */
  readonly capabilities: DriverCapabilities;
  connect(spec: HostConnectionSpec): Promise<HostSession>;
}

/** Errors a driver raises carry the hypervisor's own message and a category the engine maps to API codes. */
export class DriverError extends Error {
  constructor(
    message: string,
    readonly category: 'not-found' | 'unsupported' | 'unreachable' | 'host-key-changed' | 'insufficient-capacity' | 'invalid' | 'failed' | 'timeout',
  ) {
    super(message);
    this.name = 'DriverError';
  }
}
