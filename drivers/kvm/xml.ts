/**
 * fast-xml-parser set up for libvirt XML, plus small accessors for the loosely typed tree it
 * returns. All XML the driver writes goes through `buildXml`, which escapes text and attribute
 * values, so user text (display names, descriptions, paths) cannot change the document's shape.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { EXACT_XML_PARSING } from '../common/exact-xml.js';

/** Elements that may repeat, always parsed as arrays so one and many look the same. */
const REPEATED = new Set(['disk', 'interface', 'graphics', 'serial', 'console', 'boot', 'device', 'domainsnapshot', 'cell', 'network', 'hostdev', 'controller', 'video', 'volume', 'pool', 'guest']);

// Descriptions and display names must survive a round trip exactly (drivers/common/exact-xml.ts);
// libxml2 writes control characters and some others as numeric references (&#10;).
const parser = new XMLParser({
  ...EXACT_XML_PARSING,
  // Never the document's root element, so <network>…</network> still parses as one object.
  isArray: (name, jpath) => REPEATED.has(name) && String(jpath).includes('.'),
});

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  format: true,
  suppressEmptyNode: true,
  // Escaping is done here rather than by the library, to also write line breaks and tabs as
  // character references: a parser would turn a literal CR into LF in text, and any of them
  // into a space in an attribute.
  processEntities: false,
  tagValueProcessor: (_name: string, value: unknown) => escapeXml(value),
  attributeValueProcessor: (_name: string, value: unknown) => escapeXml(value),
});

export type XmlNode = Record<string, unknown>;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;', '\r': '&#13;', '\n': '&#10;', '\t': '&#9;' };

export function escapeXml(value: unknown): string {
  return String(value).replace(/[&<>'"\r\n\t]/g, (ch) => ESCAPES[ch] ?? ch);
}

export function parseXml(xml: string): XmlNode {
  return parser.parse(xml) as XmlNode;
}

export function buildXml(tree: XmlNode): string {
  return builder.build(tree) as string;
}

/** XML 1.0 cannot carry most C0 control characters at all; drop them from user text. */
export function xmlSafeText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
}

/** The child element NAME as an object (elements with only text become { '#text': … }). */
export function child(node: unknown, name: string): XmlNode | undefined {
  if (!isObject(node)) return undefined;
  const value = node[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined || first === null) return undefined;
  if (isObject(first)) return first;
  return { '#text': String(first) };
}

/** Every NAME child as objects. */
export function children(node: unknown, name: string): XmlNode[] {
  if (!isObject(node)) return [];
  const value = node[name];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map((item) => (isObject(item) ? item : { '#text': String(item ?? '') }));
}

/** Text content of NODE, or of its child NAME. */
export function text(node: unknown, name?: string): string | undefined {
  const target = name === undefined ? node : isObject(node) ? (Array.isArray(node[name]) ? (node[name] as unknown[])[0] : node[name]) : undefined;
  if (target === undefined || target === null) return undefined;
  if (typeof target === 'string') return target;
  if (typeof target === 'number' || typeof target === 'boolean') return String(target);
  if (isObject(target)) {
    const value = target['#text'];
    return value === undefined ? '' : String(value);
  }
  return undefined;
}

export function attr(node: unknown, name: string): string | undefined {
  if (!isObject(node)) return undefined;
  const value = node[`@_${name}`];
  return value === undefined ? undefined : String(value);
}

/** A number from text or attribute; undefined when absent or not numeric. */
export function num(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const parsed = Number(trimmed);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/** libvirt sizes carry a unit attribute; converts to bytes. */
export function bytesOf(node: unknown, defaultUnit = 'bytes'): number | undefined {
  const value = num(text(node));
  if (value === undefined) return undefined;
  return value * unitFactor(attr(node, 'unit') ?? defaultUnit);
}

export function unitFactor(unit: string): number {
  const u = unit.toLowerCase();
  if (u === 'b' || u === 'bytes') return 1;
  if (u === 'kb') return 1e3;
  if (u === 'k' || u === 'kib') return 1024;
  if (u === 'mb') return 1e6;
  if (u === 'm' || u === 'mib') return 1024 ** 2;
  if (u === 'gb') return 1e9;
  if (u === 'g' || u === 'gib') return 1024 ** 3;
  if (u === 'tb') return 1e12;
  if (u === 't' || u === 'tib') return 1024 ** 4;
  return 1;
}

function isObject(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
