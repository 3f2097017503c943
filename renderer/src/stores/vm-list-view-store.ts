/** How the VM list is being looked at: search text, state filter, sort, selection, the focused row. */
import { create } from 'zustand';
import type { Vm } from '../api/model';

export type SortKey = 'displayname' | 'state' | 'hostname' | 'ip' | 'serviceofferingname' | 'haenable' | 'group';

interface VmListView {
  search: string;
  stateFilter: string;
  sort: { key: SortKey; descending: boolean };
  selected: Set<string>;
  activeIndex: number;
  setSearch(search: string): void;
  setStateFilter(state: string): void;
  sortBy(key: SortKey): void;
  toggle(id: string): void;
  setSelected(ids: Iterable<string>): void;
  clearSelection(): void;
  setActiveIndex(index: number): void;
}

export const useVmListView = create<VmListView>((set, get) => ({
  search: '',
  stateFilter: '',
  sort: { key: 'displayname', descending: false },
  selected: new Set(),
  activeIndex: 0,
  setSearch: (search) => set({ search, activeIndex: 0 }),
  setStateFilter: (stateFilter) => set({ stateFilter, activeIndex: 0 }),
  sortBy(key) {
    const sort = get().sort;
    set({ sort: { key, descending: sort.key === key ? !sort.descending : false } });
  },
  toggle(id) {
    const selected = new Set(get().selected);
    if (selected.has(id)) selected.delete(id);
    else selected.add(id);
    set({ selected });
  },
  setSelected: (ids) => set({ selected: new Set(ids) }),
  clearSelection: () => set({ selected: new Set() }),
  setActiveIndex: (activeIndex) => set({ activeIndex }),
}));

export function ipOf(vm: Vm): string {
  return vm.nic?.find((n) => n.isdefault)?.ipaddress ?? vm.nic?.[0]?.ipaddress ?? '';
}

function sortValue(vm: Vm, key: SortKey): string {
  switch (key) {
    case 'ip':
      return ipOf(vm).split('.').map((part) => part.padStart(3, '0')).join('.');
    case 'haenable':
      return vm.haenable ? '1' : '0';
    default:
      return String(vm[key] ?? '');
  }
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** The rows to show: filtered by state and search text, then sorted. */
export function visibleVms(vms: Vm[], search: string, stateFilter: string, sort: { key: SortKey; descending: boolean }): Vm[] {
  const needle = search.trim().toLowerCase();
  const rows = vms.filter((vm) => {
    if (stateFilter && vm.state !== stateFilter) return false;
    if (!needle) return true;
    return [vm.displayname, vm.name, vm.hostname, ipOf(vm), vm.serviceofferingname, vm.group, vm.id].some((v) => v?.toLowerCase().includes(needle));
  });
  const keyed = rows.map((vm) => [sortValue(vm, sort.key), vm] as const);
  keyed.sort((a, b) => collator.compare(a[0], b[0]) || collator.compare(a[1].displayname, b[1].displayname));
  if (sort.descending) keyed.reverse();
  return keyed.map(([, vm]) => vm);
}
