/**
 * Delivery of a VM's metadata at start (R62, R64). For a VM whose network uses the config drive,
 * the drive is (re)built from the database and staged to the host like any ISO from the image
 * store (the storage facet's stageImage, under Kiln's own name), and the VM's spec gets it as a CD-ROM.
 * For the metadata HTTP service there is nothing to attach: the service answers from the same
 * database whenever the guest asks.
 *
 * Rebuilt on every start from what the database holds then, so user data, keys or a hostname
 * changed while the VM was stopped reach the guest at its next boot (CloudStack rebuilds its drive
 * on those changes too); an unchanged drive keeps its bytes and the host keeps its copy.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type DiskSpec, type HostSession, type StoredImage, type VmSpec } from '../../../drivers/types.js';
import type { Engine } from '../engine.js';
import type { VmRow } from '../vm/rows.js';
import { buildConfigDrive, configDriveImage, configDriveName, removeConfigDrive, type ConfigDrive } from './config-drive.js';
import { guestMetadata } from './guest-metadata.js';
import { relayMetadataThrough } from './host-relay.js';
import { vmUserDataProvider } from './provider.js';

export function configDriveDir(engine: Pick<Engine, 'dataDir'>): string {
  return join(engine.dataDir, 'config-drives');
}

/** Builds the VM's config drive if its network uses one (else undefined), without touching a host. */
export async function vmConfigDrive(engine: Engine, vm: Pick<VmRow, 'id'>): Promise<ConfigDrive | undefined> {
  if (vmUserDataProvider(engine.db, engine.settings, vm.id) !== 'ConfigDrive') return undefined;
  const md = guestMetadata(engine.db, vm.id);
  if (!md) return undefined;
  return buildConfigDrive(configDriveDir(engine), md);
}

/**
 * Before define: the CD-ROM the VM's spec must carry (its config drive, staged on the host), or
 * undefined when the VM's metadata comes from the HTTP service.
 */
export async function prepareGuestMetadata(engine: Engine, session: HostSession, vm: Pick<VmRow, 'id' | 'zone_id'>): Promise<DiskSpec | undefined> {
  const drive = await vmConfigDrive(engine, vm);
  if (!drive) {
    // The HTTP service: the host relays its guests' requests to it (a network created since the session opened).
    await relayMetadataThrough(engine, session, vm.zone_id);
    return undefined;
  }
  const stage = stagerOf(session);
  if (!stage) throw new DriverError(`this host's driver cannot take a config drive (no storage facet to stage it); give the VM's network userdataprovider=VirtualRouter`, 'unsupported');
  await stage(configDriveImage(drive));
  return { name: drive.name, sizeBytes: drive.sizeBytes, device: 'cdrom', bus: 'ide' };
}

/** The spec with the config drive's CD-ROM added (the spec itself when there is none). */
export function withGuestMetadata(spec: VmSpec, drive: DiskSpec | undefined): VmSpec {
  return drive ? { ...spec, disks: [...spec.disks, drive] } : spec;
}

/** The disk name of the VM's config drive on its host, when Kiln built one (for expunge to delete). */
export function configDriveDisks(engine: Pick<Engine, 'dataDir'>, vmUuid: string): string[] {
  const name = configDriveName(vmUuid);
  return existsSync(join(configDriveDir(engine), name)) ? [name] : [];
}

export function forgetConfigDrive(engine: Pick<Engine, 'dataDir'>, vmUuid: string): void {
  removeConfigDrive(configDriveDir(engine), vmUuid);
}

/**
 * The session's image staging: the storage facet's stageImage, or (while the drivers move onto
 * the facet contract of issue 11) the older session-level stageImage the same drivers still have.
 */
function stagerOf(session: HostSession): ((image: StoredImage) => Promise<void>) | undefined {
  if (session.storage) return (image) => session.storage!.stageImage(image);
  const legacy = (session as { stageImage?: (image: StoredImage) => Promise<void> }).stageImage;
  return legacy ? (image) => legacy.call(session, image) : undefined;
}
