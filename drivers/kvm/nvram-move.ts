/**
 * A UEFI domain's variable store (its nvram file) carried along when the shut-off domain moves to
 * another host (host-volume-move.ts moveStoppedToHost).
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
import { DriverError } from '../types.js';
import { command, script } from './shell.js';
import type { SshConnection } from './ssh-connection.js';
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
