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
import { DriverError, type AdoptedVm, type HostInventory, type ImportFacet, type InstanceInfo } from '../types.js';

/** What the facet needs of a session. */
export interface ImportHost {
  listInstances(): Promise<InstanceInfo[]>;
  inventory(): Promise<HostInventory>;
  /** A volume of POOL by name (storage.ts findVolume), and the host's default pool. */
  findVolume(pool: string, name: string): Promise<{ name: string; path: string; format: string; capacityBytes: number } | undefined>;
  readonly defaultPool: string;
  /** Removes Kiln's metadata element from the domain (live and persistent). */
  dropKilnMetadata(vm: string): Promise<void>;
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
    async adopt(vm): Promise<AdoptedVm> {
      const info = await inspect(vm);
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
