/**
 * The KVM import facet: the domains on a host as listUnmanagedInstances shows them, and taking
 * one over as it is. Nothing here writes to the host: a domain keeps its XML, its disks and its
 * power state. Which domains are Kiln's is the engine's business (it knows its refs).
 *
 * What libvirt does not say by itself is filled in from the host: each disk's storage pool (the
 * pool whose directory holds the image, so the engine can tell a disk on storage Kiln sees from
 * one it does not) and the OS name from the libosinfo id that virt-install records in
 * <metadata>, in the words of Kiln's guest OS list where it has them.
 */
import { DriverError, type AdoptedVm, type ExportedDisk, type ExternalImportSource, type HostConnectionSpec, type HostInventory, type ImportFacet, type InstanceInfo, type NicSpec } from '../types.js';
import { parseHostUrl } from './index.js';
import { readInstances } from './inventory.js';
import { scratchCopy } from './disk-export.js';
import { SshConnection } from './ssh-connection.js';
import { Virsh } from './virsh.js';
import type { ParsedDomain } from './domain-xml.js';

/** What the facet needs of a session. */
export interface ImportHost {
  listInstances(): Promise<InstanceInfo[]>;
  inventory(): Promise<HostInventory>;
  /** A volume of POOL by name (storage.ts findVolume), and the host's default pool. */
  findVolume(pool: string, name: string): Promise<{ name: string; path: string; format: string; capacityBytes: number } | undefined>;
  readonly defaultPool: string;
  /** Removes Kiln's metadata element from the domain (live and persistent). */
  dropKilnMetadata(vm: string): Promise<void>;
  /** One domain's persistent definition (DriverError 'not-found' when it is gone). */
  domain(vm: string, inactive: true): Promise<ParsedDomain>;
  /** Moves the domain's NICS onto Kiln's private-VLAN ports in its kept definition, and a running one's live NICs under their rules (session.ts). */
  keepOnPrivateVlanPorts(vm: string, nics: readonly NicSpec[]): Promise<void>;
}

/** A volume name as libvirt keeps one in a dir pool: one path segment, no "." or "..". */
const VOLUME_NAME = /^(?!\.\.?$)[A-Za-z0-9._+-]{1,255}$/;

/** libosinfo ids (virt-install --os-variant) to the OS names hypervisors usually show. */
const LIBOSINFO: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/^http:\/\/debian\.org\/debian\/(\d+)/, (m) => `Debian GNU/Linux ${m[1]} (64-bit)`],
  [/^http:\/\/ubuntu\.com\/ubuntu\/(\d+\.\d+)/, (m) => `Ubuntu ${m[1]} LTS (64-bit)`],
  [/^http:\/\/centos\.org\/centos\/(\d+)/, (m) => `CentOS ${m[1]} (64-bit)`],
  [/^http:\/\/rockylinux\.org\/rocky\/(\d+)/, (m) => `Rocky Linux ${m[1]} (64-bit)`],
  [/^http:\/\/microsoft\.com\/win\/2k(\d\d)/, (m) => `Windows Server 20${m[1]} (64-bit)`],
  [/^http:\/\/libosinfo\.org\/linux\//, () => 'Other Linux (64-bit)'],
];

export function osNameOf(libosinfoId: string | undefined): string | undefined {
  if (!libosinfoId) return undefined;
  for (const [pattern, name] of LIBOSINFO) {
    const m = libosinfoId.match(pattern);
    if (m) return name(m);
  }
  return libosinfoId;
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/'));

/** The storage pool whose directory holds PATH (dir pools: the image is a file right inside it). */
function poolOf(pools: HostInventory['storagePools'], path: string | undefined): HostInventory['storagePools'][number] | undefined {
  if (!path?.startsWith('/')) return undefined;
  return pools.find((p) => p.path !== undefined && p.path.replace(/\/+$/, '') === dirOf(path));
}

export function kvmImport(host: ImportHost): ImportFacet {
  const list = async (): Promise<InstanceInfo[]> => {
    const [instances, inventory] = await Promise.all([host.listInstances(), host.inventory()]);
    return instances.map((i) => ({ ...i, disks: i.disks.map((d) => ({ ...d, datastore: poolOf(inventory.storagePools, d.imagePath)?.name })) }));
  };
  const inspect = async (vm: string): Promise<InstanceInfo> => {
    const found = (await list()).find((i) => i.ref === vm);
    if (!found) throw new DriverError(`Domain not found: no domain with matching name '${vm}'`, 'not-found');
    return found;
  };
  return {
    list,
    inspect,
    release: (vm) => host.dropKilnMetadata(vm),
    async poolDisk(name, pool = host.defaultPool) {
      if (!VOLUME_NAME.test(name)) throw new DriverError(`${JSON.stringify(name)} is not a volume name in a storage pool (letters, digits and . _ + -; never a path)`, 'invalid');
      const volume = await host.findVolume(pool, name);
      return volume && { name: volume.name, pool, capacityBytes: volume.capacityBytes, format: volume.format };
    },
    async adopt(vm, listed, privateVlanNics = []): Promise<AdoptedVm> {
      // With the listing the import was planned on (a bulk run reads each host once), only this
      // domain is read back, to refuse one that is gone or whose disks changed since.
      const info = listed ?? (await inspect(vm));
      if (listed) {
        const now = (await host.domain(vm, true)).disks.filter((d) => d.device === 'disk').map((d) => `${d.target} ${d.path ?? ''}`);
        const then = listed.disks.map((d) => `${d.id} ${d.imagePath ?? ''}`);
        if (now.join('\n') !== then.join('\n')) throw new DriverError(`the disks of domain ${vm} changed since it was listed (now ${now.join(', ') || 'none'}); list it again`, 'invalid');
      }
      // Kiln's NICs on private VLANs go onto its ports (the last step: a refusal above changed nothing).
      // A running domain keeps running, isolated at once on the taps it has (session.ts).
      if (privateVlanNics.length) await host.keepOnPrivateVlanPorts(vm, privateVlanNics);
      // A disk in a pool is the pool's volume (by file name), as Kiln's own disks are; libvirt
      // addresses every other image by its path, which only adopt (never a user) hands over.
      return {
        ref: info.ref,
        disks: info.disks.map((d) => {
          const inPool = d.datastore !== undefined && d.imagePath !== undefined;
          return { id: d.id, name: inPool ? d.imagePath!.slice(d.imagePath!.lastIndexOf('/') + 1) : d.imagePath ?? d.id, ...(inPool ? { pool: d.datastore } : {}) };
        }),
      };
    },
  };
}

/**
 * A KVM host Kiln does not manage, opened only to list its domains and copy disks out of them
 * (importsource=external). Nothing is defined, started or written there except one scratch
 * directory per exported disk, made with mktemp and removed again: `qemu-img convert` reads the
 * disk (and its backing chain) into a self-contained qcow2 in it, which is streamed from `cat`
 * into a Kiln host's pool (StorageFacet.stageImage, which checks its SHA-256 on arrival).
 */
export interface ExternalKvmOptions {
  connectTimeoutMs?: number;
  /** libvirt URI on the source host. */
  uri?: string;
}

export async function openExternalKvm(spec: HostConnectionSpec, options: ExternalKvmOptions = {}): Promise<ExternalImportSource> {
  const address = parseHostUrl(spec.url, spec.username);
  if (!spec.password && !spec.privateKey) throw new DriverError('password or privatekey: the host needs one', 'invalid', { param: 'password' });
  if (spec.pinnedTrust && spec.pinnedTrust.kind !== 'ssh-host-key') throw new DriverError(`a KVM host is trusted by its SSH host key, not a ${spec.pinnedTrust.kind}`, 'invalid');
  const ssh = await SshConnection.open({
    host: address.host, port: address.port, username: address.username, password: spec.password, privateKey: spec.privateKey,
    pinnedHostKey: spec.pinnedTrust?.fingerprint, maxExecChannels: 4, readyTimeoutMs: options.connectTimeoutMs,
  });
  // No persistent virsh shell: a source is opened for one listing or one import.
  const virsh = new Virsh(ssh, options.uri ?? 'qemu:///system', { shell: false });
  try {
    await virsh.run(['version', '--daemon'], { timeoutMs: 30_000 });
  } catch (error) {
    virsh.close();
    await ssh.close();
    throw error instanceof DriverError ? new DriverError(`libvirt on ${address.host} does not answer: ${error.message}`, 'unreachable') : error;
  }
  const list = () => readInstances(virsh);
  return {
    trust: ssh.hostKeyFingerprint ? { kind: 'ssh-host-key', fingerprint: ssh.hostKeyFingerprint } : undefined,
    list,
    async exportDisk(vm, diskId, name): Promise<ExportedDisk> {
      const info = (await list()).find((i) => i.ref === vm);
      if (!info) throw new DriverError(`Domain not found: no domain with matching name '${vm}' on ${address.host}`, 'not-found');
      // A running guest writes while the copy is read; libvirt's lock would refuse it anyway.
      if (info.powerState !== 'Stopped') throw new DriverError(`domain ${vm} on ${address.host} is ${info.powerState.toLowerCase()}; shut it down there before its disks are copied`, 'invalid');
      const disk = info.disks.find((d) => d.id === diskId);
      if (!disk?.imagePath?.startsWith('/')) throw new DriverError(`disk ${diskId} of ${vm} on ${address.host} is not an image file Kiln can copy`, 'unsupported');
      const copy = await scratchCopy(ssh, disk.imagePath, `disk ${diskId} of ${vm} on ${address.host}`);
      return {
        // The disk's target: the copy's define keeps it, and with it the disk's unit (disk-buses.ts).
        name, ref: disk.id, format: 'qcow2', sizeBytes: copy.sizeBytes, sha256: copy.sha256,
        open: () => copy.open(),
        remove: () => copy.remove(),
      };
    },
    async close() {
      virsh.close();
      await ssh.close();
    },
  };
}
