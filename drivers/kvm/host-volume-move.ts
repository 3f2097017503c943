/**
 * KVM storage motion to another host: a domain's disks moved into pools of the destination host
 * (its local storage, which the source cannot see), the domain with them.
 *
 * Running (prepareStorageMigration + runStorageMigration): Kiln makes each destination volume
 * itself (a qcow2 v3 of the source's name and capacity, createVolume's), then the source's libvirt
 * runs `virsh migrate --live --copy-storage-all --migrate-disks vda,…`: the destination qemu
 * serves the new volumes over NBD, the source mirrors the guest's disks into them (backing chains
 * flattened) while the guest runs, and the memory follows as in any live migration. The domain
 * definitions the destination gets (`--xml` for the running guest, `--persistent-xml` for its
 * definition) are the source's own with the moved disks pointed at the new volumes. libvirt cancels
 * a migration that fails, so the guest stays on its source host and disks; Kiln then deletes the
 * volumes it made on the destination. After a success the sources are deleted.
 *
 * Stopped (moveStoppedToHost): no qemu runs to mirror anything, so each disk is copied to a scratch
 * qcow2 on the source (disk-export.ts) and streamed through Kiln's SSH connections into the
 * destination pool (storage.ts uploadImage, which checks the SHA-256 on arrival and deletes a copy
 * cut short), the definition is defined there pointing at the copies, then undefined here and the
 * sources deleted. Any failure before that deletes the copies and the destination's definition.
 * A UEFI domain's nvram file (its UEFI variables) goes along the same way (nvram-move.ts), so its
 * boot entries survive; libvirt would otherwise make a fresh one from the firmware's template.
 *
 * Either way, the disks that do not move must be readable on the destination at the same path
 * (shared storage), or nothing is started; volume names are Kiln's, never a user's path.
 */
import { DriverError } from '../types.js';
import { scratchCopy } from './disk-export.js';
import { copyNvram, planNvramMove, removeNvramCopy, withNvram } from './nvram-move.js';
import { command } from './shell.js';
import { createVolume, deleteVolume, uploadImage, type HostStorage } from './storage.js';
import { fileDisks, planMoves, refuseInternalState, retargeted, type MovedDisk, type PlannedMove } from './volume-move.js';
import { virshError } from './virsh.js';
import { attr, buildXml, child, children, parseXml, type XmlNode } from './xml.js';

/** A host the disks go to: its storage, and how to name it in messages. */
export interface DiskDestination {
  storage: HostStorage;
  host: string;
}

/** DOMAINXML with the moved disks (by target) pointed at their copies. */
export function retargetedDomain(domainXml: string, moves: PlannedMove[]): string {
  const tree = parseXml(domainXml);
  const devices = child(child(tree, 'domain'), 'devices');
  const disks = children(devices, 'disk');
  if (devices) {
    devices['disk'] = disks.map((disk: XmlNode) => {
      const move = moves.find((m) => m.target === attr(child(disk, 'target'), 'dev'));
      return move?.copy ? retargeted(disk, move.copy) : disk;
    });
  }
  return buildXml(tree);
}

/** Every file disk and CD-ROM of DOMAINXML that stays where it is must be readable on the destination too. */
async function refuseUnsharedDisks(destination: DiskDestination, vm: string, domainXml: string, moves: PlannedMove[]): Promise<void> {
  const moved = new Set(moves.map((m) => m.target));
  for (const disk of fileDisks(domainXml)) {
    if (moved.has(attr(child(disk, 'target'), 'dev') ?? '')) continue;
    const path = attr(child(disk, 'source'), 'file')!;
    const seen = await destination.storage.virsh.ssh.exec(command(['test', '-r', path]));
    if (seen.code !== 0) {
      throw new DriverError(`disk ${path} of ${vm} is on storage host ${destination.host} does not see, and no pool there was named for it; move it along (a pool of host ${destination.host}) or keep the VM on shared storage`, 'invalid');
    }
  }
}

async function deleteCopies(destination: DiskDestination, moves: PlannedMove[]): Promise<void> {
  for (const move of moves) {
    if (move.copy) await deleteVolume(destination.storage, move.pool, move.copy.name).catch(() => undefined);
  }
}

/** Deletes the sources of disks that now live on the destination; one that will not go is reported, the move stands. */
async function deleteSources(source: HostStorage, vm: string, moves: PlannedMove[], destination: DiskDestination): Promise<void> {
  for (const move of moves) {
    const removed = await source.virsh.tryRun(['vol-delete', '--vol', move.source.path]);
    if (removed.code !== 0 && !/not found|failed to get vol/i.test(removed.stderr)) {
      throw virshError(removed.stderr, `disk ${move.name} of ${vm} moved to pool ${move.pool} of host ${destination.host}, but its old copy ${move.source.path} could not be deleted`);
    }
  }
}

/** A prepared live migration with storage: what `virsh migrate` adds, and what follows it. */
export interface StorageMigration {
  /** Arguments for `virsh migrate` besides --xml and --persistent-xml. */
  args: string[];
  liveXml: string;
  persistentXml: string;
  bytes: number;
  /** After a failed migration: deletes the volumes made on the destination. */
  abandon(): Promise<void>;
  /** After a migration that succeeded: deletes the sources; the moved disks. */
  finish(): Promise<MovedDisk[]>;
}

/** Makes the destination volumes for a live migration of the running domain VM with its disks to VOLUMEPOOLS. */
export async function prepareStorageMigration(source: HostStorage, destination: DiskDestination, vm: string, volumePools: Record<string, string>): Promise<StorageMigration> {
  await refuseInternalState(source.virsh, vm);
  const live = await source.virsh.run(['dumpxml', '--domain', vm, '--migratable']);
  const moves = await planMoves(source, destination.storage, vm, volumePools, live);
  await refuseUnsharedDisks(destination, vm, live, moves);
  try {
    for (const move of moves) move.copy = await createVolume(destination.storage, move.pool, { name: move.source.name, sizeBytes: move.source.capacityBytes, device: 'disk' });
  } catch (error) {
    await deleteCopies(destination, moves);
    throw error instanceof DriverError ? new DriverError(`cannot make the disks of ${vm} on host ${destination.host}: ${error.message}`, error.category) : error;
  }
  const persistent = await source.virsh.run(['dumpxml', '--domain', vm, '--inactive', '--migratable']);
  return {
    args: moves.length ? ['--copy-storage-all', '--migrate-disks', moves.map((m) => m.target).join(',')] : [],
    liveXml: retargetedDomain(live, moves),
    persistentXml: retargetedDomain(persistent, moves),
    bytes: moves.reduce((sum, m) => sum + m.source.capacityBytes, 0),
    abandon: () => deleteCopies(destination, moves),
    async finish() {
      await deleteSources(source, vm, moves, destination);
      return moves.map((m) => ({ name: m.name, ref: m.copy!.path, pool: m.pool }));
    },
  };
}

/** Writes the two definitions to a scratch directory on the source and runs `virsh migrate ARGS` with them. */
const MIGRATE_SCRIPT = `set -e
d=$(mktemp -d "\${TMPDIR:-/var/tmp}/kiln-migrate.XXXXXX")
trap 'rm -rf "$d"' EXIT
printf '%s' "$1" > "$d/live.xml"
printf '%s' "$2" > "$d/persistent.xml"
shift 2
$VIRSH "$@" --xml "$d/live.xml" --persistent-xml "$d/persistent.xml"`;

export async function runStorageMigration(source: HostStorage, args: string[], migration: StorageMigration, timeoutMs: number): Promise<void> {
  // The disks' bytes travel too: a second per 20 MB of them on top of the memory's time.
  await source.virsh.runScript(MIGRATE_SCRIPT, [migration.liveXml, migration.persistentXml, ...args], { timeoutMs: timeoutMs + Math.ceil(migration.bytes / 20_000) });
}

/** Moves the shut-off domain VM to DESTINATION with the disks named in VOLUMEPOOLS (DiskSpec.name -> pool there). */
export async function moveStoppedToHost(source: HostStorage, destination: DiskDestination, vm: string, volumePools: Record<string, string>): Promise<MovedDisk[]> {
  const state = (await source.virsh.run(['domstate', '--domain', vm])).trim();
  if (state !== 'shut off') throw new DriverError(`domain ${vm} is ${state}: it is no longer shut off, so its disks were not copied offline; try again`, 'invalid');
  await refuseInternalState(source.virsh, vm);
  const xml = await source.virsh.run(['dumpxml', '--domain', vm, '--inactive']);
  const moves = await planMoves(source, destination.storage, vm, volumePools, xml);
  await refuseUnsharedDisks(destination, vm, xml, moves);
  // A UEFI domain's variable store lives outside the pools, per host: it goes along (nvram-move.ts).
  const nvram = await planNvramMove(source.virsh.ssh, vm, xml);
  let nvramCopied = false;
  let defined = false;
  try {
    for (const move of moves) {
      const scratch = await scratchCopy(source.virsh.ssh, move.source.path, `disk ${move.name} of ${vm}`);
      try {
        const image = { name: move.source.name, format: 'qcow2' as const, sizeBytes: scratch.sizeBytes, sha256: scratch.sha256, open: () => scratch.open() };
        move.copy = await uploadImage(destination.storage, move.pool, image, new Set());
      } catch (error) {
        throw error instanceof DriverError ? new DriverError(`cannot copy disk ${move.name} of ${vm} to pool ${move.pool} of host ${destination.host}: ${error.message}`, error.category) : error;
      } finally {
        await scratch.remove().catch(() => undefined);
      }
    }
    if (nvram) {
      await copyNvram(source.virsh.ssh, destination.storage.virsh.ssh, nvram, vm, destination.host);
      nvramCopied = true;
    }
    await destination.storage.virsh.run(['define', '--file', '/dev/stdin'], { stdin: withNvram(retargetedDomain(xml, moves), nvram) });
    defined = true;
    // The definition only (and its nvram, now the destination's): the disks that stay are the
    // destination's now too, the moved ones go below. libvirt refuses to undefine a domain whose
    // nvram file exists unless told what to do with it.
    await source.virsh.run(['undefine', '--domain', vm, ...(nvram ? ['--nvram'] : [])]);
  } catch (error) {
    if (defined) await destination.storage.virsh.tryRun(['undefine', '--domain', vm, ...(nvram ? ['--keep-nvram'] : [])]).catch(() => undefined);
    if (nvram && nvramCopied) await removeNvramCopy(destination.storage.virsh.ssh, nvram).catch(() => undefined);
    await deleteCopies(destination, moves);
    throw error;
  }
  await deleteSources(source, vm, moves, destination);
  return moves.map((m) => ({ name: m.name, ref: m.copy!.path, pool: m.pool }));
}
