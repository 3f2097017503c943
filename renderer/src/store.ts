/** The renderer's state: the VM list as the engine last reported it. */
import { create } from 'zustand';
import { kiln } from './transport';

export interface Vm {
  id: string;
  name: string;
  displayname: string;
  state: string;
  hostname?: string;
  serviceofferingname?: string;
  zonename?: string;
  haenable?: boolean;
  nic?: { ipaddress?: string }[];
}

interface VmStore {
  vms: Vm[];
  error?: string;
  loading: boolean;
  refresh(): Promise<void>;
}

export const useVms = create<VmStore>((set) => ({
  vms: [],
  loading: false,
  async refresh() {
    set({ loading: true });
    try {
      const res = await kiln.invoke('listVirtualMachines', { listall: true });
      set({ vms: (res['virtualmachine'] as Vm[] | undefined) ?? [], error: undefined, loading: false });
    } catch (error) {
      set({ error: error instanceof Error ? error.message : String(error), loading: false });
    }
  },
}));
