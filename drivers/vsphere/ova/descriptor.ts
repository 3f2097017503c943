/**
 * An OVF descriptor (DSP0243) read on Kiln's side, since vcsim has no OvfManager.ParseDescriptor:
 * the deployment options with the vCPUs and memory each gives, the ProductSection properties
 * (type, default, qualifiers, password), the networks with the NICs on each, and the EULAs.
 * fast-xml-parser with namespace prefixes dropped (ovf:, rasd:, vmw: vary between exporters). A
 * DOCTYPE is refused: OVF has none, and entity definitions are how a descriptor would blow up.
 */
import { XMLParser } from 'fast-xml-parser';
import type { ApplianceDescriptor, ApplianceEula, ApplianceNetwork, ApplianceOption, ApplianceProperty } from '../../appliance.js';

const REPEATED = new Set(['Configuration', 'Property', 'Network', 'Item', 'EulaSection', 'ProductSection', 'VirtualSystem', 'VirtualHardwareSection', 'File', 'Disk', 'Category', 'Connection']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (name) => REPEATED.has(name),
});

type Node = Record<string, unknown>;

export class OvfError extends Error {
  override name = 'OvfError';
}

const asNode = (v: unknown): Node => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Node) : {});
const list = (v: unknown): Node[] => (Array.isArray(v) ? v.map(asNode) : v === undefined ? [] : [asNode(v)]);

/** An element's text, whether it carries attributes (ovf:msgid) or not. */
function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return text(v[0]);
  const t = (v as Node)['#text'];
  return t === undefined ? undefined : String(t);
}

const attr = (n: Node, name: string): string | undefined => {
  const v = n[`@_${name}`];
  return v === undefined ? undefined : String(v);
};
const isTrue = (v: string | undefined): boolean => v === 'true' || v === '1';

/** Bytes per unit of a rasd:AllocationUnits ("byte * 2^20", "MegaBytes", "GB"). */
function unitBytes(units: string | undefined): number {
  const u = (units ?? 'byte * 2^20').replace(/\s+/g, '');
  const pow = /^byte\*(\d+)\^(\d+)$/i.exec(u);
  if (pow) return Number(pow[1]) ** Number(pow[2]);
  const mul = /^byte\*(\d+)$/i.exec(u);
  if (mul) return Number(mul[1]);
  if (/^(byte|bytes)$/i.test(u)) return 1;
  if (/^(kilobytes?|kb)$/i.test(u)) return 2 ** 10;
  if (/^(megabytes?|mb)$/i.test(u)) return 2 ** 20;
  if (/^(gigabytes?|gb)$/i.test(u)) return 2 ** 30;
  throw new OvfError(`unknown allocation units ${JSON.stringify(units)}`);
}

/** The range of an OVF integer type (uint8 … sint64). */
function intRange(declared: string): { min?: number; max?: number } | undefined {
  const m = /^(u?)int(8|16|32|64)$|^sint(8|16|32|64)$/.exec(declared);
  if (!m) return undefined;
  const bits = Number(m[2] ?? m[3]);
  if (m[1] === 'u') return { min: 0, max: bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1 };
  return { min: bits >= 53 ? Number.MIN_SAFE_INTEGER : -(2 ** (bits - 1)), max: bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** (bits - 1) - 1 };
}

/** MinLen(n), MaxLen(n), ValueMap{"a","b"} (DSP0243 §9.5). */
function readQualifiers(q: string | undefined): Pick<ApplianceProperty, 'minLength' | 'maxLength' | 'choices'> {
  if (!q) return {};
  const out: Pick<ApplianceProperty, 'minLength' | 'maxLength' | 'choices'> = {};
  const min = /MinLen\s*\(\s*(\d+)\s*\)/.exec(q);
  if (min) out.minLength = Number(min[1]);
  const max = /MaxLen\s*\(\s*(\d+)\s*\)/.exec(q);
  if (max) out.maxLength = Number(max[1]);
  const map = /ValueMap\s*\{([^}]*)\}/.exec(q);
  if (map) out.choices = [...map[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((c) => c[1]!.replace(/\\(.)/g, '$1'));
  return out;
}

function readProperties(system: Node): ApplianceProperty[] {
  const out: ApplianceProperty[] = [];
  for (const section of list(system['ProductSection'])) {
    const cls = attr(section, 'class');
    const instance = attr(section, 'instance');
    const category = text(section['Category']);
    for (const p of list(section['Property'])) {
      const key = attr(p, 'key');
      if (!key) throw new OvfError('a ProductSection Property has no ovf:key');
      const declaredType = attr(p, 'type') ?? 'string';
      const qualifiers = attr(p, 'qualifiers');
      const range = intRange(declaredType);
      const type: ApplianceProperty['type'] = declaredType === 'boolean' ? 'boolean' : range ? 'int' : declaredType === 'real32' || declaredType === 'real64' ? 'real' : 'string';
      out.push({
        key: [cls, key, instance].filter((s): s is string => !!s).join('.'),
        type, declaredType,
        value: attr(p, 'value'),
        // VMware writes ovf:password="true"; its own "password" type means the same.
        password: isTrue(attr(p, 'password')) || declaredType === 'password',
        userConfigurable: isTrue(attr(p, 'userConfigurable')),
        qualifiers,
        label: text(p['Label']),
        description: text(p['Description']),
        category,
        index: out.length,
        ...readQualifiers(qualifiers),
        ...(range ? { min: range.min, max: range.max } : {}),
      });
    }
  }
  return out;
}

interface Hardware {
  cpu: Map<string, number>;
  memoryMiB: Map<string, number>;
  nics: { network: string; instanceId: string; name?: string; adapter?: string }[];
}

/** The items of the first VirtualHardwareSection, by configuration ('' = every configuration). */
function readHardware(system: Node): Hardware {
  const hw: Hardware = { cpu: new Map(), memoryMiB: new Map(), nics: [] };
  const section = list(system['VirtualHardwareSection'])[0];
  if (!section) throw new OvfError('the VirtualSystem has no VirtualHardwareSection');
  for (const item of list(section['Item'])) {
    const configurations = (attr(item, 'configuration') ?? '').split(/\s+/).filter(Boolean);
    const keys = configurations.length > 0 ? configurations : [''];
    const resourceType = Number(text(item['ResourceType']));
    const quantity = Number(text(item['VirtualQuantity']));
    if (resourceType === 3 && Number.isFinite(quantity)) for (const k of keys) hw.cpu.set(k, quantity);
    if (resourceType === 4 && Number.isFinite(quantity)) for (const k of keys) hw.memoryMiB.set(k, Math.round((quantity * unitBytes(text(item['AllocationUnits']))) / 2 ** 20));
    if (resourceType === 10) {
      const network = text(item['Connection']);
      if (network) hw.nics.push({ network, instanceId: text(item['InstanceID']) ?? String(hw.nics.length), name: text(item['ElementName']), adapter: text(item['ResourceSubType']) });
    }
  }
  return hw;
}

function readEulas(envelope: Node, system: Node): ApplianceEula[] {
  return [...list(envelope['EulaSection']), ...list(system['EulaSection'])].map((e, index) => ({ index, info: text(e['Info']), license: text(e['License']) ?? '' }));
}

/** The descriptor's content; throws OvfError naming what is missing or malformed. */
export function parseOvf(xml: string): ApplianceDescriptor {
  if (/<!DOCTYPE/i.test(xml)) throw new OvfError('the descriptor has a DOCTYPE; OVF descriptors have none');
  let doc: Node;
  try {
    doc = asNode(parser.parse(xml, true));
  } catch (e) {
    throw new OvfError(`the descriptor is not well-formed XML: ${(e as Error).message}`);
  }
  const envelope = asNode(doc['Envelope']);
  if (!doc['Envelope']) throw new OvfError('the descriptor has no ovf:Envelope');
  const systems = list(envelope['VirtualSystem']);
  if (systems.length !== 1) throw new OvfError(systems.length === 0 ? 'the descriptor has no VirtualSystem (a VirtualSystemCollection is not supported)' : 'the descriptor has more than one VirtualSystem');
  const system = systems[0]!;
  const hw = readHardware(system);
  const options: ApplianceOption[] = list(asNode(envelope['DeploymentOptionSection'])['Configuration']).map((c, index) => {
    const id = attr(c, 'id');
    if (!id) throw new OvfError('a DeploymentOptionSection Configuration has no ovf:id');
    return { id, label: text(c['Label']), description: text(c['Description']), default: isTrue(attr(c, 'default')), index, cpuNumber: hw.cpu.get(id) ?? hw.cpu.get(''), memoryMiB: hw.memoryMiB.get(id) ?? hw.memoryMiB.get('') };
  });
  if (options.length > 0 && !options.some((o) => o.default)) options[0]!.default = true;
  const networks: ApplianceNetwork[] = list(asNode(envelope['NetworkSection'])['Network']).map((n) => {
    const name = attr(n, 'name');
    if (!name) throw new OvfError('a NetworkSection Network has no ovf:name');
    return { name, description: text(n['Description']), nics: [] };
  });
  hw.nics.forEach((nic, index) => {
    const network = networks.find((n) => n.name === nic.network);
    if (!network) throw new OvfError(`NIC ${nic.name ?? index} connects to ${JSON.stringify(nic.network)}, which the NetworkSection does not declare`);
    network.nics.push({ index, instanceId: nic.instanceId, name: nic.name, adapter: nic.adapter });
  });
  const disks = list(asNode(envelope['DiskSection'])['Disk']);
  const diskBytes = disks.reduce((sum, d) => sum + Number(attr(d, 'capacity') ?? 0) * unitBytes(attr(d, 'capacityAllocationUnits') ?? 'byte'), 0);
  return { options, properties: readProperties(system), networks, eulas: readEulas(envelope, system), cpuNumber: hw.cpu.get(''), memoryMiB: hw.memoryMiB.get(''), diskBytes };
}

/** The files the descriptor references (References/File): href and id, for the upload. */
export function referencedFiles(xml: string): { id: string; href: string; size?: number }[] {
  const envelope = asNode(asNode(parser.parse(xml))['Envelope']);
  return list(asNode(envelope['References'])['File']).map((f) => ({ id: attr(f, 'id') ?? '', href: attr(f, 'href') ?? '', size: attr(f, 'size') !== undefined ? Number(attr(f, 'size')) : undefined }));
}
