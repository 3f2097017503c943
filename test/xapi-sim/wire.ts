/**
 * xapi's wire values (xenapi.md §1.2, §1.3, §6.1): the error value every API failure is, the two
 * value kinds a plain JS value cannot tell apart on XML-RPC (datetime, float), and the XML-RPC
 * codec. JSON-RPC needs no codec beyond JSON.stringify (XDate and XFloat serialise themselves).
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

/** An API error: `[CODE, param…]`, every param a string (xenapi.md §1.5). */
export class XapiFailure extends Error {
  readonly params: string[];
  constructor(
    readonly code: string,
    params: ReadonlyArray<string | number | boolean> = [],
  ) {
    super(`${code}(${params.join(', ')})`);
    this.params = params.map(String);
  }
  get description(): string[] {
    return [this.code, ...this.params];
  }
}

/** xapi's datetime: `YYYYMMDDTHH:MM:SSZ` on JSON-RPC, `<dateTime.iso8601>` on XML-RPC. */
export class XDate {
  readonly text: string;
  constructor(at: Date | string) {
    this.text = typeof at === 'string' ? at : formatDate(at);
  }
  toJSON(): string {
    return this.text;
  }
  static readonly EPOCH = new XDate('19700101T00:00:00Z');
}

export function formatDate(d: Date): string {
  const iso = d.toISOString(); // 2025-03-19T04:16:24.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 19)}Z`;
}

/** A float field (task.progress): a JSON number, but `<double>` rather than an int string on XML-RPC. */
export class XFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

export const NULL_REF = 'OpaqueRef:NULL';

// ---- XML-RPC ---------------------------------------------------------------------------------

type Node = Record<string, unknown>;
const parser = new XMLParser({ preserveOrder: true, parseTagValue: false, trimValues: false, ignoreAttributes: true, processEntities: true });

function tagOf(n: Node): string | undefined {
  return Object.keys(n).find((k) => k !== ':@');
}
function children(n: Node, tag: string): Node[] {
  const c = n[tag];
  return Array.isArray(c) ? (c as Node[]) : [];
}
function elements(list: Node[]): Node[] {
  return list.filter((c) => tagOf(c) !== '#text');
}
function textOf(list: Node[]): string {
  return list.map((c) => (tagOf(c) === '#text' ? String(c['#text']) : '')).join('');
}

export class XmlRpcMalformed extends Error {}

function decodeValue(value: Node): unknown {
  const body = children(value, 'value');
  const els = elements(body);
  if (els.length === 0) return textOf(body); // a bare <value>text</value> is a string
  const el = els[0]!;
  const tag = tagOf(el)!;
  const inner = children(el, tag);
  switch (tag) {
    case 'string':
      return textOf(inner);
    case 'int':
    case 'i4':
    case 'i8': {
      const t = textOf(inner).trim();
      if (!/^[-+]?\d+$/.test(t)) throw new XmlRpcMalformed(`bad <${tag}> ${t}`);
      return Number(t);
    }
    case 'boolean':
      return textOf(inner).trim() === '1' || textOf(inner).trim() === 'true';
    case 'double':
      return Number(textOf(inner).trim());
    case 'dateTime.iso8601':
      return new XDate(textOf(inner).trim());
    case 'array': {
      const data = elements(inner).find((n) => tagOf(n) === 'data');
      return data ? elements(children(data, 'data')).map(decodeValue) : [];
    }
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const m of elements(inner)) {
        const parts = children(m, 'member');
        const name = parts.find((p) => tagOf(p) === 'name');
        const val = parts.find((p) => tagOf(p) === 'value');
        if (!name || !val) throw new XmlRpcMalformed('struct member without name or value');
        out[textOf(children(name, 'name'))] = decodeValue(val);
      }
      return out;
    }
    case 'nil':
      return null;
    default:
      throw new XmlRpcMalformed(`unknown XML-RPC type <${tag}>`);
  }
}

export function decodeMethodCall(xml: string): { method: string; params: unknown[] } {
  let doc: Node[];
  try {
    doc = parser.parse(xml) as Node[];
  } catch (e) {
    throw new XmlRpcMalformed(String(e));
  }
  const call = doc.find((n) => tagOf(n) === 'methodCall');
  if (!call) throw new XmlRpcMalformed('no <methodCall>');
  const parts = children(call, 'methodCall');
  const name = parts.find((n) => tagOf(n) === 'methodName');
  if (!name) throw new XmlRpcMalformed('no <methodName>');
  const paramsNode = parts.find((n) => tagOf(n) === 'params');
  const params = paramsNode
    ? elements(children(paramsNode, 'params')).map((p) => {
        const v = elements(children(p, 'param')).find((n) => tagOf(n) === 'value');
        if (!v) throw new XmlRpcMalformed('<param> without <value>');
        return decodeValue(v);
      })
    : [];
  return { method: textOf(children(name, 'methodName')).trim(), params };
}

/** A value as fast-xml-parser's builder takes it (preserveOrder form); ints go out as strings (§1.2). */
function valueNode(v: unknown): Node {
  const text = (t: string): Node[] => [{ '#text': t }];
  if (v instanceof XDate) return { value: [{ 'dateTime.iso8601': text(v.text) }] };
  if (v instanceof XFloat) return { value: [{ double: text(String(v.value)) }] };
  if (typeof v === 'string') return { value: text(v) };
  if (typeof v === 'boolean') return { value: [{ boolean: text(v ? '1' : '0') }] };
  if (typeof v === 'number') return { value: text(Number.isInteger(v) ? String(v) : String(v)) };
  if (v === null || v === undefined) return { value: text('') };
  if (Array.isArray(v)) return { value: [{ array: [{ data: v.map(valueNode) }] }] };
  if (typeof v === 'object') {
    const members = Object.entries(v as Record<string, unknown>).map(([k, val]) => ({ member: [{ name: text(k) }, valueNode(val)] }));
    return { value: [{ struct: members }] };
  }
  return { value: text(String(v)) };
}

const builder = new XMLBuilder({ preserveOrder: true, ignoreAttributes: true, suppressEmptyNode: false, processEntities: true });

export function encodeMethodResponse(payload: unknown): string {
  const doc = [{ methodResponse: [{ params: [{ param: [valueNode(payload)] }] }] }];
  return `<?xml version="1.0"?>${builder.build(doc) as string}`;
}

export function xmlRpcSuccess(value: unknown): string {
  return encodeMethodResponse({ Status: 'Success', Value: value });
}
export function xmlRpcFailure(f: XapiFailure): string {
  return encodeMethodResponse({ Status: 'Failure', ErrorDescription: f.description });
}

/** task.result's encoding (§1.6): "" for void, else one XML-RPC <value> fragment. */
export function taskResultOf(value: unknown): string {
  if (value === '' || value === undefined || value === null) return '';
  return (builder.build([valueNode(value)]) as string).trim();
}

/** Decodes one `<value>…</value>` fragment (a task result, or a test reading XML-RPC replies). */
export function decodeResponseValue(fragment: string): unknown {
  const doc = parser.parse(fragment) as Node[];
  const v = doc.find((n) => tagOf(n) === 'value');
  if (!v) throw new XmlRpcMalformed('no <value>');
  return decodeValue(v);
}
