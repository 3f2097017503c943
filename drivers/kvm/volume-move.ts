/**
 * KVM's storage motion for a shut-off domain: its disks copied into other libvirt pools of the
 * same host, the domain's persistent definition pointed at the copies, then the sources deleted.
 *
 * The copy is libvirt's own `vol-create-from` (qemu-img convert on the host, which every KVM host
 * has): the new volume is a self-contained qcow2 (v3, as createVolume makes them) with the guest's
 * bytes, its backing chain flattened into it, so it no longer depends on the template's copy in
 * the source pool. Each disk keeps its name (Kiln's volume names are unique), so Kiln's record of
 * the volume only changes pool.
 *
 * Settled state on every failure: the copies are made first, then every definition changes, then
 * the sources go. A failed copy or definition change deletes every copy made so far and puts back
 * the definitions already changed, so the domain and its disks stay as they were. Internal
 * snapshots and backup checkpoints live inside the qcow2 files and do not survive qemu-img
 * convert, so a domain with either is refused before anything is copied. A running domain's disks
 * move by block copy instead (live-volume-move.ts), and to another host's pools by
 * host-volume-move.ts; both share the planning and disk rewriting here.
 */
import { DriverError } from '../types.js';
import { deleteVolume, findVolume, type HostStorage } from './storage.js';
import type { VolumeInfo } from './resource-xml.js';
import { virshError } from './virsh.js';
import { attr, buildXml, child, children, parseXml, type XmlNode } from './xml.js';

export interface MovedDisk {
  /** The DiskSpec.name the move was asked for (the volume's name). */
  name: string;
  /** The copy's path, now in the definition. */
  ref: string;
  pool: string;
}

export interface PlannedMove {
  name: string;
  pool: string;
  source: VolumeInfo;
  /** The <disk> element of the definition read (persistent or live), as libvirt wrote it. */
  disk: XmlNode;
  /** Its target in the domain (vda): how virsh names the disk in blockcopy and migrate. */
  target: string;
  copy?: VolumeInfo;
  redefined?: boolean;
}

/**
 * Internal snapshots and backup checkpoints live inside the qcow2 files; no copy carries them
 * (qemu-img convert, a block copy and a storage migration all write only the guest's bytes), so
 * a domain with either is refused before anything is copied.
 */
export async function refuseInternalState(virsh: HostStorage['virsh'], vm: string): Promise<void> {
  for (const [what, list] of [['VM snapshots', 'snapshot-list'], ['backup checkpoints', 'checkpoint-list']] as const) {
    const listed = await virsh.tryRun([list, '--domain', vm, '--name']);
    if (listed.code === 0 && listed.stdout.trim() !== '') {
      throw new DriverError(`domain ${vm} has ${what} (${listed.stdout.trim().split('\n').join(', ')}); they live inside its disks and would not survive the copy to another pool, so delete them first`, 'invalid');
    }
  }
}

/** The domain's file-backed disks and CD-ROMs (DOMAINXML: dumpxml output). */
export function fileDisks(domainXml: string): XmlNode[] {
  return children(child(child(parseXml(domainXml), 'domain'), 'devices'), 'disk').filter((d) => attr(d, 'type') === 'file' && attr(child(d, 'source'), 'file') !== undefined);
}

/**
 * What moving the named disks (DiskSpec.name -> pool of DESTINATION) takes: each disk's element
 * in DOMAINXML and its volume on SOURCE. A disk already in its pool (on the same host) is
 * skipped; a destination pool that holds a volume of that name already is refused.
 */
export async function planMoves(source: HostStorage, destination: HostStorage, vm: string, volumePools: Record<string, string>, domainXml: string): Promise<PlannedMove[]> {
  const disks = fileDisks(domainXml).filter((d) => attr(d, 'device') === 'disk');
  const planned: PlannedMove[] = [];
  for (const [name, pool] of Object.entries(volumePools)) {
    const disk = disks.find((d) => {
      const file = attr(child(d, 'source'), 'file') ?? '';
      return file === name || file.endsWith(`/${name}`);
    });
    if (!disk) throw new DriverError(`domain ${vm} has no disk ${name}`, 'not-found');
    const volume = await findVolume(source, pool, attr(child(disk, 'source'), 'file')!);
    if (!volume) throw new DriverError(`disk ${name} of ${vm} is not a volume of any storage pool on the host`, 'not-found');
    if (source === destination && (await source.virsh.run(['vol-pool', '--vol', volume.path])).trim() === pool) continue;
    const there = await findVolume(destination, pool, volume.name);
    // Another host's view of the same shared pool: the disk is there already.
    if (there && source !== destination && there.path === volume.path) continue;
    if (there) {
      throw new DriverError(`pool ${pool} already holds a volume named ${volume.name}; disk ${name} of ${vm} was not moved`, 'invalid');
    }
    planned.push({ name, pool, source: volume, disk, target: attr(child(disk, 'target'), 'dev') ?? '' });
  }
  return planned;
}

/** DISK (a <disk> element) reading VOLUME instead: a self-contained copy, so without the old backing chain. */
export function retargeted(disk: XmlNode, volume: Pick<VolumeInfo, 'path' | 'format'>): XmlNode {
  const driver = child(disk, 'driver');
  const changed: XmlNode = {
    ...disk,
    source: { ...(child(disk, 'source') ?? {}), '@_file': volume.path },
    ...(driver ? { driver: { ...driver, '@_type': volume.format } } : {}),
  };
  delete changed['backingStore'];
  return changed;
}

/** Moves the named disks of the shut-off domain VM to the pools in VOLUMEPOOLS (DiskSpec.name -> pool). */
export async function moveStoppedDisks(storage: HostStorage, vm: string, volumePools: Record<string, string>): Promise<MovedDisk[]> {
  const { virsh } = storage;
  const state = (await virsh.run(['domstate', '--domain', vm])).trim();
  if (state !== 'shut off') {
    throw new DriverError(`domain ${vm} is ${state}: it is no longer shut off, so its disks were not copied offline; try again`, 'invalid');
  }
  await refuseInternalState(virsh, vm);
  const planned: PlannedMove[] = await planMoves(storage, storage, vm, volumePools, await virsh.run(['dumpxml', '--domain', vm, '--inactive']));
  try {
    for (const move of planned) move.copy = await copyVolume(storage, move);
    for (const move of planned) {
      await pointDiskAt(storage, vm, move.disk, move.copy!);
      move.redefined = true;
    }
  } catch (error) {
    await undo(storage, vm, planned);
    throw error;
  }
  for (const [i, move] of planned.entries()) {
    const removed = await virsh.tryRun(['vol-delete', '--vol', move.source.path]);
    if (removed.code === 0 || /not found|failed to get vol/i.test(removed.stderr)) continue;
    // Nothing deleted yet: put everything back. Later, the domain already runs on some copies only.
    if (i === 0) {
      await undo(storage, vm, planned);
      throw virshError(removed.stderr, `cannot delete ${move.source.path} after copying it to pool ${move.pool}; the move was undone`);
    }
    throw virshError(removed.stderr, `disk ${move.name} of ${vm} moved to pool ${move.pool}, but its old copy ${move.source.path} could not be deleted`);
  }
  return planned.map((m) => ({ name: m.name, ref: m.copy!.path, pool: m.pool }));
}

/** A self-contained copy of the source in the move's pool, under the same name. */
async function copyVolume(storage: HostStorage, move: PlannedMove): Promise<VolumeInfo> {
  const { source, pool } = move;
  const qcow2 = source.format === 'qcow2';
  const xml = buildXml({
    volume: {
      name: source.name,
      capacity: { '@_unit': 'bytes', '#text': String(source.capacityBytes) },
      target: { format: { '@_type': qcow2 ? 'qcow2' : source.format }, ...(qcow2 ? { compat: '1.1' } : {}) },
    },
  });
  // Ten minutes, plus a second per 20 MB of virtual size: a large disk gets time, a stalled copy still ends.
  const timeoutMs = 600_000 + Math.ceil(source.capacityBytes / 20_000);
  try {
    await storage.queue.run(() => storage.virsh.run(['vol-create-from', '--pool', pool, '--file', '/dev/stdin', '--vol', source.path], { stdin: xml, timeoutMs }));
  } catch (error) {
    // libvirt may leave a partial file behind (a full pool): it is ours to remove.
    await deleteVolume(storage, pool, source.name).catch(() => undefined);
    throw error instanceof DriverError ? new DriverError(`cannot copy disk ${move.name} to pool ${pool}: ${error.message}`, error.category) : error;
  }
  const copy = await findVolume(storage, pool, source.name);
  if (!copy) throw new DriverError(`the copy of disk ${move.name} was made but cannot be found in pool ${pool}`, 'failed');
  return copy;
}

/** Changes the source of one disk in the persistent definition (update-device matches it by its target). */
export async function pointDiskAt(storage: HostStorage, vm: string, disk: XmlNode, volume: Pick<VolumeInfo, 'path' | 'format'>): Promise<void> {
  await storage.virsh.run(['update-device', '--domain', vm, '--file', '/dev/stdin', '--config'], { stdin: buildXml({ disk: retargeted(disk, volume) }) });
}

async function undo(storage: HostStorage, vm: string, planned: PlannedMove[]): Promise<void> {
  for (const move of planned) {
    if (move.redefined) {
      await storage.virsh.run(['update-device', '--domain', vm, '--file', '/dev/stdin', '--config'], { stdin: buildXml({ disk: move.disk }) }).catch(() => undefined);
    }
    if (move.copy) await deleteVolume(storage, move.pool, move.copy.name).catch(() => undefined);
  }
}
