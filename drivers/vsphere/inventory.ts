/**
 * The inventory of one vCenter (or standalone ESXi) endpoint, held in memory and fed by the
 * server's own change stream, Xen Orchestra style: one bulk RetrievePropertiesEx (paged) over a
 * ContainerView of datacenters, compute resources, hosts, VMs, datastores and networks, then
 * WaitForUpdatesEx for changes. No object is ever polled on its own. Reads (hosts, VMs by ref or
 * name) are answered from the cache.
 */
import {
  MoRef, UpdateWatcher, asArray, asMoRef, asObject, asString, getProperties, retrieveProperties,
  type ObjectProps, type PropertySpec, type UpdateSet, type VimClient, type VimValue,
} from './soap/index.js';

/** What the driver reads of each type; every path here is kept current by the change stream. */
export const INVENTORY_PROPERTIES: PropertySpec[] = [
  { type: 'Datacenter', pathSet: ['name', 'vmFolder', 'hostFolder'] },
  // ComputeResource covers its subtype ClusterComputeResource (a standalone ESXi is a plain ComputeResource).
  { type: 'ComputeResource', pathSet: ['name', 'parent', 'host', 'resourcePool', 'datastore', 'network'] },
  {
    type: 'HostSystem',
    pathSet: ['name', 'parent', 'runtime.connectionState', 'runtime.powerState', 'runtime.inMaintenanceMode', 'summary.hardware', 'summary.quickStats', 'summary.config.product.fullName', 'datastore', 'network'],
  },
  {
    type: 'VirtualMachine',
    pathSet: ['name', 'config.uuid', 'config.template', 'config.hardware.numCPU', 'config.hardware.memoryMB', 'runtime.powerState', 'runtime.host', 'resourcePool', 'guest.toolsRunningStatus', 'datastore', 'snapshot.currentSnapshot'],
  },
  { type: 'Datastore', pathSet: ['name', 'summary.capacity', 'summary.freeSpace', 'summary.type', 'summary.accessible', 'summary.multipleHostAccess'] },
  // Network covers DistributedVirtualPortgroup.
  { type: 'Network', pathSet: ['name'] },
];

const VIEW_TYPES = INVENTORY_PROPERTIES.map((p) => p.type);

export interface CachedObject {
  ref: MoRef;
  props: Record<string, VimValue>;
}

/** A change the cache saw, for the driver to turn into contract events. */
export type InventoryChange =
  | { kind: 'enter' | 'leave'; object: CachedObject }
  | { kind: 'modify'; object: CachedObject; changed: Record<string, { before: VimValue | undefined; after: VimValue | undefined }> };

export interface InventoryCacheOptions {
  /** Objects per RetrievePropertiesEx page. */
  pageSize?: number;
  /** WaitForUpdatesEx's maxWaitSeconds (how long one call may block). */
  maxWaitSeconds?: number;
  onChange?: (change: InventoryChange) => void;
  /** The stream failed (endpoint unreachable, session lost); it retries on its own. */
  onStreamError?: (e: unknown) => void;
  /** A stream call answered after a failure: the endpoint is back. */
  onStreamRecovered?: () => void;
}

const key = (ref: MoRef): string => `${ref.type}:${ref.value}`;

/** Makes a ContainerView of the inventory types (per session: views die with it). */
async function createView(client: VimClient): Promise<MoRef> {
  const vm = client.serviceContent.viewManager;
  if (!vm) throw new Error('this endpoint has no ViewManager');
  const view = asMoRef(await client.call('CreateContainerView', vm, { container: client.serviceContent.rootFolder, type: VIEW_TYPES, recursive: true }));
  if (!view) throw new Error('CreateContainerView returned no view');
  return view;
}

export class InventoryCache {
  private readonly objects = new Map<string, CachedObject>();
  private watcher: UpdateWatcher | undefined;
  private failing = false;
  /** The bulk read's duration and object count, for benchmarks and logs. */
  lastSync = { objects: 0, ms: 0 };

  constructor(
    private readonly client: VimClient,
    private readonly opts: InventoryCacheOptions = {},
  ) {}

  /** One bulk read of the whole inventory (paged), then the change stream. Resolves when the cache is full. */
  async start(): Promise<void> {
    const t0 = performance.now();
    const view = await createView(this.client);
    let objects: ObjectProps[];
    try {
      objects = await retrieveProperties(this.client, { view, propSet: INVENTORY_PROPERTIES }, { pageSize: this.opts.pageSize });
    } finally {
      await this.client.call('DestroyView', view).catch(() => undefined);
    }
    this.objects.clear();
    for (const o of objects) this.objects.set(key(o.obj), { ref: o.obj, props: { ...o.props } });
    this.lastSync = { objects: objects.length, ms: performance.now() - t0 };
    // The stream's first answer is the full state again; applied as a diff, it closes the window
    // between the bulk read and the filter (changes made meanwhile come out as events).
    this.watcher = new UpdateWatcher(this.client, async (c) => ({ view: await createView(c), propSet: INVENTORY_PROPERTIES }), {
      onUpdate: (set, resync) => this.apply(set, resync),
      onError: (e) => {
        this.failing = true;
        this.opts.onStreamError?.(e);
      },
    }, this.opts.maxWaitSeconds ?? 30);
    this.firstUpdate = true;
    this.watcher.start();
  }

  private firstUpdate = true;
  private markLive!: () => void;
  /**
   * Resolves once the change stream has delivered its first (full) state. vcsim only starts
   * collecting changes after that first state is computed (a 1,000-VM inventory takes about a
   * second), so a change made in that window is never streamed by vcsim; vCenter has no such gap.
   */
  readonly live: Promise<void> = new Promise((r) => {
    this.markLive = r;
  });

  private apply(set: UpdateSet, resync: boolean): void {
    if (this.failing) {
      this.failing = false;
      this.opts.onStreamRecovered?.();
    }
    const full = this.firstUpdate || resync;
    this.firstUpdate = false;
    this.applyUpdates(set.updates, full);
    this.markLive();
  }

  /**
   * Reads `paths` of one object now and applies them as a change: after Kiln's own task, so the
   * cache shows its result at once, and for the properties a server does not stream (vcsim sends
   * no change of config.hardware.* after ReconfigVM_Task; vCenter does).
   */
  async refresh(ref: MoRef, paths: string[], admitNew = false): Promise<void> {
    const props = await getProperties(this.client, ref, paths);
    if (!this.objects.has(key(ref)) && !admitNew) return;
    this.applyUpdates([{ kind: this.objects.has(key(ref)) ? 'modify' : 'enter', obj: ref, changes: paths.map((name) => (props[name] === undefined ? { name, op: 'remove' as const } : { name, op: 'assign' as const, val: props[name] })) }], false);
  }

  /** Reads an object Kiln's own task made (a clone, a new VM) into the cache with every inventory property, unless the stream brought it already. */
  async admit(ref: MoRef): Promise<void> {
    const spec = INVENTORY_PROPERTIES.find((p) => p.type === ref.type);
    if (!spec) return;
    // Every inventory property at once: also what the stream may not have sent yet (size, host).
    await this.refresh(ref, spec.pathSet, true);
  }

  /** Drops an object Kiln's own task removed (Destroy_Task succeeded), as its 'leave' would. */
  forget(ref: MoRef): void {
    this.applyUpdates([{ kind: 'leave', obj: ref, changes: [] }], false);
  }

  private applyUpdates(updates: UpdateSet['updates'], full: boolean): void {
    const seen = new Set<string>();
    for (const u of updates) {
      const k = key(u.obj);
      seen.add(k);
      if (u.kind === 'leave') {
        const gone = this.objects.get(k);
        this.objects.delete(k);
        if (gone) this.opts.onChange?.({ kind: 'leave', object: gone });
        continue;
      }
      const existing = this.objects.get(k);
      const next: Record<string, VimValue> = full || !existing ? {} : { ...existing.props };
      for (const c of u.changes) {
        if (c.op === 'remove' || c.op === 'indirectRemove' || c.val === undefined) delete next[c.name];
        else next[c.name] = c.val;
      }
      const object = { ref: u.obj, props: next };
      this.objects.set(k, object);
      if (!existing) {
        this.opts.onChange?.({ kind: 'enter', object });
        continue;
      }
      const changed: Record<string, { before: VimValue | undefined; after: VimValue | undefined }> = {};
      for (const name of new Set([...Object.keys(existing.props), ...Object.keys(next)])) {
        if (!sameValue(existing.props[name], next[name])) changed[name] = { before: existing.props[name], after: next[name] };
      }
      if (Object.keys(changed).length > 0) this.opts.onChange?.({ kind: 'modify', object, changed });
    }
    // After a full state, whatever it did not name has gone.
    if (full) {
      for (const [k, o] of [...this.objects]) {
        if (!seen.has(k)) {
          this.objects.delete(k);
          this.opts.onChange?.({ kind: 'leave', object: o });
        }
      }
    }
  }

  async stop(): Promise<void> {
    await this.watcher?.stop();
    this.watcher = undefined;
  }

  get size(): number {
    return this.objects.size;
  }

  get(ref: MoRef): CachedObject | undefined {
    return this.objects.get(key(ref));
  }

  ofType(type: string): CachedObject[] {
    return [...this.objects.values()].filter((o) => o.ref.type === type);
  }

  /** VMs (not templates) and templates whose vCenter name is `name`; names are not unique on vSphere. */
  vmsNamed(name: string): CachedObject[] {
    return this.ofType('VirtualMachine').filter((o) => o.props['name'] === name);
  }

  datacenters(): CachedObject[] {
    return this.ofType('Datacenter');
  }

  /** Clusters and standalone hosts' compute resources. */
  computeResources(): CachedObject[] {
    return [...this.objects.values()].filter((o) => o.ref.type === 'ClusterComputeResource' || o.ref.type === 'ComputeResource');
  }

  /** The hosts of a cluster or of a standalone host's compute resource. */
  hostsOf(computeResource: MoRef): CachedObject[] {
    const cr = this.get(computeResource);
    return (asArray(cr?.props['host']) as MoRef[]).map((h) => this.get(h)).filter((h): h is CachedObject => !!h);
  }

  propString(ref: MoRef, path: string): string | undefined {
    return asString(this.get(ref)?.props[path]);
  }

  propRef(ref: MoRef, path: string): MoRef | undefined {
    return asMoRef(this.get(ref)?.props[path]);
  }

  propObject(ref: MoRef, path: string): ReturnType<typeof asObject> {
    return asObject(this.get(ref)?.props[path]);
  }
}

function sameValue(a: VimValue | undefined, b: VimValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (a instanceof MoRef || b instanceof MoRef) return a instanceof MoRef && a.equals(b as MoRef);
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
}

function replacer(_k: string, v: unknown): unknown {
  return v instanceof MoRef ? v.toString() : v;
}
