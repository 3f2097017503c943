/** The VM inventory as the engine last reported it, kept current by the 'vms' subscription. */
import { create } from 'zustand';
import { kiln } from '../transport';
import { errorText, listOf, type Vm, type VmStateChange } from '../api/model';

interface VmStore {
  vms: Vm[];
  byId: Map<string, Vm>;
  loaded: boolean;
  loading: boolean;
  error?: string;
  refresh(): Promise<void>;
  /** Refreshes soon, once, however often it is asked (bursts of state changes). */
  refreshSoon(): void;
  applyStateChange(change: VmStateChange): void;
}

let soon: ReturnType<typeof setTimeout> | undefined;
let inFlight: Promise<void> | undefined;

export const useVms = create<VmStore>((set, get) => ({
  vms: [],
  byId: new Map(),
  loaded: false,
  loading: false,
  refresh() {
    inFlight ??= (async () => {
      set({ loading: true });
      try {
        const vms = listOf<Vm>(await kiln.invoke('listVirtualMachines', { listall: true }), 'virtualmachine');
        set({ vms, byId: new Map(vms.map((vm) => [vm.id, vm])), error: undefined, loading: false, loaded: true });
      } catch (error) {
        set({ error: errorText(error), loading: false });
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  },
  refreshSoon() {
    if (soon) return;
    soon = setTimeout(() => {
      soon = undefined;
      void get().refresh();
    }, 400);
  },
  applyStateChange(change) {
    const current = get().byId.get(change.id);
    // A VM the list has not seen yet (a deploy): fetch the list again for its details.
    if (!current) return get().refreshSoon();
    if (current.state === change.state) return;
    const updated = { ...current, state: change.state };
    const vms = get().vms.map((vm) => (vm.id === change.id ? updated : vm));
    const byId = new Map(get().byId);
    byId.set(change.id, updated);
    set({ vms, byId });
    // Host, IP and job fields change with the state: fetch them once the burst settles.
    get().refreshSoon();
  },
}));

/** The states the UI shows as busy: the ones the engine reports while a job moves the VM. */
export const BUSY_STATES = new Set(['Creating', 'Starting', 'Stopping', 'Destroying', 'Expunging', 'Migrating']);
