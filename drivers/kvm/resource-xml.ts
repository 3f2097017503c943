/**
 * Parsers for the libvirt XML documents other than domains: storage volumes and pools, node
 * devices, networks, host capabilities and snapshots.
 */
import { attr, bytesOf, child, children, num, parseXml, text } from './xml.js';

export interface VolumeInfo {
  name: string;
  path: string;
  format: string;
  capacityBytes: number;
  backingPath?: string;
}

export function parseVolumeXml(xml: string): VolumeInfo {
  const volume = child(parseXml(xml), 'volume');
  const target = child(volume, 'target');
  return {
    name: text(volume, 'name') ?? '',
    path: (text(target, 'path') ?? '').trim(),
    format: attr(child(target, 'format'), 'type') ?? 'raw',
    capacityBytes: bytesOf(child(volume, 'capacity')) ?? 0,
    backingPath: text(child(volume, 'backingStore'), 'path')?.trim() || undefined,
  };
}

export interface PoolInfo {
  name: string;
  type: string;
  path?: string;
  capacityBytes: number;
  allocationBytes: number;
  availableBytes: number;
}

export function parsePoolXml(xml: string): PoolInfo {
  const pool = child(parseXml(xml), 'pool');
  return {
    name: text(pool, 'name') ?? '',
    type: attr(pool, 'type') ?? 'unknown',
    path: text(child(pool, 'target'), 'path')?.trim() || undefined,
    capacityBytes: bytesOf(child(pool, 'capacity')) ?? 0,
    allocationBytes: bytesOf(child(pool, 'allocation')) ?? 0,
    availableBytes: bytesOf(child(pool, 'available')) ?? 0,
  };
}

/** Pool types whose storage other hosts see too (so live migration needs no storage motion). */
export const SHARED_POOL_TYPES = new Set(['netfs', 'gluster', 'rbd', 'iscsi', 'iscsi-direct', 'sheepdog', 'vstorage', 'mpath']);

export interface PciDevice {
  address: string;
  vendor: string;
  product: string;
  className?: string;
}

/** One `virsh nodedev-dumpxml` document of a PCI device. */
export function parsePciDeviceXml(xml: string): PciDevice | undefined {
  const device = child(parseXml(xml), 'device');
  const capability = children(device, 'capability').find((c) => attr(c, 'type') === 'pci');
  if (!capability) return undefined;
  const hex = (name: string, width: number) => (num(text(capability, name)) ?? 0).toString(16).padStart(width, '0');
  const vendor = child(capability, 'vendor');
  const product = child(capability, 'product');
  const label = (node: typeof vendor) => (text(node) ?? '').trim() || attr(node, 'id') || 'unknown';
  const classCode = text(capability, 'class')?.trim();
  return {
    address: `${hex('domain', 4)}:${hex('bus', 2)}:${hex('slot', 2)}.${hex('function', 1)}`,
    vendor: label(vendor),
    product: label(product),
    className: classCode || undefined,
  };
}

export function parseNetworkXml(xml: string): { name: string; bridge?: string; forward?: string } {
  const network = child(parseXml(xml), 'network');
  return {
    name: text(network, 'name') ?? '',
    bridge: attr(child(network, 'bridge'), 'name'),
    forward: attr(child(network, 'forward'), 'mode'),
  };
}

export interface HostCapabilities {
  hostUuid?: string;
  cpuModel?: string;
  sockets?: number;
  cores?: number;
  threads?: number;
  /** Domain types the host can run for x86_64 guests (qemu, kvm). */
  domainTypes: string[];
}

export function parseCapabilitiesXml(xml: string): HostCapabilities {
  const capabilities = child(parseXml(xml), 'capabilities');
  const host = child(capabilities, 'host');
  const cpu = child(host, 'cpu');
  const topology = child(cpu, 'topology');
  const domainTypes = new Set<string>();
  for (const guest of children(capabilities, 'guest')) {
    const arch = child(guest, 'arch');
    if (attr(arch, 'name') !== 'x86_64') continue;
    for (const domain of children(arch, 'domain')) {
      const type = attr(domain, 'type');
      if (type) domainTypes.add(type);
    }
  }
  return {
    hostUuid: text(host, 'uuid')?.trim(),
    cpuModel: text(cpu, 'model')?.trim(),
    sockets: num(attr(topology, 'sockets')),
    cores: num(attr(topology, 'cores')),
    threads: num(attr(topology, 'threads')),
    domainTypes: [...domainTypes],
  };
}

export interface SnapshotXmlInfo {
  name: string;
  description?: string;
  /** Domain state when taken: running, paused, shutoff, disk-snapshot. */
  state: string;
  parent?: string;
  createdAt: string;
  /** internal / external: memory saved; no: disk only. */
  memory: string;
}

export function parseSnapshotXml(xml: string): SnapshotXmlInfo {
  const snapshot = child(parseXml(xml), 'domainsnapshot');
  const created = num(text(snapshot, 'creationTime'));
  const parent = text(child(snapshot, 'parent'), 'name');
  return {
    name: text(snapshot, 'name') ?? '',
    description: text(snapshot, 'description'),
    state: (text(snapshot, 'state') ?? 'unknown').trim(),
    parent: parent === undefined ? undefined : parent,
    createdAt: created !== undefined ? new Date(created * 1000).toISOString() : new Date(0).toISOString(),
    memory: attr(child(snapshot, 'memory'), 'snapshot') ?? 'no',
  };
}
