/**
 * The PropertyCollector: bulk reads (RetrievePropertiesEx, then ContinueRetrievePropertiesEx
 * while the server hands back a token) and change streams (WaitForUpdatesEx with the version
 * token of the last update). Inventory is read this way, never object by object.
 */
import type { VimClient } from './client.js';
import { MoRef, asArray, asMoRef, asObject, asString, typed, type SoapObject, type VimObject, type VimValue } from './values.js';

export interface ObjectProps {
  obj: MoRef;
  /** Property path → value, for the paths asked for that the object has. */
  props: Record<string, VimValue>;
  /** Paths the server could not read, with the fault type. */
  missing: Record<string, string>;
}

export interface PropertySpec {
  type: string;
  pathSet: string[];
}

/** A filter spec over the objects of a ContainerView, or explicit objects. */
export interface FilterSpecInput {
  propSet: PropertySpec[];
  /** Objects to read; or a ContainerView whose `view` lists them. */
  objects?: MoRef[];
  view?: MoRef;
}

export function filterSpec(input: FilterSpecInput): SoapObject {
  const objectSet: SoapObject[] = input.view
    ? [{ obj: input.view, skip: true, selectSet: [typed('TraversalSpec', { name: 'view', type: 'ContainerView', path: 'view', skip: false })] }]
    : (input.objects ?? []).map((obj) => ({ obj, skip: false }));
  return {
    propSet: input.propSet.map((p) => ({ type: p.type, all: false, pathSet: p.pathSet })),
    objectSet,
  };
}

function objectProps(content: VimValue): ObjectProps {
  const c = asObject(content);
  const props: Record<string, VimValue> = {};
  for (const dp of asArray(c['propSet'])) {
    const p = asObject(dp);
    const name = asString(p['name']);
    if (name !== undefined && p['val'] !== undefined) props[name] = p['val'];
  }
  const missing: Record<string, string> = {};
  for (const mp of asArray(c['missingSet'])) {
    const m = asObject(mp);
    missing[asString(m['path']) ?? ''] = asObject(asObject(m['fault'])['fault']).$type ?? 'SystemError';
  }
  return { obj: asMoRef(c['obj']) ?? new MoRef('', ''), props, missing };
}

export interface RetrieveOptions {
  /** Objects per page; the server may send fewer. */
  pageSize?: number;
  collector?: MoRef;
  signal?: AbortSignal;
}

/** Every object the spec selects, all pages; one RetrievePropertiesEx plus one call per further page. */
export async function retrieveProperties(client: VimClient, spec: FilterSpecInput, opts: RetrieveOptions = {}): Promise<ObjectProps[]> {
  const pc = opts.collector ?? client.serviceContent.propertyCollector;
  const out: ObjectProps[] = [];
  let result = asObject(await client.call('RetrievePropertiesEx', pc, {
    specSet: [filterSpec(spec)],
    options: { maxObjects: opts.pageSize },
  }, { returnType: 'RetrieveResult', signal: opts.signal }));
  for (;;) {
    for (const content of asArray(result['objects'])) out.push(objectProps(content));
    const token = asString(result['token']);
    if (!token) return out;
    try {
      opts.signal?.throwIfAborted();
      result = asObject(await client.call('ContinueRetrievePropertiesEx', pc, { token }, { returnType: 'RetrieveResult', signal: opts.signal }));
    } catch (e) {
      // The server keeps the rest of the result for the session until told otherwise.
      await client.call('CancelRetrievePropertiesEx', pc, { token }).catch(() => undefined);
      throw e;
    }
  }
}

/** Some properties of one object (for a handful of reads; inventories go through retrieveInventory). */
export async function getProperties(client: VimClient, obj: MoRef, pathSet: string[], signal?: AbortSignal): Promise<Record<string, VimValue>> {
  const [content] = await retrieveProperties(client, { objects: [obj], propSet: [{ type: obj.type, pathSet }] }, { signal });
  return content?.props ?? {};
}

/** A ContainerView of `types` under `container` (default: the root folder), destroyed after `use`. */
export async function withContainerView<T>(client: VimClient, types: string[], use: (view: MoRef) => Promise<T>, container?: MoRef): Promise<T> {
  const vm = client.serviceContent.viewManager;
  if (!vm) throw new Error('this endpoint has no ViewManager');
  const view = asMoRef(await client.call('CreateContainerView', vm, { container: container ?? client.serviceContent.rootFolder, type: types, recursive: true }));
  if (!view) throw new Error('CreateContainerView returned no view');
  try {
    return await use(view);
  } finally {
    await client.call('DestroyView', view).catch(() => undefined);
  }
}

/** The given properties of every object of the given types in the inventory: one view, one bulk read (paged). */
export function retrieveInventory(client: VimClient, propSet: PropertySpec[], opts: RetrieveOptions = {}): Promise<ObjectProps[]> {
  return withContainerView(client, propSet.map((p) => p.type), (view) => retrieveProperties(client, { propSet, view }, opts));
}

export interface PropertyChange {
  name: string;
  op: 'add' | 'remove' | 'assign' | 'indirectRemove';
  val?: VimValue;
}

export interface ObjectUpdate {
  kind: 'enter' | 'leave' | 'modify';
  obj: MoRef;
  changes: PropertyChange[];
}

export interface UpdateSet {
  version: string;
  truncated: boolean;
  updates: ObjectUpdate[];
}

/** One WaitForUpdatesEx: the changes since `version` ('' for the initial state), or null when none came within maxWaitSeconds. */
export async function waitForUpdatesEx(client: VimClient, collector: MoRef, version: string, maxWaitSeconds: number, signal?: AbortSignal): Promise<UpdateSet | null> {
  const res = await client.call('WaitForUpdatesEx', collector, { version, options: { maxWaitSeconds } }, { returnType: 'UpdateSet', signal, timeoutMs: (maxWaitSeconds + 30) * 1000 });
  if (res === undefined || res === '') return null;
  const set = asObject(res);
  const updates: ObjectUpdate[] = [];
  for (const fu of asArray(set['filterSet'])) {
    for (const ou of asArray(asObject(fu)['objectSet'])) {
      const o = asObject(ou);
      updates.push({
        kind: (asString(o['kind']) ?? 'modify') as ObjectUpdate['kind'],
        obj: asMoRef(o['obj']) ?? new MoRef('', ''),
        changes: asArray(o['changeSet']).map((c) => {
          const pc = asObject(c);
          return { name: asString(pc['name']) ?? '', op: (asString(pc['op']) ?? 'assign') as PropertyChange['op'], val: pc['val'] };
        }),
      });
    }
  }
  return { version: asString(set['version']) ?? version, truncated: set['truncated'] === true, updates };
}

/** A PropertyCollector of one's own (filters of the default one are shared by the whole session). */
export async function createCollector(client: VimClient): Promise<MoRef> {
  const pc = asMoRef(await client.call('CreatePropertyCollector', client.serviceContent.propertyCollector));
  if (!pc) throw new Error('CreatePropertyCollector returned no collector');
  return pc;
}

export async function createFilter(client: VimClient, collector: MoRef, spec: FilterSpecInput, partialUpdates = false): Promise<MoRef> {
  const filter = asMoRef(await client.call('CreateFilter', collector, { spec: filterSpec(spec), partialUpdates }));
  if (!filter) throw new Error('CreateFilter returned no filter');
  return filter;
}

export interface WatchHandlers {
  /** Changes, in server order. The first call after start or a resync has every object as 'enter'. */
  onUpdate(set: UpdateSet, resync: boolean): void;
  onError?(e: unknown): void;
}

/** The spec to watch, or how to make it (a ContainerView is per session, so it is made again after a re-login). */
export type WatchSpec = FilterSpecInput | ((client: VimClient) => Promise<FilterSpecInput>);

/**
 * A change stream over one filter spec: WaitForUpdatesEx in a loop with the last version. When
 * the session was renewed (its collector is gone) or the version is refused, it makes a new
 * collector and filter (and view) and starts again from the full state, flagged as a resync.
 * Failures back off (0.2 s doubling to 5 s) so a server that keeps refusing is not hammered.
 */
export class UpdateWatcher {
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: VimClient,
    private readonly spec: WatchSpec,
    private readonly handlers: WatchHandlers,
    private readonly maxWaitSeconds = 30,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    let resync = false;
    let backoffMs = 0;
    while (!this.stopped) {
      let collector: MoRef | undefined;
      try {
        const spec = typeof this.spec === 'function' ? await this.spec(this.client) : this.spec;
        collector = await createCollector(this.client);
        await createFilter(this.client, collector, spec);
        let version = '';
        while (!this.stopped) {
          const set = await waitForUpdatesEx(this.client, collector, version, this.maxWaitSeconds, this.abort.signal);
          if (!set) continue;
          version = set.version;
          this.handlers.onUpdate(set, resync);
          resync = false;
          backoffMs = 0;
        }
      } catch (e) {
        if (this.stopped) break;
        this.handlers.onError?.(e);
        resync = true;
        // The first failure after a good stream retries at once (a renewed session); repeated ones wait.
        if (backoffMs > 0) await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(Math.max(backoffMs * 2, 200), 5000);
      } finally {
        if (collector && this.stopped) await this.client.call('DestroyPropertyCollector', collector).catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop?.catch(() => undefined);
  }
}

export type { VimObject };
