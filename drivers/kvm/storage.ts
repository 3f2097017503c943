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
import { DriverError, type DiskSpec, type StoredImage } from '../types.js';
import { command } from './shell.js';
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
      // qcow2 v3 (compat 1.1): libvirt's checkpoints keep persistent dirty bitmaps in it (backup.ts's incrementals); v2 cannot.
      target: { format: { '@_type': 'qcow2' }, compat: '1.1' },
      ...(backing ? { backingStore: { path: backing.path, format: { '@_type': backing.format } } } : {}),
    },
  });
}

/**
 * Copies an image from Kiln's image store into POOL as a volume named image.name, unless a
 * complete copy is there already (hosts on shared storage see each other's). The volume is created
 * raw at the image's exact size and the bytes streamed into it with `vol-upload` over the SSH
 * channel; libvirt then probes the format (a qcow2 stays qcow2). Completeness is the SHA-256 of
 * the file on the host: a copy cut off by a dead process has the right size but not the right
 * bytes. VERIFIED remembers the paths this session has already hashed.
 */
export async function uploadImage(storage: HostStorage, pool: string, image: StoredImage, verified: Set<string>): Promise<VolumeInfo> {
  const { virsh } = storage;
  checkImageName(image.name);
  const existing = await findVolume(storage, pool, image.name);
  if (existing) {
    if (verified.has(existing.path)) return existing;
    if ((await hostSha256(virsh, existing.path)) === image.sha256) {
      verified.add(existing.path);
      return existing;
    }
    await deleteVolume(storage, pool, image.name);
  }
  // Allocation 0: a sparse file that the upload fills (libvirt would otherwise write the whole size first).
  const xml = buildXml({ volume: { name: image.name, capacity: { '@_unit': 'bytes', '#text': String(image.sizeBytes) }, allocation: { '@_unit': 'bytes', '#text': '0' }, target: { format: { '@_type': 'raw' } } } });
  try {
    // Ten minutes, plus a second per 20 MB: slow links get time, a stalled one still ends.
    const timeoutMs = 600_000 + Math.ceil(image.sizeBytes / 20_000);
    // Creating and filling the volume is one pool job: no refresh of this host's pool meanwhile.
    await storage.queue.run(async () => {
      await virsh.run(['vol-create', '--pool', pool, '--file', '/dev/stdin'], { stdin: xml });
      await virsh.run(['vol-upload', '--pool', pool, '--vol', image.name, '--file', '/dev/stdin'], { stdin: image.open(), timeoutMs });
    });
    await refreshPool(storage, pool);
    const uploaded = await findVolume(storage, pool, image.name);
    if (!uploaded) throw new DriverError(`image ${image.name} was uploaded but cannot be found in pool ${pool}`, 'failed');
    const sha256 = await hostSha256(virsh, uploaded.path);
    if (sha256 !== image.sha256) throw new DriverError(`image ${image.name} arrived damaged on the host (SHA-256 ${sha256})`, 'failed');
    verified.add(uploaded.path);
    return uploaded;
  } catch (error) {
    await deleteVolume(storage, pool, image.name).catch(() => undefined);
    throw error;
  }
}

/** Kiln names staged images itself; anything else here is a bug, not something to pass to libvirt. */
function checkImageName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new DriverError(`unusable image name ${JSON.stringify(name)}`, 'invalid');
}

/** Deletes the volume uploadImage made of NAME; the path it had, or undefined when there was none. */
export async function removeImage(storage: HostStorage, pool: string, name: string): Promise<string | undefined> {
  checkImageName(name);
  // A pool on shared storage may still list a copy another host already deleted: read it afresh.
  await refreshPool(storage, pool);
  const volume = await findVolume(storage, pool, name);
  if (!volume) return undefined;
  await deleteVolume(storage, pool, name);
  return volume.path;
}

async function hostSha256(virsh: Virsh, path: string): Promise<string | undefined> {
  const result = await virsh.ssh.exec(command(['sha256sum', '--', path]), { timeoutMs: 600_000 });
  return result.code === 0 ? result.stdout.split(/\s+/)[0] : undefined;
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
