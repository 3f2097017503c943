/**
 * Disk images as libvirt storage volumes. A disk is named either by a volume name in a pool
 * (the usual case: "<uuid>.qcow2" in pool "kiln") or by an absolute path of an image some pool
 * already knows. Pools on shared storage go stale when another host adds or removes files, so a
 * lookup that misses refreshes the pool once before giving up.
 *
 * libvirt refuses `pool-refresh` while a volume of that pool is being built ("pool 'kiln' has
 * asynchronous jobs running"), so concurrent deploys onto one host used to fail at random. Every
 * refresh and volume build on a host therefore goes through that host's PoolQueue, one at a time;
 * a refresh that still meets a build (another libvirt client on the host) is retried.
 */
import { DriverError, type DiskSpec } from '../types.js';
import { parseVolumeXml, type VolumeInfo } from './resource-xml.js';
import { buildXml } from './xml.js';
import { virshError, type Virsh } from './virsh.js';

/** Runs a host's pool-changing storage operations one after another (one queue per host). */
export class PoolQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** A host's virsh plus the queue its pool refreshes and volume builds share. */
export interface HostStorage {
  virsh: Virsh;
  queue: PoolQueue;
}

/** How often, and how long apart, a refresh that meets someone else's volume build is retried. */
const REFRESH_ATTEMPTS = 8;
const REFRESH_RETRY_MS = 250;
const ASYNC_JOBS = /asynchronous jobs running/i;

export function isPath(name: string): boolean {
  return name.startsWith('/');
}

export async function refreshPool(storage: HostStorage, pool: string): Promise<void> {
  await storage.queue.run(async () => {
    for (let attempt = 1; ; attempt++) {
      const result = await storage.virsh.tryRun(['pool-refresh', '--pool', pool]);
      if (result.code === 0) return;
      if (!ASYNC_JOBS.test(result.stderr) || attempt >= REFRESH_ATTEMPTS) throw virshError(result.stderr, `cannot refresh pool ${pool}`);
      await new Promise((resolve) => setTimeout(resolve, REFRESH_RETRY_MS * attempt));
    }
  });
}

/** The volume behind a disk name or path, or undefined when there is none. */
export async function findVolume(storage: HostStorage, pool: string, name: string): Promise<VolumeInfo | undefined> {
  const { virsh } = storage;
  const args = isPath(name) ? ['vol-dumpxml', '--vol', name] : ['vol-dumpxml', '--pool', pool, '--vol', name];
  for (let attempt = 0; attempt < 2; attempt++) {
    const result = await virsh.tryRun(args);
    if (result.code === 0) return parseVolumeXml(result.stdout);
    if (!/not found|failed to get vol/i.test(result.stderr)) {
      // Anything but "no such volume" (pool missing, host trouble) is a real error.
      throw virshError(result.stderr, `cannot look up volume ${name}`);
    }
    if (attempt === 0) await refreshPool(storage, pool);
  }
  return undefined;
}

/** Creates a qcow2 volume for DISK (a linked clone when it has a backing image). The volume XML
 *  is built here rather than with `vol-create-as`, which pastes the name into XML unescaped. */
export async function createVolume(storage: HostStorage, pool: string, disk: DiskSpec): Promise<VolumeInfo> {
  if (isPath(disk.name)) {
    throw new DriverError(`disk image ${disk.name} does not exist; Kiln creates disks only as volume names in a storage pool`, 'invalid');
  }
  let capacity = Math.max(0, Math.floor(disk.sizeBytes));
  let backing: VolumeInfo | undefined;
  if (disk.backingImage) {
    backing = await findVolume(storage, pool, disk.backingImage);
    if (!backing) throw new DriverError(`backing image ${disk.backingImage} not found in pool ${pool} on the host`, 'not-found');
    // A clone smaller than its template would cut the template's data off.
    capacity = Math.max(capacity, backing.capacityBytes);
  }
  if (capacity <= 0) throw new DriverError(`disk ${disk.name} needs a size`, 'invalid');
  const xml = volumeXml(disk.name, capacity, backing);
  // Building the volume is the pool's "asynchronous job": no refresh of this host's pool meanwhile.
  await storage.queue.run(() => storage.virsh.run(['vol-create', '--pool', pool, '--file', '/dev/stdin'], { stdin: xml }));
  const created = await findVolume(storage, pool, disk.name);
  if (!created) throw new DriverError(`volume ${disk.name} was created but cannot be found in pool ${pool}`, 'failed');
  return created;
}

/** A qcow2 volume definition; the backing format is always recorded (libvirt 9 will not probe it). */
export function volumeXml(name: string, capacityBytes: number, backing?: Pick<VolumeInfo, 'path' | 'format'>): string {
  return buildXml({
    volume: {
      name,
      capacity: { '@_unit': 'bytes', '#text': String(capacityBytes) },
      target: { format: { '@_type': 'qcow2' } },
      ...(backing ? { backingStore: { path: backing.path, format: { '@_type': backing.format } } } : {}),
    },
  });
}

/** Deletes a volume; one that is already gone counts as deleted (expunge may be retried). */
export async function deleteVolume(storage: HostStorage, pool: string, name: string): Promise<boolean> {
  const volume = await findVolume(storage, pool, name);
  if (!volume) return false;
  // By path, so it works whichever pool holds it. Internal snapshots live inside the file.
  const result = await storage.virsh.tryRun(['vol-delete', '--vol', volume.path]);
  if (result.code !== 0 && !/not found|failed to get vol/i.test(result.stderr)) {
    throw virshError(result.stderr, `cannot delete volume ${name}`);
  }
  return true;
}
