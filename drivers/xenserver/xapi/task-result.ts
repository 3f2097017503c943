/**
 * A task's `result` is an XML-RPC value fragment on every transport (xapi's taskHelper.ml stores
 * Xmlrpc.to_string of the value): "<value>OpaqueRef:…</value>" for Async.VM.clone, "" for a void
 * call. Parsed with fast-xml-parser (entities decoded by it), then read as XML-RPC's types.
 */
import { XMLParser } from 'fast-xml-parser';

export type XmlRpcValue = string | number | boolean | XmlRpcValue[] | { [key: string]: XmlRpcValue };

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (name) => name === 'value' || name === 'member',
});

function decodeValue(node: unknown): XmlRpcValue {
  // <value>text</value> (xapi's bare strings) or <value><type>…</type></value>.
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  if (node === null || node === undefined || node === '') return '';
  const o = node as Record<string, unknown>;
  if ('string' in o) return o['string'] === undefined || o['string'] === '' ? '' : String(o['string']);
  for (const t of ['int', 'i4', 'i8']) if (t in o) return Number(o[t]);
  if ('double' in o) return Number(o['double']);
  if ('boolean' in o) return String(o['boolean']).trim() === '1';
  if ('dateTime.iso8601' in o) return String(o['dateTime.iso8601']);
  if ('array' in o) {
    const array = o['array'] as { data?: { value?: unknown[] } | '' } | '';
    const data = typeof array === 'object' ? array.data : undefined;
    return (typeof data === 'object' ? (data.value ?? []) : []).map(decodeValue);
  }
  if ('struct' in o) {
    const s = o['struct'] as { member?: { name: unknown; value?: unknown[] }[] } | '';
    const out: Record<string, XmlRpcValue> = {};
    for (const m of typeof s === 'object' ? (s.member ?? []) : []) out[String(m.name)] = decodeValue(m.value?.[0]);
    return out;
  }
  if ('#text' in o) return String(o['#text']);
  throw new Error(`an XML-RPC value of an unknown type: ${JSON.stringify(node).slice(0, 120)}`);
}

/** The decoded value of a task result; "" (a void call) stays "". */
export function decodeTaskResult(result: string): XmlRpcValue {
  const text = result.trim();
  if (text === '') return '';
  const doc = parser.parse(text) as { value?: unknown[] };
  if (!doc.value || doc.value.length !== 1) throw new Error(`a task result that is not one XML-RPC <value>: ${text.slice(0, 120)}`);
  return decodeValue(doc.value[0]);
}
