/**
 * A UEFI domain's variable store (its nvram file) carried along when the domain moves to another
 * host: shut off with its disks (host-volume-move.ts moveStoppedToHost), or by `virsh migrate`,
 * live or definition-only (session.ts migrate, through prepareNvramMigration below).
 *
 * The file holds what the guest and its firmware wrote into UEFI variables: boot entries and
 * order (an OS installer's \EFI\debian\shimx64.efi entry), Secure Boot keys, the firmware's own
 * settings. libvirt keeps it per host, outside every storage pool (its qemu driver's
 * /var/lib/libvirt/qemu/nvram), and a definition on a host without it gets a fresh copy of the
 * firmware's template at the next start (libvirt's documented behaviour for a missing nvram file
 * with `<nvram template=…>` or firmware autoselection): every variable back to the defaults, so a
 * guest whose bootloader is only reachable through its boot entry no longer boots. So Kiln copies
 * the file itself, streamed through its SSH connections and checked by SHA-256 on arrival, to the
 * same place on the destination, where the destination's libvirt looks for it.
 *
 * Only libvirt's own nvram directory is written on the destination: a definition whose nvram path
 * is elsewhere gets it there, under libvirt's own name for it (NAME_VARS.fd), and its definition
 * says so. A file of that name already on the destination is refused rather than overwritten.
 */
import { posix } from 'node:path';
import { DriverError } from '../types.js';
import { command, script } from './shell.js';
import type { SshConnection } from './ssh-connection.js';
import type { Virsh } from './virsh.js';
import { buildXml, child, parseXml, text, type XmlNode } from './xml.js';

/** libvirt's qemu driver's directory for the nvram files it makes ($localstatedir/lib/libvirt/qemu/nvram). */
export const NVRAM_DIR = '/var/lib/libvirt/qemu/nvram';

/** Receives the file on stdin into a temporary file beside $1, checks its SHA-256 ($2), then renames it. */
const RECEIVE_SCRIPT = `set -e
[ ! -e "$1" ] || { echo "$1 exists already" >&2; exit 4; }
umask 077
t=$(mktemp "$1.XXXXXX")
trap 'rm -f "$t"' EXIT
cat > "$t"
sum=$(sha256sum "$t" | cut -d' ' -f1)
[ "$sum" = "$2" ] || { echo "arrived damaged (SHA-256 $sum)" >&2; exit 3; }
mv -f "$t" "$1"
trap - EXIT`;

export interface NvramMove {
  /** The file on the source host. */
  source: string;
  /** Where it is put on the destination (the same path, in libvirt's nvram directory). */
  destination: string;
  sha256: string;
}

/** The nvram path of the domain in DOMAINXML (its inactive definition), explicit or libvirt's default for firmware autoselection. */
function nvramPath(vm: string, domainXml: string): string | undefined {
  const os = child(child(parseXml(domainXml), 'domain'), 'os');
  const explicit = text(os, 'nvram')?.trim();
  if (explicit) return explicit;
  return os?.['@_firmware'] === 'efi' ? `${NVRAM_DIR}/${vm}_VARS.fd` : undefined;
}

/** A path libvirt itself would use: a plain file name in its nvram directory. */
function inNvramDir(path: string): boolean {
  const name = path.startsWith(`${NVRAM_DIR}/`) ? path.slice(NVRAM_DIR.length + 1) : '';
  return /^[^/]+$/.test(name) && name !== '.' && name !== '..';
}

/**
 * What moving VM's nvram takes: undefined for a domain without one (BIOS), or whose file does not
 * exist yet (a UEFI domain never started: its destination makes it from the template, as here).
 */
export async function planNvramMove(source: SshConnection, vm: string, domainXml: string): Promise<NvramMove | undefined> {
  const path = nvramPath(vm, domainXml);
  if (!path) return undefined;
  const found = await source.exec(script('[ -f "$1" ] || exit 2; sha256sum -- "$1" | cut -d" " -f1', [path]));
  if (found.code === 2) return undefined;
  const sha256 = found.stdout.trim();
  if (found.code !== 0 || !/^[0-9a-f]{64}$/.test(sha256)) throw new DriverError(`cannot read the UEFI variable store ${path} of ${vm}: ${found.stderr.trim() || `exit ${found.code}`}`, 'failed');
  const destination = inNvramDir(path) ? path : `${NVRAM_DIR}/${vm}_VARS.fd`;
  if (!inNvramDir(destination)) throw new DriverError(`domain name ${JSON.stringify(vm)} cannot name its UEFI variable store on another host`, 'invalid');
  return { source: path, destination, sha256 };
}

/** Streams the nvram file from SOURCE's host to DESTINATION's (HOST names it in messages), checked on arrival. */
export async function copyNvram(source: SshConnection, destination: SshConnection, move: NvramMove, vm: string, host: string): Promise<void> {
  const channel = await source.openChannel(command(['cat', '--', move.source]));
  channel.stderr.resume();
  const received = await destination.exec(script(RECEIVE_SCRIPT, [move.destination, move.sha256]), { stdin: channel, timeoutMs: 300_000 });
  if (received.code !== 0) {
    throw new DriverError(`cannot copy the UEFI variable store of ${vm} to host ${host}: ${received.stderr.trim() || `exit ${received.code}`}`, received.code === 4 ? 'invalid' : 'failed');
  }
}

/** Deletes the copy made on the destination (after a move that failed later). */
export async function removeNvramCopy(destination: SshConnection, move: NvramMove): Promise<void> {
  await destination.exec(command(['rm', '-f', '--', move.destination]));
}

/** DOMAINXML with its nvram element naming the destination's file, where that differs from the source's. */
export function withNvram(domainXml: string, move: NvramMove | undefined): string {
  if (!move || move.destination === move.source) return domainXml;
  const tree = parseXml(domainXml);
  const os = child(child(tree, 'domain'), 'os') as XmlNode;
  const nvram = child(os, 'nvram');
  os['nvram'] = { ...(nvram ?? {}), '#text': move.destination };
  return buildXml(tree);
}

/** Whether FILE exists on the host of SSH. */
async function fileExists(ssh: SshConnection, file: string): Promise<boolean> {
  return (await ssh.exec(command(['test', '-e', file]))).code === 0;
}

/**
 * Whether DIR on the source host is the very directory the destination sees at that path (shared
 * storage: one file for both hosts, so nothing is to be copied, and deleting "the source's" would
 * delete the guest's). A probe file made here is looked for there.
 */
async function sharedDir(source: SshConnection, destination: SshConnection, dir: string): Promise<boolean> {
  const made = await source.exec(script('mktemp "$1/.kiln-nvram-probe.XXXXXX"', [dir]));
  const probe = made.stdout.trim();
  if (made.code !== 0 || !probe.startsWith(`${dir}/`)) return false;
  try {
    return await fileExists(destination, probe);
  } finally {
    await source.exec(command(['rm', '-f', '--', probe])).catch(() => undefined);
  }
}

/** What a `virsh migrate` of a UEFI domain to another host does after it succeeded, or failed. */
export interface NvramMigration {
  /** After the migration: the source's file goes (libvirt leaves it behind with --undefinesource). */
  finish(): Promise<void>;
  /** After a failed migration: what was made on the destination for it goes, the source's file stays. */
  abandon(): Promise<void>;
}

export interface NvramMigrationTarget {
  virsh: Virsh;
  /** How to name the host in messages. */
  host: string;
  /** Whether the destination has no domain VM (the migration did not get there). */
  missing(): Promise<boolean>;
}

/**
 * Prepares the nvram side of migrating VM (DOMAINXML: its inactive definition) from SOURCE to
 * DESTINATION with `virsh migrate --persistent --undefinesource`; undefined when there is nothing
 * to do (BIOS, a UEFI domain never started, or an nvram directory both hosts share).
 *
 * Live (LIVE): libvirt (9.0 on Debian 12) makes the destination's file from the firmware template
 * when the incoming qemu starts, and QEMU writes the migrated flash contents (the guest's current
 * variables) into it once the guest runs there (pflash post-load): the destination's file is
 * right by itself. But libvirt leaves the source's file behind, an orphan that a later migration
 * back would not even use; finish() deletes it, once the destination has its own.
 *
 * Definition-only (`--offline`): libvirt moves the definition and nothing else, so the file is
 * copied first, as for moveStoppedToHost (refused if the destination has one of that name already,
 * before anything changed), the destination's definition pointed at it where its path differs,
 * and the source's deleted after.
 */
export async function prepareNvramMigration(source: Virsh, destination: NvramMigrationTarget, vm: string, domainXml: string, live: boolean): Promise<NvramMigration | undefined> {
  const move = await planNvramMove(source.ssh, vm, domainXml);
  if (!move || (await sharedDir(source.ssh, destination.virsh.ssh, posix.dirname(move.source)))) return undefined;
  const there = destination.virsh.ssh;
  if (live) {
    // The running definition keeps its path: the destination's libvirt uses the same one.
    const existed = await fileExists(there, move.source);
    return {
      finish: async () => {
        if (await fileExists(there, move.source)) await source.ssh.exec(command(['rm', '-f', '--', move.source]));
      },
      abandon: async () => {
        if (!existed && (await destination.missing())) await there.exec(command(['rm', '-f', '--', move.source]));
      },
    };
  }
  await copyNvram(source.ssh, there, move, vm, destination.host);
  return {
    finish: async () => {
      if (move.destination !== move.source) {
        const xml = await destination.virsh.run(['dumpxml', '--domain', vm, '--inactive']);
        await destination.virsh.run(['define', '--file', '/dev/stdin'], { stdin: withNvram(xml, move) });
      }
      await source.ssh.exec(command(['rm', '-f', '--', move.source]));
    },
    abandon: async () => {
      if (await destination.missing()) await removeNvramCopy(there, move);
    },
  };
}
