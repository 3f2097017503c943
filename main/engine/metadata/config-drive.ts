/**
 * The config drive (R62, R64): an ISO 9660 image labelled `config-2` with the OpenStack layout
 * cloud-init's ConfigDrive datasource reads, plus the `cloudstack/` tree of CloudStack's
 * ConfigDrive provider, built from guestMetadata (the same source as the HTTP service).
 *
 *   openstack/latest/meta_data.json   uuid, name, hostname, availability_zone, public_keys, launch_index
 *   openstack/latest/user_data        the raw user data (only when there is some)
 *   openstack/latest/vendor_data.json {}
 *   cloudstack/metadata/<field>.txt   each field of the HTTP service's latest/meta-data/
 *   cloudstack/userdata/user_data.txt the raw user data
 *
 * Built with Debian's genisoimage, run by execFile with an argument list: every path is Kiln's
 * own (the data directory and fixed names; the VM's uuid names the file), nothing user-given
 * reaches a shell or a path. An image is rebuilt only when what it carries changed (user data,
 * keys, hostname…): a digest of the content is kept beside it, so an unchanged drive keeps its
 * bytes and its SHA-256, and the host keeps its copy.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StoredImage } from '../../../drivers/types.js';
import type { GuestMetadata } from './guest-metadata.js';

const run = promisify(execFile);

export const CONFIG_DRIVE_LABEL = 'config-2';

/** The file tree of a VM's config drive: relative path -> bytes. */
export function configDriveFiles(md: GuestMetadata): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const metaData = {
    uuid: md.uuid,
    name: md.hostname,
    hostname: md.hostname,
    availability_zone: md.fields['availability-zone'],
    launch_index: 0,
    public_keys: Object.fromEntries(md.publicKeys.map((k, i) => [k.name || `key-${i}`, k.key])),
  };
  files.set('openstack/latest/meta_data.json', Buffer.from(JSON.stringify(metaData, null, 2) + '\n'));
  files.set('openstack/latest/vendor_data.json', Buffer.from('{}\n'));
  if (md.userData) files.set('openstack/latest/user_data', md.userData);
  for (const [field, value] of Object.entries(md.fields)) files.set(`cloudstack/metadata/${field}.txt`, Buffer.from(value));
  if (md.userData) files.set('cloudstack/userdata/user_data.txt', md.userData);
  return files;
}

/** SHA-256 over the tree (names and bytes), which decides whether the ISO must be rebuilt. */
export function contentDigest(files: Map<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const [name, bytes] of [...files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(`${name}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

export interface ConfigDrive {
  /** The ISO on Kiln's side. */
  path: string;
  /** What the host's copy is called (a plain file name, Kiln's own). */
  name: string;
  sha256: string;
  sizeBytes: number;
  /** True when this call (re)built the image. */
  rebuilt: boolean;
}

/** The name a VM's config drive has in Kiln's directory and on its host. */
export function configDriveName(vmUuid: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(vmUuid)) throw new Error(`not a VM uuid: ${vmUuid}`);
  return `kiln-cfg-${vmUuid}.iso`;
}

/** Builds (or keeps, when its content is unchanged) the VM's config drive under DIR. */
export async function buildConfigDrive(dir: string, md: GuestMetadata): Promise<ConfigDrive> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = configDriveName(md.uuid);
  const path = join(dir, name);
  const stamp = `${path}.digest`;
  const files = configDriveFiles(md);
  const digest = contentDigest(files);
  let rebuilt = false;
  if (!existsSync(path) || !existsSync(stamp) || readFileSync(stamp, 'utf8').trim() !== digest) {
    const tree = mkdtempSync(join(dir, '.tree-'));
    try {
      for (const [relative, bytes] of files) {
        const file = join(tree, relative);
        mkdirSync(join(file, '..'), { recursive: true });
        writeFileSync(file, bytes, { mode: 0o600 });
      }
      const partial = `${path}.partial`;
      // -J -R: Joliet and Rock Ridge, so long names keep their case and underscores (meta_data.json).
      await run('genisoimage', ['-quiet', '-output', partial, '-volid', CONFIG_DRIVE_LABEL, '-joliet', '-rock', '-input-charset', 'utf-8', tree], { timeout: 60_000 }).catch((error: unknown) => {
        if ((error as { code?: unknown }).code === 'ENOENT') throw new Error('the config drive needs genisoimage on the machine Kiln runs on (Debian: apt-get install genisoimage), or the network userdataprovider=VirtualRouter');
        throw error;
      });
      // User data may hold secrets: the ISO is the owner's only, as every file in the data directory.
      chmodSync(partial, 0o600);
      renameSync(partial, path);
      writeFileSync(stamp, digest + '\n', { mode: 0o600 });
      rebuilt = true;
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  }
  return { path, name, sha256: await fileSha256(path), sizeBytes: statSync(path).size, rebuilt };
}

/** The drive as an image a host can stage (HostSession.stageImage). */
export function configDriveImage(drive: ConfigDrive): StoredImage {
  return { name: drive.name, format: 'iso', sizeBytes: drive.sizeBytes, sha256: drive.sha256, open: () => createReadStream(drive.path) };
}

/** Removes a VM's config drive from Kiln's directory (expunge). */
export function removeConfigDrive(dir: string, vmUuid: string): void {
  const path = join(dir, configDriveName(vmUuid));
  for (const file of [path, `${path}.digest`, `${path}.partial`]) rmSync(file, { force: true });
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
