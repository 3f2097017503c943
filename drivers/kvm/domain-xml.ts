/**
 * libvirt domain XML: built from Kiln's VmSpec (after the session has resolved disks to paths
 * and networks to libvirt sources) and parsed back for listInstances, destroy and scaling.
 */
import type { VmSpec } from '../types.js';
import { SCSI_MODEL, TARGET_PREFIX } from './disk-buses.js';
import { privateVlanMetadata, readPrivateVlans, type PrivateVlanPort } from './private-vlan.js';
import { interfaceNode } from './nic-xml.js';
import { attr, buildXml, bytesOf, child, children, num, parseXml, text, xmlSafeText, type XmlNode } from './xml.js';

/** Kiln's own metadata namespace inside <metadata>, where the display name is kept verbatim. */
export const KILN_NS = 'https://kiln.dev/xmlns/libvirt/domain/1';

export interface ResolvedDisk {
  /** Absolute path of the image on the host. */
  path: string;
  /** Image format for the qemu driver: qcow2, raw, … */
  format: string;
  bus: 'virtio' | 'scsi' | 'ide' | 'sata';
  /** The target to keep (a disk's ref: an imported VM's own, so its unit stays); absent: the next free one on the bus. */
  target?: string;
  /** A read-only CD-ROM with its medium (a config drive), beside the ISO drive; default 'disk'. */
  device?: 'disk' | 'cdrom';
}

export interface ResolvedNic {
  /** network: a libvirt network; bridge: a host bridge; user: qemu's user-mode NAT (needs nothing on the host). */
  type: 'network' | 'bridge' | 'user';
  source?: string;
  macAddress: string;
  model: string;
  /** A port on a private VLAN: its tap gets this name (private-vlan.ts applies the rules to it). */
  privateVlan?: PrivateVlanPort;
}

export interface DomainXmlInput {
  spec: VmSpec;
  /** 'qemu' (TCG) or 'kvm'. */
  domainType: 'qemu' | 'kvm';
  disks: ResolvedDisk[];
  nics: ResolvedNic[];
  /** Serial output is also appended to this file on the host (handy when nobody is attached). */
  serialLog?: string;
  vnc: boolean;
  machine?: string;
}

/** Device names per bus: vda…, sda…, hda…; the IDE CD-ROM always takes hdc. */
export function targetName(prefix: string, index: number): string {
  let n = index;
  let suffix = '';
  do {
    suffix = String.fromCharCode(97 + (n % 26)) + suffix;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return prefix + suffix;
}

const CDROM_TARGET = 'hdc';

/**
 * The config drive's target: the first free IDE name after hdc (hdd unless an IDE data disk took
 * it), because libvirt lists disks by target and the ISO drive must stay the first CD-ROM.
 */
function configDriveTarget(disks: XmlNode[]): string {
  const used = new Set(disks.map((d) => String((d['target'] as XmlNode | undefined)?.['@_dev'] ?? '')));
  for (let index = 3; ; index++) {
    const name = targetName('hd', index);
    if (!used.has(name)) return name;
  }
}

export function buildDomainXml(input: DomainXmlInput): string {
  const { spec } = input;
  const maxCpus = Math.max(spec.cpuNumber, spec.maxCpuNumber ?? spec.cpuNumber);
  const maxMemoryMiB = Math.max(spec.memoryMiB, spec.maxMemoryMiB ?? spec.memoryMiB);
  const displayName = xmlSafeText(spec.displayName);

  const counters: Record<string, number> = {};
  // Kept targets are taken first, so the disks that have none do not land on them. A target two
  // disks would keep (a data disk moved from another imported VM) is kept by the first only.
  const kept = new Set<string>();
  const keeps = input.disks.map((d) => (d.device !== 'cdrom' && d.target && !kept.has(d.target) ? (kept.add(d.target), true) : false));
  // The ISO drive is hdc, unless a kept disk is (an imported IDE VM's): then the first free IDE name
  // (attachIso finds the first CD-ROM when hdc is none).
  let cdromTarget = CDROM_TARGET;
  for (let index = 0; kept.has(cdromTarget); index++) cdromTarget = targetName('hd', index);
  const nextTarget = (bus: ResolvedDisk['bus']): string => {
    const prefix = TARGET_PREFIX[bus];
    for (;;) {
      const index = counters[prefix] ?? 0;
      counters[prefix] = index + 1;
      const name = targetName(prefix, index);
      if (name !== cdromTarget && !kept.has(name)) return name;
    }
  };

  const disks: XmlNode[] = input.disks.flatMap((disk, i) => (disk.device === 'cdrom' ? [] : [{
    '@_type': 'file',
    '@_device': 'disk',
    driver: { '@_name': 'qemu', '@_type': disk.format },
    source: { '@_file': disk.path },
    target: { '@_dev': keeps[i] ? disk.target! : nextTarget(disk.bus), '@_bus': disk.bus },
  }]));
  // Always one CD-ROM drive, empty unless an ISO is attached, so attachIso can insert media
  // into a running VM (a drive cannot be hot-plugged on the IDE bus).
  disks.push({
    '@_type': 'file',
    '@_device': 'cdrom',
    driver: { '@_name': 'qemu', '@_type': 'raw' },
    ...(spec.isoPath ? { source: { '@_file': spec.isoPath } } : {}),
    target: { '@_dev': cdromTarget, '@_bus': 'ide' },
    readonly: '',
  });
  // The config drive (R62) is a second CD-ROM after the ISO drive, which stays the first CD-ROM
  // that attachIso and detachIso find. IDE has one place left for it.
  const extraCdroms = input.disks.filter((d) => d.device === 'cdrom');
  if (extraCdroms.length > 1) throw new Error('at most one CD-ROM besides the ISO drive (the config drive)');
  for (const disk of extraCdroms) {
    disks.push({
      '@_type': 'file',
      '@_device': 'cdrom',
      driver: { '@_name': 'qemu', '@_type': 'raw' },
      source: { '@_file': disk.path },
      target: { '@_dev': configDriveTarget(disks), '@_bus': 'ide' },
      readonly: '',
    });
  }

  const interfaces: XmlNode[] = input.nics.map(interfaceNode);

  const os: XmlNode = {
    ...(spec.bootType === 'UEFI' ? { '@_firmware': 'efi' } : {}),
    type: { '@_arch': 'x86_64', '@_machine': input.machine ?? 'pc', '#text': 'hvm' },
  };
  if (spec.kernel) {
    os['kernel'] = spec.kernel;
    if (spec.initrd) os['initrd'] = spec.initrd;
    os['cmdline'] = ['console=ttyS0', spec.kernelArgs ?? ''].join(' ').trim();
  } else {
    os['boot'] = spec.isoPath ? [{ '@_dev': 'cdrom' }, { '@_dev': 'hd' }] : [{ '@_dev': 'hd' }];
  }

  const serial: XmlNode = { '@_type': 'pty', target: { '@_port': '0' } };
  if (input.serialLog) serial['log'] = { '@_file': input.serialLog, '@_append': 'on' };

  const devices: XmlNode = {
    disk: disks,
    // SCSI disks go on a virtio-scsi controller (libvirt would add an lsilogic one), as CloudStack's KVM agent defines them.
    ...(input.disks.some((d) => d.device !== 'cdrom' && d.bus === 'scsi') ? { controller: [{ '@_type': 'scsi', '@_index': '0', '@_model': SCSI_MODEL }] } : {}),
    interface: interfaces,
    serial,
    console: { '@_type': 'pty', target: { '@_type': 'serial', '@_port': '0' } },
    // Only on the host's loopback: Kiln reaches it through the SSH connection (forwardVnc).
    ...(input.vnc ? { graphics: { '@_type': 'vnc', '@_port': '-1', '@_autoport': 'yes', '@_listen': '127.0.0.1' } } : {}),
    memballoon: { '@_model': 'virtio' },
  };

  const domain: XmlNode = {
    '@_type': input.domainType,
    name: spec.internalName,
    uuid: spec.uuid,
    // libvirt refuses newlines in <title>; the exact name lives in the metadata below.
    title: displayName.replace(/[\r\n]+/g, ' '),
    // highAvailability is what the host's isolation watchdog looks for (isolation-watchdog.ts).
    metadata: { 'kiln:vm': { '@_xmlns:kiln': KILN_NS, 'kiln:displayName': displayName, ...(spec.highAvailability ? { 'kiln:highAvailability': 'true' } : {}), ...privateVlanMetadata(input.nics.flatMap((n) => (n.privateVlan ? [n.privateVlan] : []))) } },
    // <memory> is the ceiling the balloon can grow back to with `setmem --live`.
    memory: { '@_unit': 'KiB', '#text': String(maxMemoryMiB * 1024) },
    currentMemory: { '@_unit': 'KiB', '#text': String(spec.memoryMiB * 1024) },
    // current < max leaves room for `setvcpus --live` (hot-add).
    vcpu: maxCpus > spec.cpuNumber ? { '@_placement': 'static', '@_current': String(spec.cpuNumber), '#text': String(maxCpus) } : { '@_placement': 'static', '#text': String(spec.cpuNumber) },
    os,
    features: { acpi: '', apic: '' },
    clock: { '@_offset': 'utc' },
    on_poweroff: 'destroy',
    on_reboot: 'restart',
    on_crash: 'destroy',
    devices,
  };
  // suppressEmptyNode turns '' into <acpi/>, <readonly/>.
  return buildXml({ domain });
}

export interface ParsedDisk {
  device: string;
  /** file/block/volume/network/… */
  type: string;
  path?: string;
  format?: string;
  target: string;
  bus?: string;
  pciSlot?: string;
  /** A drive address (SCSI, SATA, IDE): which controller, bus and unit. */
  address?: { controller?: number; bus?: number; unit?: number };
}

export interface ParsedController {
  type: string;
  index?: number;
  model?: string;
}

export interface ParsedNic {
  type: string;
  macAddress: string;
  source?: string;
  model?: string;
  vlan?: number;
  pciSlot?: string;
}

export interface ParsedDomain {
  type: string;
  name: string;
  uuid?: string;
  /** Present while the domain runs. */
  id?: number;
  title?: string;
  displayName?: string;
  vcpusMax: number;
  vcpusCurrent: number;
  cpuCoresPerSocket?: number;
  memoryKiB: number;
  currentMemoryKiB: number;
  bootType: 'BIOS' | 'UEFI';
  hasNvram: boolean;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** The libosinfo id virt-install records in <metadata> (http://debian.org/debian/12). */
  osId?: string;
  disks: ParsedDisk[];
  controllers: ParsedController[];
  nics: ParsedNic[];
  /** The NICs on private VLANs, from Kiln's metadata (absent: none). */
  privateVlans?: PrivateVlanPort[];
  graphics: { type: string; port?: number; listen?: string }[];
}

export function parseDomainXml(xml: string): ParsedDomain {
  const domain = child(parseXml(xml), 'domain');
  if (!domain) throw new Error('not a libvirt domain document');
  const vcpu = child(domain, 'vcpu');
  const vcpusMax = num(text(vcpu)) ?? 1;
  const os = child(domain, 'os');
  const loader = child(os, 'loader');
  const devices = child(domain, 'devices');
  const id = num(attr(domain, 'id'));
  const metadata = child(domain, 'metadata');
  const memoryKiB = (bytesOf(child(domain, 'memory'), 'KiB') ?? 0) / 1024;
  const slot = (node: unknown) => {
    const address = child(node, 'address');
    return attr(address, 'type') === 'pci' ? attr(address, 'slot') : undefined;
  };
  return {
    type: attr(domain, 'type') ?? 'unknown',
    name: text(domain, 'name') ?? '',
    uuid: text(domain, 'uuid')?.trim(),
    id: id !== undefined && id >= 0 ? id : undefined,
    title: text(domain, 'title'),
    displayName: kilnDisplayName(metadata),
    privateVlans: readPrivateVlans(kilnElement(metadata)),
    vcpusMax,
    vcpusCurrent: num(attr(vcpu, 'current')) ?? vcpusMax,
    cpuCoresPerSocket: num(attr(child(child(domain, 'cpu'), 'topology'), 'cores')),
    memoryKiB,
    currentMemoryKiB: (bytesOf(child(domain, 'currentMemory'), 'KiB') ?? memoryKiB * 1024) / 1024,
    bootType: attr(os, 'firmware') === 'efi' || attr(loader, 'type') === 'pflash' ? 'UEFI' : 'BIOS',
    hasNvram: child(os, 'nvram') !== undefined || attr(os, 'firmware') === 'efi',
    kernel: text(os, 'kernel')?.trim(),
    initrd: text(os, 'initrd')?.trim(),
    cmdline: text(os, 'cmdline'),
    osId: libosinfoId(metadata),
    disks: children(devices, 'disk').map((disk) => {
      const source = child(disk, 'source');
      const target = child(disk, 'target');
      return {
        device: attr(disk, 'device') ?? 'disk',
        type: attr(disk, 'type') ?? 'file',
        path: attr(source, 'file') ?? attr(source, 'dev') ?? (attr(source, 'volume') ? `${attr(source, 'pool') ?? ''}/${attr(source, 'volume') ?? ''}` : attr(source, 'name')),
        format: attr(child(disk, 'driver'), 'type'),
        target: attr(target, 'dev') ?? '',
        bus: attr(target, 'bus'),
        pciSlot: slot(disk),
        ...(attr(child(disk, 'address'), 'type') === 'drive' ? { address: { controller: num(attr(child(disk, 'address'), 'controller')), bus: num(attr(child(disk, 'address'), 'bus')), unit: num(attr(child(disk, 'address'), 'unit')) } } : {}),
      };
    }),
    controllers: children(devices, 'controller').map((c) => ({ type: attr(c, 'type') ?? '', index: num(attr(c, 'index')), model: attr(c, 'model') })),
    nics: children(devices, 'interface').map((nic) => {
      const source = child(nic, 'source');
      return {
        type: attr(nic, 'type') ?? 'unknown',
        macAddress: attr(child(nic, 'mac'), 'address') ?? '',
        source: attr(source, 'network') ?? attr(source, 'bridge') ?? attr(source, 'dev'),
        model: attr(child(nic, 'model'), 'type'),
        vlan: num(attr(child(child(nic, 'vlan'), 'tag'), 'id')),
        pciSlot: slot(nic),
      };
    }),
    graphics: children(devices, 'graphics').map((g) => ({ type: attr(g, 'type') ?? '', port: num(attr(g, 'port')), listen: attr(g, 'listen') })),
  };
}

/** Kiln's own element in <metadata> (its namespace is KILN_NS), whatever prefix libvirt gave it back. */
function kilnElement(metadata: XmlNode | undefined): XmlNode | undefined {
  if (!metadata) return undefined;
  for (const [key, value] of Object.entries(metadata)) {
    if (key.startsWith('@_') || key === '#text') continue;
    const node = Array.isArray(value) ? (value[0] as unknown) : value;
    const ns = Object.entries(typeof node === 'object' && node !== null ? node : {}).find(([k]) => k.startsWith('@_xmlns'))?.[1];
    if (ns === KILN_NS) return node as XmlNode;
  }
  return undefined;
}

/** The display name Kiln stored in its metadata element. */
function kilnDisplayName(metadata: XmlNode | undefined): string | undefined {
  const node = kilnElement(metadata);
  if (!node) return undefined;
  for (const [childKey, childValue] of Object.entries(node)) {
    if (childKey === 'displayName' || childKey.endsWith(':displayName')) return text(childValue) ?? '';
  }
  return undefined;
}

/** <libosinfo:libosinfo><libosinfo:os id="…"/></libosinfo:libosinfo>, whatever prefix it has. */
function libosinfoId(metadata: XmlNode | undefined): string | undefined {
  if (!metadata) return undefined;
  const info = Object.entries(metadata).find(([k]) => k === 'libosinfo' || k.endsWith(':libosinfo'))?.[1];
  const node = Array.isArray(info) ? (info[0] as unknown) : info;
  if (typeof node !== 'object' || node === null) return undefined;
  const os = Object.entries(node as XmlNode).find(([k]) => k === 'os' || k.endsWith(':os'))?.[1];
  return attr(Array.isArray(os) ? os[0] : os, 'id');
}

/** Splits the output of several concatenated `virsh …-dumpxml` runs into documents. */
export function splitDocuments(output: string, rootElement: string): string[] {
  const close = `</${rootElement}>`;
  const documents: string[] = [];
  let rest = output;
  for (;;) {
    const start = rest.indexOf(`<${rootElement}`);
    if (start < 0) break;
    const end = rest.indexOf(close, start);
    if (end < 0) break;
    documents.push(rest.slice(start, end + close.length));
    rest = rest.slice(end + close.length);
  }
  return documents;
}
