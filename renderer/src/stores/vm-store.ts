/**
 * The VM inventory as the engine last reported it.
 *
 * The first load comes in pages: the first small page is shown at once, the rest follows in
 * pages of the largest size the engine allows. After that the list follows the 'vms' live
 * channel, which carries the changed VM records themselves (and the ids of VMs gone), so a state
 * change, a deploy or a bulk action on 100 VMs updates the rows it touched and never fetches the
 * list again. Search, the state filter and sorting run on these cached rows in the renderer
 * (vm-list-view-store.ts): at 10,000 VMs that is a few milliseconds, less than one round trip.
 */
import { create } from 'zustand';
import { kiln } from '../transport';
import { errorText, listOf, type Vm, type VmsUpdate } from '../api/model';

/** The first page is small so it paints at once; the others are as large as default.page.size allows. */
export const FIRST_PAGE = 100;
export const NEXT_PAGE = 500;

interface VmStore {
  vms: Vm[];
  byId: Map<string, Vm>;
  /** The first page is in. */
  loaded: boolean;
  /** A load is running (the first page may already be shown). */
  loading: boolean;
  error?: string;
  /** Loads the whole list again, in pages (the Refresh button, the first open). */
  refresh(): Promise<void>;
  /** Fetches one VM again (after an edit whose answer the caller did not keep). */
  reloadOne(id: string): Promise<void>;
  /** Applies a 'vms' live message: changed records replace or add rows, removed ids drop them. */
  apply(update: VmsUpdate): void;
}

let inFlight: Promise<void> | undefined;
/** Live messages that arrive while a load runs: they win over the pages fetched before them. */
let duringLoad: { changed: Map<string, Vm>; removed: Set<string> } | undefined;

const listPage = async (page: number, pagesize: number) => {
  const response = await kiln.invoke('listVirtualMachines', { listall: true, page, pagesize });
  return { count: typeof response['count'] === 'number' ? response['count'] : 0, vms: listOf<Vm>(response, 'virtualmachine') };
};

/** ROWS with the live changes of the running load applied. */
function withLiveChanges(rows: Vm[]): Vm[] {
  if (!duringLoad) return rows;
  const { changed, removed } = duringLoad;
  return rows.filter((vm) => !removed.has(vm.id)).map((vm) => changed.get(vm.id) ?? vm);
}

function indexed(vms: Vm[]) {
  return { vms, byId: new Map(vms.map((vm) => [vm.id, vm])) };
}

export const useVms = create<VmStore>((set, get) => ({
  vms: [],
  byId: new Map(),
  loaded: false,
  loading: false,
  refresh() {
    inFlight ??= (async () => {
      set({ loading: true });
      duringLoad = { changed: new Map(), removed: new Set() };
      try {
        const first = await listPage(1, FIRST_PAGE);
        const rows = [...first.vms];
        set({ ...indexed(withLiveChanges(rows)), loaded: true, error: undefined });
        // Pages of NEXT_PAGE after the rows already read (page p of NEXT_PAGE starts at row
        // (p-1)·NEXT_PAGE, so the first one skips what the first page held). A row seen twice
        // (an answer longer than the page asked for) is kept once.
        const seenIds = new Set(rows.map((vm) => vm.id));
        for (let fetched = rows.length; fetched < first.count; ) {
          const page = Math.floor(fetched / NEXT_PAGE) + 1;
          const next = await listPage(page, NEXT_PAGE);
          const skip = fetched - (page - 1) * NEXT_PAGE;
          for (const vm of next.vms.slice(skip)) {
            if (seenIds.has(vm.id)) continue;
            seenIds.add(vm.id);
            rows.push(vm);
          }
          fetched = (page - 1) * NEXT_PAGE + next.vms.length;
          set(indexed(withLiveChanges(rows)));
          if (next.vms.length < NEXT_PAGE) break;
        }
        // VMs the live channel added during the load and no page held yet.
        const seen = new Set(rows.map((vm) => vm.id));
        const added = [...(duringLoad?.changed.values() ?? [])].filter((vm) => !seen.has(vm.id));
        const removedDuring = (duringLoad?.removed.size ?? 0) > 0;
        set({ ...indexed([...withLiveChanges(rows), ...added]), loading: false, error: undefined });
        duringLoad = undefined;
        // A VM removed while the pages were read shifts the later pages by one row: read once more.
        if (removedDuring) {
          inFlight = undefined;
          return get().refresh();
        }
      } catch (error) {
        set({ error: errorText(error), loading: false });
      } finally {
        duringLoad = undefined;
        inFlight = undefined;
      }
    })();
    return inFlight;
  },
  async reloadOne(id) {
    try {
      const [vm] = listOf<Vm>(await kiln.invoke('listVirtualMachines', { id, listall: true }), 'virtualmachine');
      get().apply(vm ? { changed: [vm as unknown as Record<string, unknown>], removed: [] } : { changed: [], removed: [id] });
    } catch (error) {
      set({ error: errorText(error) });
    }
  },
  apply(update) {
    const changed = update.changed as unknown as Vm[];
    if (duringLoad) {
      for (const vm of changed) duringLoad.changed.set(vm.id, vm);
      for (const id of update.removed) {
        duringLoad.removed.add(id);
        duringLoad.changed.delete(id);
      }
    }
    const removed = new Set(update.removed);
    const byId = new Map(get().byId);
    let vms = get().vms;
    if (removed.size > 0) {
      vms = vms.filter((vm) => !removed.has(vm.id));
      for (const id of removed) byId.delete(id);
    }
    const replaced = new Map<string, Vm>();
    const added: Vm[] = [];
    for (const vm of changed) {
      if (byId.has(vm.id)) replaced.set(vm.id, vm);
      else added.push(vm);
      byId.set(vm.id, vm);
    }
    if (replaced.size > 0) vms = vms.map((vm) => replaced.get(vm.id) ?? vm);
    // A VM the first page did not include is left to the running load (it arrives with its page).
    if (added.length > 0 && !duringLoad) vms = [...vms, ...added];
    else if (added.length > 0) for (const vm of added) byId.delete(vm.id);
    set({ vms, byId });
  },
}));

/** The states the UI shows as busy: the ones the engine reports while a job moves the VM. */
export const BUSY_STATES = new Set(['Creating', 'Starting', 'Stopping', 'Destroying', 'Expunging', 'Migrating']);
