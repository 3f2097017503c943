/**
 * The method table: every `Class.method` the simulator answers, with its parameters (after the
 * session) so arity and types are checked as xapi's generated server does (§6.1 item 5), and
 * the generic object API every modelled class gets (§6.3).
 */
import { CLASSES, enumValues, fieldsOf, type FieldSpec } from './schema.js';
import { copyRecord, type Store } from './store.js';
import { XapiFailure, XFloat, XDate } from './wire.js';

export type ParamType = 'ref' | 'string' | 'int' | 'float' | 'bool' | 'map' | 'set' | 'record' | 'datetime';

export interface Param {
  name: string;
  type: ParamType;
  /** A datamodel default: the parameter may be omitted (versioned parameters). */
  default?: unknown;
  hasDefault: boolean;
}

export interface Ctx {
  /** The session the call runs in (undefined for the few session-less methods). */
  session?: string;
  /** The host whose address the call came in on. */
  host: string;
  /** The task of an Async call. */
  task?: string;
  /**
   * The operation's duration, awaited by long operations between their checks and their
   * effects: for an Async call the task's delay (progress moves meanwhile) and the point where
   * a cancel raises TASK_CANCELLED; for a sync call it returns at once.
   */
  work(): Promise<void>;
}

export interface Method {
  name: string;
  params: Param[];
  session: boolean;
  /** Has an `Async.` twin (every explicit message; not field getters/setters, session.* or task.*). */
  async: boolean;
  /** The vm_operations value this call holds in VM.current_operations while it runs (§6.5). */
  vmOp?: string;
  run(ctx: Ctx, args: unknown[]): unknown;
}

/** `'vm:ref force:bool ignore_vdis:set=[]'` → params; a default is JSON. */
function parseParams(spec: string): Param[] {
  return spec
    .split(/\s+/)
    .filter(Boolean)
    .map((tok) => {
      const m = /^(\w+):(\w+)(?:=(.*))?$/.exec(tok);
      if (!m) throw new Error(`bad param spec ${tok}`);
      return { name: m[1]!, type: m[2] as ParamType, hasDefault: m[3] !== undefined, default: m[3] !== undefined ? JSON.parse(m[3]) : undefined };
    });
}

export class Api {
  readonly methods = new Map<string, Method>();

  def(name: string, params: string, run: (ctx: Ctx, args: unknown[]) => unknown, opts: { session?: boolean; async?: boolean; vmOp?: string } = {}): void {
    const cls = name.split('.')[0]!;
    this.methods.set(name, {
      name,
      params: parseParams(params),
      session: opts.session ?? true,
      async: opts.async ?? !['session', 'task', 'system', 'event'].includes(cls),
      vmOp: opts.vmOp,
      run,
    });
  }
}

// ---- parameter checking -------------------------------------------------------------------------

function typeError(p: string): XapiFailure {
  return new XapiFailure('FIELD_TYPE_ERROR', [p]);
}

/** Coerces one wire value to its declared type. XML-RPC sends ints as strings, so digits are accepted (§6.1). */
export function coerce(type: ParamType, value: unknown, name: string): unknown {
  switch (type) {
    case 'ref':
    case 'string':
      if (typeof value !== 'string') throw typeError(name);
      return value;
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
      throw typeError(name);
    case 'float':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
      throw typeError(name);
    case 'bool':
      if (typeof value === 'boolean') return value;
      throw typeError(name);
    case 'map':
    case 'record':
      if (value && typeof value === 'object' && !Array.isArray(value)) return value;
      throw typeError(name);
    case 'set':
      if (Array.isArray(value)) return value;
      throw typeError(name);
    case 'datetime':
      if (value instanceof XDate) return value;
      if (typeof value === 'string') return new XDate(value);
      throw typeError(name);
  }
}

/** MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received], counting the session (§1.5). */
export function bindArgs(m: Method, wireName: string, params: unknown[]): unknown[] {
  const offset = m.session ? 1 : 0;
  const full = m.params.length + offset;
  const required = m.params.filter((p) => !p.hasDefault).length + offset;
  if (params.length < required || params.length > full) {
    throw new XapiFailure('MESSAGE_PARAMETER_COUNT_MISMATCH', [wireName, full, params.length]);
  }
  return m.params.map((p, i) => {
    const v = params[i + offset];
    if (v === undefined) return p.default;
    return coerce(p.type, v, p.name);
  });
}

// ---- the generic object API (§6.3) --------------------------------------------------------------

function fieldValue(spec: FieldSpec, field: string, value: unknown): unknown {
  const enums = enumValues(spec);
  if (enums) {
    if (typeof value !== 'string' || !enums.includes(value)) throw new XapiFailure('INVALID_VALUE', [field, String(value)]);
    return value;
  }
  switch (spec.kind) {
    case 'float':
      return new XFloat(coerce('float', value, field) as number);
    case 'map': {
      const m = coerce('map', value, field) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
    }
    case 'set':
      return (coerce('set', value, field) as unknown[]).map(String);
    default:
      return coerce(spec.kind as ParamType, value, field);
  }
}

/** Hooks the simulator runs after a generic change (e.g. to recompute allowed_operations). */
export interface GenericHooks {
  afterSet?(cls: string, ref: string, field: string): void;
}

export function registerGeneric(api: Api, store: Store, hooks: GenericHooks = {}): void {
  for (const cls of CLASSES) {
    const fields = fieldsOf(cls);
    const noAsync = { async: false };
    api.def(`${cls}.get_all`, '', () => store.all(cls).map((r) => r.ref), noAsync);
    api.def(`${cls}.get_all_records`, '', () => Object.fromEntries(store.all(cls).map((r) => [r.ref, copyRecord(r.rec)])), noAsync);
    api.def(`${cls}.get_record`, 'self:ref', (_c, [ref]) => copyRecord(store.rec(cls, ref)), noAsync);
    api.def(`${cls}.get_by_uuid`, 'uuid:string', (_c, [uuid]) => {
      const row = store.all(cls).find((r) => r.rec['uuid'] === uuid);
      if (!row) throw new XapiFailure('UUID_INVALID', [cls, String(uuid)]);
      return row.ref;
    }, noAsync);
    if (fields.has('name_label')) {
      api.def(`${cls}.get_by_name_label`, 'label:string', (_c, [label]) => store.all(cls).filter((r) => r.rec['name_label'] === label).map((r) => r.ref), noAsync);
    }
    for (const [field, spec] of fields) {
      api.def(`${cls}.get_${field}`, 'self:ref', (_c, [ref]) => {
        const v = store.rec(cls, ref)[field];
        return Array.isArray(v) ? [...(v as unknown[])] : v && typeof v === 'object' && !(v instanceof XDate) && !(v instanceof XFloat) ? { ...(v as object) } : v;
      }, noAsync);
      if (!spec.rw) continue;
      const changed = (ref: string): void => hooks.afterSet?.(cls, ref, field);
      api.def(`${cls}.set_${field}`, `self:ref value:${spec.kind === 'set' ? 'set' : spec.kind === 'map' ? 'map' : 'string'}`, (_c, [ref, value]) => {
        store.row(cls, ref);
        store.update(cls, ref as string, { [field]: fieldValue(spec, field, value) });
        changed(ref as string);
        return '';
      }, noAsync);
      // Non-string scalars take their own wire type.
      const m = api.methods.get(`${cls}.set_${field}`)!;
      if (['int', 'bool', 'float', 'ref'].includes(spec.kind)) m.params[1]!.type = spec.kind as ParamType;
      if (spec.kind === 'map') {
        api.def(`${cls}.add_to_${field}`, 'self:ref key:string value:string', (_c, [ref, key, value]) => {
          const rec = store.rec(cls, ref);
          const map = rec[field] as Record<string, string>;
          if (Object.prototype.hasOwnProperty.call(map, key as string)) {
            throw new XapiFailure('MAP_DUPLICATE_KEY', [cls, field, String(rec['uuid']), String(key)]);
          }
          store.update(cls, ref as string, { [field]: { ...map, [key as string]: value as string } });
          changed(ref as string);
          return '';
        }, noAsync);
        api.def(`${cls}.remove_from_${field}`, 'self:ref key:string', (_c, [ref, key]) => {
          const map = { ...(store.rec(cls, ref)[field] as Record<string, string>) };
          delete map[key as string];
          store.update(cls, ref as string, { [field]: map });
          changed(ref as string);
          return '';
        }, noAsync);
      }
      if (spec.kind === 'set') {
        api.def(`${cls}.add_${field}`, 'self:ref value:string', (_c, [ref, value]) => {
          store.row(cls, ref);
          store.addToSet(cls, ref as string, field, value as string);
          changed(ref as string);
          return '';
        }, noAsync);
        api.def(`${cls}.remove_${field}`, 'self:ref value:string', (_c, [ref, value]) => {
          store.row(cls, ref);
          store.removeFromSet(cls, ref as string, field, value as string);
          changed(ref as string);
          return '';
        }, noAsync);
      }
    }
  }
}
