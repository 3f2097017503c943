/**
 * Turns raw request parameters (all strings) into checked, typed values following CloudStack's
 * rules: names are case-insensitive, lists are comma-separated, maps use `name[i].key=value`,
 * and every failure is a 431 that names the parameter.
 */
import { ApiError } from './errors.js';
import type { Caller, ParamDef } from './types.js';
import { followsRule, ruleMessage } from './param-rules.js';
import { unableToExecute } from './command-scope.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_MAX_LENGTH = 255;
const MAP_KEY_RE = /^([a-z0-9_]+)\[(\d+)\]\.(.+)$/i;
/**
 * C0 control characters and DEL, which CloudStack's ApiServer refuses in every value: they mean
 * nothing in a name or a key and break logs, XML and shells. Text meant to span lines keeps tab,
 * line feed and carriage return (TEXT_CONTROL_RE); names, ids and keys keep none.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TEXT_CONTROL_RE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
/**
 * Parameters whose text may span lines: free text, base64 user data, a PEM private key, a setting,
 * and a public key pasted from a .pub file with its final newline (its own rule keeps it one line).
 */
const MULTI_LINE_PARAMS = new Set(['description', 'displaytext', 'userdata', 'privatekey', 'publickey', 'value', 'csv']);
/**
 * A map parameter's sub-key (details[0].<key>) names a setting: letters, digits and _ . : -, which
 * every detail key Kiln and CloudStack define (kernelArgs, cpuOvercommitRatio, rootdisksize, …) uses.
 */
const MAP_SUBKEY_RE = /^[A-Za-z0-9_.:-]+$/;

export type MapEntry = Record<string, string>;
export type ParamValue = string | number | boolean | string[] | MapEntry[];

/** Parameters every command accepts and the registry consumes itself. */
export const TRANSPORT_PARAMS = new Set([
  'command', 'response', 'apikey', 'signature', 'signatureversion', 'expires', 'sessionkey', '_', 'ctxaccountid', 'ctxuserid', 'ctxdetails', 'ctxstartid', 'uuid',
]);

/** Groups raw parameters: plain ones by lower-cased name, map ones into ordered entry lists. */
export function groupRaw(raw: Record<string, string>): { plain: Map<string, string>; maps: Map<string, MapEntry[]> } {
  const plain = new Map<string, string>();
  const indexed = new Map<string, Map<number, MapEntry>>();
  for (const [key, value] of Object.entries(raw)) {
    const match = MAP_KEY_RE.exec(key);
    if (match) {
      const [, base = '', index = '0', sub = ''] = match;
      const name = base.toLowerCase();
      let entries = indexed.get(name);
      if (!entries) indexed.set(name, (entries = new Map()));
      let entry = entries.get(Number(index));
      if (!entry) entries.set(Number(index), (entry = {}));
      entry[sub] = value;
    } else {
      plain.set(key.toLowerCase(), value);
    }
  }
  const maps = new Map<string, MapEntry[]>();
  for (const [name, entries] of indexed) {
    maps.set(name, [...entries.entries()].sort((a, b) => a[0] - b[0]).map(([, entry]) => entry));
  }
  return { plain, maps };
}

export function parseParams(command: string, defs: ParamDef[], raw: Record<string, string>, caller: Caller): Args {
  const { plain, maps } = groupRaw(raw);
  const values = new Map<string, ParamValue>();
  const cmd = command.toLowerCase();
  for (const def of defs) {
    const name = def.name.toLowerCase();
    if (def.type === 'map') {
      const entries = maps.get(name);
      if (entries && entries.length > 0) {
        entries.forEach((entry, i) => {
          for (const [key, value] of Object.entries(entry)) {
            checkMapEntry(cmd, def.name, i, key, value);
            checkLength(cmd, `${def.name}[].${key}`, value, def.maxLength ?? DEFAULT_MAX_LENGTH);
          }
        });
        values.set(name, entries);
      } else if (def.required) {
        throw missing(cmd, def.name);
      }
      continue;
    }
    const value = plain.get(name);
    if (value === undefined || value === '') {
      if (def.required) throw missing(cmd, def.name);
      // An empty string or list given on purpose clears the field (group=, hosttags=); empty values
      // of other types mean "not given", as CloudStack reads them.
      if (value === '' && def.type === 'string') values.set(name, '');
      if (value === '' && def.type === 'list') values.set(name, []);
      continue;
    }
    if (def.roles && !def.roles.includes(caller.role)) {
      throw ApiError.denied(`parameter ${def.name} is for ${def.roles.join(' or ')} accounts only`);
    }
    checkLength(cmd, def.name, value, def.maxLength ?? (def.type === 'list' ? 4096 : DEFAULT_MAX_LENGTH));
    checkCharacters(cmd, def.name, value, MULTI_LINE_PARAMS.has(name));
    if (def.rule && !followsRule(def.rule, value)) throw ApiError.param(ruleMessage(def.name, value, def.rule));
    values.set(name, convert(cmd, def, value));
  }
  return new Args(values);
}

function missing(cmd: string, name: string): ApiError {
  return ApiError.param(`${unableToExecute(cmd)} due to missing parameter ${name}`);
}

function invalid(cmd: string, name: string, value: string, why: string): ApiError {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return ApiError.param(`${unableToExecute(cmd)} due to invalid value. Invalid parameter ${name} value=${shown}: ${why}`);
}

function checkLength(cmd: string, name: string, value: string, max: number): void {
  if (value.length > max) {
    throw ApiError.param(`${unableToExecute(cmd)} due to invalid value. Parameter ${name} is ${value.length} characters long; the limit is ${max}`);
  }
}

/** Refuses control characters (text that may span lines keeps tab and line breaks), naming the parameter. */
function checkCharacters(cmd: string, name: string, value: string, multiLine: boolean): void {
  const bad = (multiLine ? TEXT_CONTROL_RE : CONTROL_RE).exec(value);
  if (bad) {
    const allowed = multiLine ? 'only tab and line breaks are allowed here' : 'this parameter takes no control characters, tabs or line breaks';
    throw invalid(cmd, name, visible(value), `contains the control character ${codePoint(bad[0])}; ${allowed}`);
  }
}

/**
 * A map entry's sub-key names a setting (an identifier), and so does the value of a `key` entry
 * (details[0].key=K&details[0].value=V, CloudStack's other spelling of the same detail); other
 * values are text. Tag keys (tags[0].key) are free labels, as in CloudStack, and keep only the
 * control-character rule.
 */
function checkMapEntry(cmd: string, param: string, index: number, key: string, value: string): void {
  const keyEntry = key.toLowerCase() === 'key' && param !== 'tags';
  const notAName = (where: string) => ApiError.param(`${unableToExecute(cmd)} due to invalid value. Invalid parameter ${where}: a key is letters, digits and _ . : - only`);
  if (!MAP_SUBKEY_RE.test(key)) throw notAName(`${param}[${index}].${visible(key)}`);
  checkCharacters(cmd, `${param}[${index}].${key}`, value, key.toLowerCase() !== 'key');
  if (keyEntry && !MAP_SUBKEY_RE.test(value)) throw notAName(`${param}[${index}].key value=${visible(value)}`);
}

/** The value as the refusal shows it: control characters written as \uXXXX, so the text itself stays clean. */
function visible(value: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return value.replace(/[\x00-\x1f\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function codePoint(c: string): string {
  return `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

function convert(cmd: string, def: ParamDef, value: string): ParamValue {
  switch (def.type) {
    case 'uuid':
      if (!UUID_RE.test(value)) throw invalid(cmd, def.name, value, 'not a UUID');
      return value.toLowerCase();
    case 'integer':
    case 'long': {
      if (!/^-?\d+$/.test(value)) throw invalid(cmd, def.name, value, 'not an integer');
      const n = Number(value);
      if (!Number.isSafeInteger(n) || (def.type === 'integer' && (n > 2147483647 || n < -2147483648))) {
        throw invalid(cmd, def.name, value, 'out of range');
      }
      return n;
    }
    case 'boolean': {
      const v = value.toLowerCase();
      if (v !== 'true' && v !== 'false') throw invalid(cmd, def.name, value, 'not true or false');
      return v === 'true';
    }
    case 'list': {
      const items = value.split(',').map((s) => s.trim()).filter(Boolean);
      if (def.of === 'uuid') {
        for (const item of items) if (!UUID_RE.test(item)) throw invalid(cmd, def.name, item, 'not a UUID');
        return items.map((item) => item.toLowerCase());
      }
      return items;
    }
    case 'date':
      if (Number.isNaN(Date.parse(value))) throw invalid(cmd, def.name, value, 'not a date');
      return value;
    default:
      return value;
  }
}

/** Checked parameter values, read by name with the type the declaration promised. */
export class Args {
  constructor(private readonly values: Map<string, ParamValue>) {}

  has(name: string): boolean {
    return this.values.has(name.toLowerCase());
  }
  str(name: string): string | undefined {
    return this.values.get(name.toLowerCase()) as string | undefined;
  }
  uuid(name: string): string | undefined {
    return this.str(name);
  }
  int(name: string): number | undefined {
    return this.values.get(name.toLowerCase()) as number | undefined;
  }
  bool(name: string): boolean | undefined {
    return this.values.get(name.toLowerCase()) as boolean | undefined;
  }
  list(name: string): string[] | undefined {
    return this.values.get(name.toLowerCase()) as string[] | undefined;
  }
  map(name: string): MapEntry[] | undefined {
    return this.values.get(name.toLowerCase()) as MapEntry[] | undefined;
  }
  /** A map parameter flattened to key→value (details[0].a=1&details[0].b=2, or details[i].key/value pairs). */
  details(name: string): Record<string, string> | undefined {
    const entries = this.map(name);
    if (!entries) return undefined;
    const out: Record<string, string> = {};
    for (const entry of entries) {
      const keys = Object.keys(entry);
      if (keys.length === 2 && 'key' in entry && 'value' in entry) out[entry['key'] ?? ''] = entry['value'] ?? '';
      else Object.assign(out, entry);
    }
    return out;
  }
  /** The parameters as a plain object, for the job record. */
  toJSON(): Record<string, ParamValue> {
    return Object.fromEntries(this.values);
  }
}
