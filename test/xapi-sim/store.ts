/**
 * The simulator's database: one row per object, keyed by OpaqueRef, each stamped with the
 * generation that created and last changed it, and a tombstone per deleted object. event.from
 * reads these stamps as xapi's does (xapi_event.ml: one event per object changed since the
 * token: `add` when created after it, else `mod`; `del` from the deleted rows, without snapshot).
 */
import { randomUUID } from 'node:crypto';
import { CLASSES, defaultOf, fieldsOf } from './schema.js';
import { XapiFailure, XDate, XFloat } from './wire.js';

export type Rec = Record<string, unknown>;

export interface Row {
  cls: string;
  ref: string;
  rec: Rec;
  /** Internal fields clients never see (PGPU size, PCI attachments, a VM's simulated tools). */
  hidden: Rec;
  created: number;
  modified: number;
}

export interface Tombstone {
  cls: string;
  ref: string;
  created: number;
  deleted: number;
}

export type StoreDump = Array<{ cls: string; ref: string; rec: Rec; hidden: Rec }>;

function structuredCloneHidden(h: Rec): Rec {
  const out: Rec = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
  return out;
}

export function newRef(): string {
  return `OpaqueRef:${randomUUID()}`;
}

function copyValue(v: unknown): unknown {
  if (Array.isArray(v)) return [...(v as unknown[])];
  if (v && typeof v === 'object' && !(v instanceof XDate) && !(v instanceof XFloat)) return { ...(v as Rec) };
  return v;
}

export function copyRecord(rec: Rec): Rec {
  const out: Rec = {};
  for (const [k, v] of Object.entries(rec)) out[k] = copyValue(v);
  return out;
}

export class Store {
  gen = 0;
  private readonly rows = new Map<string, Row>();
  private readonly byClass = new Map<string, Map<string, Row>>(CLASSES.map((c) => [c, new Map()]));
  /** Deleted objects by ref (event.from's del events). */
  readonly tombstones = new Map<string, Tombstone>();
  private readonly waiters = new Set<() => void>();

  /** Creates an object with every schema field at its datamodel default, overridden by `fields`. */
  create(cls: string, fields: Rec, hidden: Rec = {}): string {
    const ref = typeof fields['__ref'] === 'string' ? (fields['__ref'] as string) : newRef();
    const rec: Rec = {};
    for (const [name, spec] of fieldsOf(cls)) rec[name] = copyValue(defaultOf(spec));
    rec['uuid'] = randomUUID();
    for (const [k, v] of Object.entries(fields)) if (k !== '__ref') rec[k] = v;
    // An object made again under its old ref (a restored state) is an add, no longer a del.
    this.tombstones.delete(ref);
    const g = ++this.gen;
    const row: Row = { cls, ref, rec, hidden, created: g, modified: g };
    this.rows.set(ref, row);
    this.byClass.get(cls)!.set(ref, row);
    this.notify();
    return ref;
  }

  /** The row of `ref`, which must be of class `cls`: else HANDLE_INVALID [cls, ref] (§6.3). */
  row(cls: string, ref: unknown): Row {
    const r = typeof ref === 'string' ? this.rows.get(ref) : undefined;
    if (!r || r.cls !== cls) throw new XapiFailure('HANDLE_INVALID', [cls, String(ref)]);
    return r;
  }

  rec(cls: string, ref: unknown): Rec {
    return this.row(cls, ref).rec;
  }

  find(ref: string): Row | undefined {
    return this.rows.get(ref);
  }

  has(cls: string, ref: unknown): boolean {
    return typeof ref === 'string' && this.rows.get(ref)?.cls === cls;
  }

  all(cls: string): Row[] {
    return [...this.byClass.get(cls)!.values()];
  }

  count(cls: string): number {
    return this.byClass.get(cls)!.size;
  }

  /** Applies a change to one object as one mutation: one generation, so one `mod` event. */
  update(cls: string, ref: string, patch: Rec): void {
    const row = this.row(cls, ref);
    let changed = false;
    for (const [k, v] of Object.entries(patch)) {
      if (!sameValue(row.rec[k], v)) {
        row.rec[k] = v;
        changed = true;
      }
    }
    if (changed) this.touch(row);
  }

  /** Marks the object changed (event.inject, or an edit made in place). */
  touch(row: Row): void {
    row.modified = ++this.gen;
    this.notify();
  }

  addToSet(cls: string, ref: string, field: string, value: string): void {
    const set = this.rec(cls, ref)[field] as string[];
    if (!set.includes(value)) this.update(cls, ref, { [field]: [...set, value] });
  }

  removeFromSet(cls: string, ref: string, field: string, value: string): void {
    const set = this.rec(cls, ref)[field] as string[];
    if (set.includes(value)) this.update(cls, ref, { [field]: set.filter((v) => v !== value) });
  }

  destroy(cls: string, ref: string): void {
    const row = this.row(cls, ref);
    this.rows.delete(ref);
    this.byClass.get(cls)!.delete(ref);
    this.tombstones.set(ref, { cls, ref, created: row.created, deleted: ++this.gen });
    this.notify();
  }

  /** A copy of every object (for the control API's save/restore). */
  dump(): StoreDump {
    return [...this.rows.values()].map((r) => ({ cls: r.cls, ref: r.ref, rec: copyRecord(r.rec), hidden: structuredCloneHidden(r.hidden) }));
  }

  /**
   * Brings the store back to a dump as a stream of ordinary changes: objects made since are
   * destroyed (del), changed ones updated (mod), destroyed ones made again under their old ref
   * (add), so a client following event.from sees the restore like any other change.
   */
  restore(dump: StoreDump): void {
    const wanted = new Map(dump.map((d) => [d.ref, d]));
    for (const row of [...this.rows.values()]) if (!wanted.has(row.ref)) this.destroy(row.cls, row.ref);
    for (const d of dump) {
      const row = this.rows.get(d.ref);
      if (row) {
        this.update(d.cls, d.ref, copyRecord(d.rec));
        row.hidden = structuredCloneHidden(d.hidden);
      } else {
        this.create(d.cls, { ...copyRecord(d.rec), __ref: d.ref }, structuredCloneHidden(d.hidden));
      }
    }
  }

  /** Resolves on the next change (event.from's wait). */
  onChange(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof XFloat && b instanceof XFloat) return a.value === b.value;
  if (a instanceof XDate && b instanceof XDate) return a.text === b.text;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a as Rec);
    const kb = Object.keys(b as Rec);
    return ka.length === kb.length && ka.every((k) => (a as Rec)[k] === (b as Rec)[k]);
  }
  return false;
}
