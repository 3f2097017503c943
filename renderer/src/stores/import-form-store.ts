/** The import wizard's draft: the cluster, the VMs chosen (by hypervisor name) and each one's choices. */
import { create } from 'zustand';
import type { VmChoices } from '../api/import-plan';

export const IMPORT_STEPS = ['Cluster', 'Select VMs', 'Networks', 'Offerings', 'Data disks', 'Review'] as const;

interface ImportForm {
  clusterid: string;
  filter: string;
  selected: string[];
  choices: Record<string, VmChoices>;
  step: number;
  reached: number;
  setCluster(clusterid: string): void;
  setFilter(filter: string): void;
  toggle(name: string, on: boolean): void;
  /** Sets a VM's choices (the first time: the pre-filled ones). */
  setChoices(name: string, patch: Partial<VmChoices>): void;
  goTo(step: number): void;
  reset(): void;
}

const EMPTY = { clusterid: '', filter: '', selected: [] as string[], choices: {} as Record<string, VmChoices>, step: 0, reached: 0 };

export const useImportForm = create<ImportForm>((set, get) => ({
  ...EMPTY,
  // Another cluster lists other VMs: what was chosen for the old one no longer applies.
  setCluster: (clusterid) => set({ clusterid, selected: [], choices: {} }),
  setFilter: (filter) => set({ filter }),
  toggle: (name, on) => set({ selected: on ? [...get().selected.filter((n) => n !== name), name] : get().selected.filter((n) => n !== name) }),
  setChoices: (name, patch) => {
    const old = get().choices[name] ?? { nicNetworks: {}, serviceofferingid: '', cpuSpeed: '', diskOfferings: {}, hostname: name };
    set({ choices: { ...get().choices, [name]: { ...old, ...patch } } });
  },
  goTo: (step) => set({ step, reached: Math.max(get().reached, step) }),
  reset: () => set(EMPTY),
}));
