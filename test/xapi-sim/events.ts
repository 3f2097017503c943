/**
 * event.from and event.inject (§1.7, §6.4). A token is `%020d,%020d` of the store's generation;
 * each object changed after it gives one event (`add` if created after it, else `mod`, with the
 * record as it is now), each object deleted after it a `del` without snapshot. With nothing to
 * report the call waits for a change, up to its timeout (clamped by eventTimeoutClampS).
 */
import type { Sim } from './sim.js';
import { CLASSES } from './schema.js';
import { copyRecord } from './store.js';
import { XapiFailure } from './wire.js';

export function formatToken(gen: number): string {
  return `${String(gen).padStart(20, '0')},${'0'.padStart(20, '0')}`;
}

function parseToken(token: string): number {
  if (token === '') return 0;
  const m = /^(\d{1,20}),(\d{1,20})$/.exec(token);
  if (!m) throw new XapiFailure('EVENT_FROM_TOKEN_PARSE_FAILURE', [token]);
  return Number(m[1]);
}

interface Subscription {
  all: boolean;
  classes: Set<string>;
  objects: Set<string>;
}

function subscription(classes: unknown[]): Subscription {
  const sub: Subscription = { all: false, classes: new Set(), objects: new Set() };
  for (const c of classes.map((x) => String(x))) {
    if (c === '*') sub.all = true;
    else if (c.includes('/')) {
      const [cls, ref] = c.split('/', 2) as [string, string];
      sub.objects.add(`${cls.toLowerCase()}/${ref}`);
    } else sub.classes.add(c.toLowerCase());
  }
  return sub;
}

function matches(sub: Subscription, cls: string, ref: string): boolean {
  const lc = cls.toLowerCase();
  return sub.all || sub.classes.has(lc) || sub.objects.has(`${lc}/${ref}`);
}

export interface XapiEvent {
  id: string;
  timestamp: string;
  class: string;
  operation: 'add' | 'mod' | 'del';
  ref: string;
  snapshot?: Record<string, unknown>;
}

function collect(sim: Sim, sub: Subscription, since: number): XapiEvent[] {
  const now = (Date.now() / 1000).toFixed(6);
  const out: Array<XapiEvent & { gen: number }> = [];
  for (const cls of CLASSES) {
    for (const row of sim.store.all(cls)) {
      if (row.modified <= since || !matches(sub, cls, row.ref)) continue;
      out.push({ gen: row.modified, id: String(row.modified), timestamp: now, class: cls.toLowerCase(), operation: row.created > since ? 'add' : 'mod', ref: row.ref, snapshot: copyRecord(row.rec) });
    }
  }
  // An object made after the token and deleted since may still be in the client's
  // get_all_records sweep, so its del is reported too.
  for (const t of sim.store.tombstones.values()) {
    if (t.deleted > since && matches(sub, t.cls, t.ref)) out.push({ gen: t.deleted, id: String(t.deleted), timestamp: now, class: t.cls.toLowerCase(), operation: 'del', ref: t.ref });
  }
  out.sort((a, b) => a.gen - b.gen);
  return out.map(({ gen: _gen, ...e }) => e);
}

export function validRefCounts(sim: Sim): Record<string, number> {
  return Object.fromEntries(CLASSES.map((c) => [c.toLowerCase(), sim.store.count(c)]));
}

export function registerEvents(sim: Sim): void {
  const { api, store } = sim;
  api.def('event.from', 'classes:set token:string timeout:float', async (_c, [classes, token, timeout]) => {
    const since = parseToken(token as string);
    if (sim.eventsLost) {
      sim.eventsLost = false;
      throw new XapiFailure('EVENTS_LOST', []);
    }
    const sub = subscription(classes as unknown[]);
    const waitMs = Math.max(0, Math.min(timeout as number, sim.options.eventTimeoutClampS)) * 1000;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const events = collect(sim, sub, since);
      const gen = store.gen;
      const left = deadline - Date.now();
      if (events.length > 0 || left <= 0 || sim.stopped) return { events, valid_ref_counts: validRefCounts(sim), token: formatToken(gen) };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const off = store.onChange(done);
        function done(): void {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    }
  });
  api.def('event.inject', 'class:string ref:string', (_c, [cls, ref]) => {
    const row = store.find(ref as string);
    if (!row || row.cls.toLowerCase() !== String(cls).toLowerCase()) throw new XapiFailure('HANDLE_INVALID', [String(cls), String(ref)]);
    store.touch(row);
    return formatToken(store.gen);
  });
  api.def('event.get_current_id', '', () => store.gen);
}
