/**
 * vim25 SOAP envelopes: requests built with fast-xml-parser's builder (which escapes every
 * text and attribute value, so user text cannot change the document's shape), responses parsed
 * and decoded into `VimValue`s. xsi:type is read from any `prefix:type` attribute, because vcsim
 * writes `XMLSchema-instance:type` where vCenter writes `xsi:type`.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { EXACT_XML_PARSING } from '../../common/exact-xml.js';
import { VimFault, SoapProtocolError } from './faults.js';
import { arrayItemType, fieldType } from './schema.js';
import { MoRef, Typed, type SoapValue, type VimObject, type VimValue } from './values.js';

const SOAPENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const XSD = 'http://www.w3.org/2001/XMLSchema';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  suppressEmptyNode: false,
  processEntities: true,
});

// Values stay strings, untrimmed (drivers/common/exact-xml.ts); the decoder types them from the
// schema. Go's encoding/xml (vcsim) writes quotes and control characters as &#34; &#xA; …
const parser = new XMLParser(EXACT_XML_PARSING);

/** Characters XML 1.0 cannot carry at all; refused rather than silently dropped. */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const ELEMENT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export class SoapEncodeError extends Error {
  override name = 'SoapEncodeError';
}

type XmlTree = Record<string, unknown>;

function text(value: string | number | bigint | boolean | Date, where: string): string {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new SoapEncodeError(`${where}: ${value} is not a number vim25 can carry`);
  const s = value instanceof Date ? value.toISOString() : String(value);
  if (NOT_XML.test(s)) throw new SoapEncodeError(`${where}: contains a control character XML cannot carry`);
  return s;
}

/** One element's content in the builder's tree form; undefined means "leave the element out". */
function encodeValue(value: SoapValue, where: string): unknown {
  if (value === undefined || value === null) return undefined;
  if (value instanceof MoRef) return { '@_type': text(value.type, where), '#text': text(value.value, where) };
  if (value instanceof Typed && Array.isArray(value.value)) {
    // An array in an anyType slot: ArrayOfString holds <string>s, ArrayOfVirtualDevice <VirtualDevice>s.
    if (!/^ArrayOf[A-Z]\w*$/.test(value.xsiType)) throw new SoapEncodeError(`${where}: an array needs an ArrayOf… xsi:type, not ${value.xsiType}`);
    const item = value.xsiType.slice('ArrayOf'.length);
    const element = ['String', 'Int', 'Long', 'Short', 'Byte', 'Boolean', 'Double', 'Float', 'DateTime', 'AnyType'].includes(item) ? item[0]!.toLowerCase() + item.slice(1) : item;
    return { '@_xsi:type': value.xsiType, [element]: value.value.map((v, i) => encodeValue(v, `${where}[${i}]`)).filter((x) => x !== undefined) };
  }
  if (value instanceof Typed) {
    const inner = encodeValue(value.value, where);
    const xsiType = value.value instanceof MoRef ? 'ManagedObjectReference' : value.xsiType;
    if (!ELEMENT_NAME.test(xsiType.replace(/^xsd:/, ''))) throw new SoapEncodeError(`${where}: bad xsi:type ${xsiType}`);
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) return { '@_xsi:type': xsiType, ...(inner as XmlTree) };
    return { '@_xsi:type': xsiType, '#text': inner ?? '' };
  }
  if (Array.isArray(value)) throw new SoapEncodeError(`${where}: nested arrays have no vim25 form`);
  if (value instanceof Date || typeof value !== 'object') return text(value, where);
  const out: XmlTree = {};
  for (const [field, v] of Object.entries(value)) {
    if (!ELEMENT_NAME.test(field)) throw new SoapEncodeError(`${where}: bad field name ${JSON.stringify(field)}`);
    const encoded = Array.isArray(v) ? v.map((item, i) => encodeValue(item, `${where}.${field}[${i}]`)).filter((x) => x !== undefined) : encodeValue(v, `${where}.${field}`);
    if (encoded !== undefined) out[field] = encoded;
  }
  return out;
}

/** The request for `method` on `self`; args in the method's parameter order. */
export function encodeRequest(method: string, self: MoRef, args: Record<string, SoapValue> = {}): string {
  if (!ELEMENT_NAME.test(method)) throw new SoapEncodeError(`bad method name ${method}`);
  const body = encodeValue({ _this: self, ...args }, method) as XmlTree;
  const tree = {
    'soapenv:Envelope': {
      '@_xmlns:soapenv': SOAPENV,
      '@_xmlns:xsd': XSD,
      '@_xmlns:xsi': XSI,
      'soapenv:Body': { [method]: { '@_xmlns': 'urn:vim25', ...body } },
    },
  };
  return `<?xml version="1.0" encoding="UTF-8"?>${builder.build(tree) as string}`;
}

const localName = (name: string): string => name.slice(name.indexOf(':') + 1);
const isAttr = (key: string): boolean => key.startsWith('@_');

/** The xsi:type of a parsed element, whatever prefix the server bound the namespace to. */
function xsiTypeOf(node: XmlTree): string | undefined {
  for (const key of Object.keys(node)) {
    if (isAttr(key) && key.includes(':') && localName(key) === 'type' && !key.startsWith('@_xmlns')) return localName(String(node[key]));
  }
  return undefined;
}

function childKeys(node: XmlTree): string[] {
  return Object.keys(node).filter((k) => !isAttr(k) && k !== '#text');
}

function scalar(raw: string, type: string | undefined): VimValue {
  switch (type) {
    case 'int': case 'long': case 'short': case 'byte': case 'double': case 'float': {
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      return raw === 'true' || raw === '1';
    default:
      return raw;
  }
}

/** Decodes one parsed element; `declared` is its type from the schema when the server wrote none. */
export function decodeNode(node: unknown, declared?: string): VimValue {
  const declaredLocal = declared ? localName(declared) : undefined;
  if (typeof node !== 'object' || node === null) return scalar(node === undefined || node === null ? '' : String(node), declaredLocal);
  const el = node as XmlTree;
  const xsiType = xsiTypeOf(el);
  const type = xsiType ?? declaredLocal;
  const children = childKeys(el);
  const textValue = el['#text'] === undefined ? '' : String(el['#text']);
  const refType = el['@_type'];
  if (type === 'ManagedObjectReference' || (refType !== undefined && children.length === 0)) return new MoRef(String(refType ?? ''), textValue);
  const itemType = type ? arrayItemType(type) : undefined;
  if (itemType) {
    const items: VimValue[] = [];
    for (const key of children) for (const item of ([] as unknown[]).concat(el[key])) items.push(decodeNode(item, itemType));
    return items;
  }
  if (children.length === 0 && (type === undefined || type.startsWith('xsd:') || !/^[A-Z]/.test(type) || el['#text'] !== undefined)) {
    // A scalar or an enumeration value (VirtualMachinePowerState "poweredOn").
    return scalar(textValue, type);
  }
  const out: VimObject = {};
  if (xsiType) out.$type = xsiType;
  for (const key of children) {
    const name = localName(key);
    const { type: ft, repeated } = fieldType(type, name);
    const raw = el[key];
    if (Array.isArray(raw)) out[name] = raw.map((item) => decodeNode(item, ft));
    else out[name] = repeated ? [decodeNode(raw, ft)] : decodeNode(raw, ft);
  }
  return out;
}

export interface DecodedResponse {
  /** `returnval`, decoded; undefined for void methods; an array when it repeated. */
  returnval: VimValue | undefined;
}

function child(node: unknown, local: string): unknown {
  if (typeof node !== 'object' || node === null) return undefined;
  const key = Object.keys(node).find((k) => !isAttr(k) && localName(k) === local);
  return key === undefined ? undefined : (node as XmlTree)[key];
}

/** The fault a SOAP Fault element carries, mapped by its type (detail's xsi:type, else its element name). */
export function decodeFault(fault: unknown, method: string): VimFault {
  const message = String(child(fault, 'faultstring') ?? '');
  const detail = child(fault, 'detail');
  const key = detail && typeof detail === 'object' ? childKeys(detail as XmlTree)[0] : undefined;
  if (!key) return new VimFault('SystemError', message || 'SOAP fault without detail', {}, method);
  const decoded = decodeNode((detail as XmlTree)[key]);
  const obj: VimObject = typeof decoded === 'object' && !Array.isArray(decoded) && !(decoded instanceof MoRef) ? decoded : {};
  const type = obj.$type ?? localName(key).replace(/Fault$/, '');
  return new VimFault(type, message, obj, method);
}

/** Parses a response body: the decoded returnval, or throws the VimFault it carries. */
export function decodeResponse(xml: string, method: string, returnType?: string): DecodedResponse {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (e) {
    throw new SoapProtocolError(`${method}: the response is not XML (${(e as Error).message})`);
  }
  const body = child(child(doc, 'Envelope'), 'Body');
  if (body === undefined) throw new SoapProtocolError(`${method}: the response has no SOAP Body`);
  const fault = child(body, 'Fault');
  if (fault !== undefined) throw decodeFault(fault, method);
  const response = child(body, `${method}Response`);
  if (response === undefined) throw new SoapProtocolError(`${method}: the response has no ${method}Response`);
  const raw = child(response, 'returnval');
  if (raw === undefined) return { returnval: undefined };
  return { returnval: Array.isArray(raw) ? raw.map((r) => decodeNode(r, returnType)) : decodeNode(raw, returnType) };
}
