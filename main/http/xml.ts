/**
 * CloudStack's XML response form: the envelope element, one child per field, arrays as
 * repeated elements, objects nested. Built with fast-xml-parser's builder, which escapes every
 * text and attribute value. Two things it does not do are done here, so that any response,
 * whatever a user put in a name, a detail key or a command name, stays well-formed:
 *
 * - Element names. A field name that is not an XML name (a detail key like `a><b`, `1st`,
 *   `x:y`, or one with a space) is encoded as XmlConvert.EncodeName does: each character that
 *   may not stand where it is becomes `_xHHHH_` (its code point in hex), and a literal `_x`
 *   that would read as such an escape has its `_` encoded. Valid names pass unchanged, so
 *   CloudStack clients see the same elements as before; invalid ones can never open or close
 *   another element.
 * - Characters XML 1.0 cannot carry at all (NUL and other C0 controls, lone surrogates,
 *   U+FFFE/U+FFFF) are removed from values; in names they are encoded like any other.
 */
import { XMLBuilder } from 'fast-xml-parser';

/** XML 1.0 NameStartChar, without ':' (a colon would make a namespace prefix). */
const NAME_START = /[A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}]/u;
/** XML 1.0 NameChar, without ':'. Combining marks (U+0300–U+036F) are name characters there. */
// eslint-disable-next-line no-misleading-character-class -- the range is the XML spec's, tested one code point at a time
const NAME_CHAR = /[-.0-9\u00B7\u0300-\u036F\u203F-\u2040A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}]/u;
/** Everything outside XML 1.0's Char production. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const ESCAPE_LOOKALIKE = /^_x[0-9A-Fa-f]{4,8}_/;

function hex(codePoint: number): string {
  const digits = codePoint.toString(16).toUpperCase();
  return digits.padStart(codePoint > 0xffff ? 8 : 4, '0');
}

/** An XML element name for any string (see the module comment for the rule). */
export function xmlName(name: string): string {
  if (name === '') return '_';
  let out = '';
  let offset = 0;
  for (const char of name) {
    const allowed = offset === 0 ? NAME_START.test(char) : NAME_CHAR.test(char);
    const lookalike = char === '_' && ESCAPE_LOOKALIKE.test(name.slice(offset));
    out += allowed && !lookalike ? char : `_x${hex(char.codePointAt(0)!)}_`;
    offset += char.length;
  }
  return out;
}

/** A text value with the characters XML 1.0 cannot carry removed. */
export function xmlText(text: string): string {
  return text.replace(NOT_XML_CHAR, '');
}

type XmlTree = string | XmlTree[] | { [name: string]: XmlTree };

/** Encodes names, strips characters, drops null/undefined, stringifies scalars. */
function toTree(value: unknown): XmlTree | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    // Nested arrays have no element of their own in CloudStack's form; flatten them.
    return value.flat(Infinity).map(toTree).filter((item): item is XmlTree => item !== undefined);
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    const out: { [name: string]: XmlTree } = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const tree = toTree(inner);
      if (tree === undefined) continue;
      const name = xmlName(key);
      // Two keys that encode alike (never two valid names) keep both values, as repeated elements.
      const existing = out[name];
      out[name] = existing === undefined ? tree : ([] as XmlTree[]).concat(existing, tree);
    }
    return out;
  }
  return xmlText(String(value));
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  processEntities: true,
  suppressEmptyNode: false,
  format: false,
});

export function toXml(responseName: string, body: Record<string, unknown>, version: string): string {
  const root = xmlName(responseName);
  const inner = (toTree(body) ?? {}) as { [name: string]: XmlTree };
  const xml = builder.build({ [root]: { '@_cloud-stack-version': xmlText(version), ...inner } }) as string;
  return `<?xml version="1.0" encoding="UTF-8"?>${xml}`;
}
