/**
 * The VM list's logic: filtering by state, searching across the shown columns, sorting each
 * column (numbers and addresses in their natural order), and the list-view store (sort toggling,
 * selection); and the VM store that feeds it (listVirtualMachines over the bridge, live state
 * changes, paged first load).
 */
import { answer, apiError, deferred, invoke, settle } from './fake-bridge';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ipOf, useVmListView, visibleVms, type SortKey } from '../../renderer/src/stores/vm-list-view-store';
import { BUSY_STATES, useVms } from '../../renderer/src/stores/vm-store';
import type { Vm } from '../../renderer/src/api/model';

function vm(name: string, fields: Partial<Vm> & { ip?: string } = {}): Vm {
  const { ip, ...rest } = fields;
  return {
    id: `id-${name}`,
    name,
    displayname: name,
    state: 'Running',
    ...(ip ? { nic: [{ id: `nic-${name}`, ipaddress: ip, isdefault: true }] } : {}),
    ...rest,
  };
}

const FLEET: Vm[] = [
  vm('web-10', { state: 'Running', hostname: 'kvm-2', ip: '10.0.0.10', serviceofferingname: 'Medium', haenable: true, group: 'web' }),
  vm('web-2', { state: 'Stopped', hostname: 'kvm-1', ip: '10.0.0.9', serviceofferingname: 'Small', group: 'web' }),
  vm('db-1', { state: 'Running', hostname: 'kvm-1', ip: '10.0.1.2', serviceofferingname: 'Large', haenable: true, group: 'db' }),
  vm('cache', { state: 'Destroyed', displayname: 'Cache Node', serviceofferingname: 'Small' }),
  vm('batch-1', { state: 'Starting', hostname: 'kvm-3', ip: '192.168.0.5', serviceofferingname: 'Small', group: 'batch' }),
];

const ascending = (key: SortKey) => ({ key, descending: false });
const names = (vms: Vm[]) => vms.map((v) => v.displayname);

describe('visibleVms: filter, search, sort', () => {
  it('sorts by display name in natural order by default (web-2 before web-10)', () => {
    expect(names(visibleVms(FLEET, '', '', ascending('displayname')))).toEqual(['batch-1', 'Cache Node', 'db-1', 'web-2', 'web-10']);
    expect(names(visibleVms(FLEET, '', '', { key: 'displayname', descending: true }))).toEqual(['web-10', 'web-2', 'db-1', 'Cache Node', 'batch-1']);
  });

  it('filters by exact state', () => {
    expect(names(visibleVms(FLEET, '', 'Running', ascending('displayname')))).toEqual(['db-1', 'web-10']);
    expect(names(visibleVms(FLEET, '', 'Destroyed', ascending('displayname')))).toEqual(['Cache Node']);
    expect(visibleVms(FLEET, '', 'Migrating', ascending('displayname'))).toEqual([]);
  });

  it('searches display name, name, host, IP, offering, group and id, ignoring case and outer spaces', () => {
    const search = (text: string) => names(visibleVms(FLEET, text, '', ascending('displayname')));
    expect(search('  WEB ')).toEqual(['web-2', 'web-10']);
    expect(search('cache')).toEqual(['Cache Node']); // by name, the display name differs
    expect(search('kvm-1')).toEqual(['db-1', 'web-2']);
    expect(search('192.168')).toEqual(['batch-1']);
    expect(search('large')).toEqual(['db-1']);
    expect(search('batch')).toEqual(['batch-1']);
    expect(search('id-db-1')).toEqual(['db-1']);
    expect(search('no such vm')).toEqual([]);
  });

  it('combines the state filter and the search', () => {
    expect(names(visibleVms(FLEET, 'web', 'Stopped', ascending('displayname')))).toEqual(['web-2']);
    expect(names(visibleVms(FLEET, 'small', 'Running', ascending('displayname')))).toEqual([]);
  });

  it('sorts addresses numerically by octet, with no address first', () => {
    expect(visibleVms(FLEET, '', '', ascending('ip')).map(ipOf)).toEqual(['', '10.0.0.9', '10.0.0.10', '10.0.1.2', '192.168.0.5']);
  });

  it('sorts by state, host, offering, HA and group, breaking ties by display name', () => {
    expect(names(visibleVms(FLEET, '', '', ascending('state')))).toEqual(['Cache Node', 'db-1', 'web-10', 'batch-1', 'web-2']);
    expect(names(visibleVms(FLEET, '', '', ascending('hostname')))).toEqual(['Cache Node', 'db-1', 'web-2', 'web-10', 'batch-1']);
    expect(names(visibleVms(FLEET, '', '', ascending('serviceofferingname')))).toEqual(['db-1', 'web-10', 'batch-1', 'Cache Node', 'web-2']);
    expect(names(visibleVms(FLEET, '', '', ascending('haenable')))).toEqual(['batch-1', 'Cache Node', 'web-2', 'db-1', 'web-10']);
    expect(names(visibleVms(FLEET, '', '', ascending('group')))).toEqual(['Cache Node', 'batch-1', 'db-1', 'web-2', 'web-10']);
  });

  it('does not reorder or change the inventory it is given', () => {
    const before = FLEET.map((v) => v.id);
    visibleVms(FLEET, 'web', '', { key: 'ip', descending: true });
    expect(FLEET.map((v) => v.id)).toEqual(before);
  });

  it('takes the default NIC\'s address, else the first NIC\'s', () => {
    expect(ipOf(vm('a', { nic: [{ id: '1', ipaddress: '10.0.0.1' }, { id: '2', ipaddress: '10.0.0.2', isdefault: true }] }))).toBe('10.0.0.2');
    expect(ipOf(vm('b', { nic: [{ id: '1', ipaddress: '10.0.0.1' }] }))).toBe('10.0.0.1');
    expect(ipOf(vm('c'))).toBe('');
  });

  it('filters and sorts 10,000 VMs', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => vm(`fx-${i}`, { state: i % 4 ? 'Running' : 'Stopped', ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
    const rows = names(visibleVms(many, 'fx-99', 'Stopped', { key: 'displayname', descending: true }));
    // fx-99, fx-990…999 and fx-9900…9999 match; every fourth VM is Stopped: 992, 996 and 9900, 9904 … 9996.
    expect(rows).toHaveLength(27);
    expect(rows.slice(0, 2)).toEqual(['fx-9996', 'fx-9992']);
    expect(rows.slice(-3)).toEqual(['fx-9900', 'fx-996', 'fx-992']);
  });
});

describe('the list-view store', () => {
  const initial = useVmListView.getState();
  beforeEach(() => useVmListView.setState(initial, true));

  it('sorts ascending on a new column and toggles the direction on the same one', () => {
    const s = () => useVmListView.getState();
    expect(s().sort).toEqual({ key: 'displayname', descending: false });
    s().sortBy('displayname');
    expect(s().sort).toEqual({ key: 'displayname', descending: true });
    s().sortBy('ip');
    expect(s().sort).toEqual({ key: 'ip', descending: false });
    s().sortBy('ip');
    s().sortBy('ip');
    expect(s().sort).toEqual({ key: 'ip', descending: false });
  });

  it('returns to the first row when the search or the filter changes', () => {
    const s = () => useVmListView.getState();
    s().setActiveIndex(42);
    s().setSearch('web');
    expect(s()).toMatchObject({ search: 'web', activeIndex: 0 });
    s().setActiveIndex(7);
    s().setStateFilter('Stopped');
    expect(s()).toMatchObject({ stateFilter: 'Stopped', activeIndex: 0 });
  });

  it('selects and deselects rows, each change a new Set (so subscribers re-render)', () => {
    const s = () => useVmListView.getState();
    const first = s().selected;
    s().toggle('a');
    s().toggle('b');
    expect([...s().selected]).toEqual(['a', 'b']);
    expect(s().selected).not.toBe(first);
    s().toggle('a');
    expect([...s().selected]).toEqual(['b']);
    s().setSelected(['x', 'y', 'x']);
    expect([...s().selected]).toEqual(['x', 'y']);
    s().clearSelection();
    expect(s().selected.size).toBe(0);
  });
});

describe('the VM store', () => {
  const initial = useVms.getState();
  beforeEach(() => {
    invoke.mockReset();
    useVms.setState(initial, true);
  });
  afterEach(() => vi.useRealTimers());

  it('loads every VM (listall) and indexes them by id', async () => {
    answer({ listVirtualMachines: (params) => (params['listall'] === true ? { count: 2, virtualmachine: FLEET.slice(0, 2) } : {}) });
    await useVms.getState().refresh();
    const s = useVms.getState();
    expect(s).toMatchObject({ loaded: true, loading: false, error: undefined });
    expect(names(s.vms)).toEqual(['web-10', 'web-2']);
    expect(s.byId.get('id-web-2')?.state).toBe('Stopped');
  });

  it('reads an empty list answer ({}) as no VMs', async () => {
    answer({ listVirtualMachines: () => ({}) });
    await useVms.getState().refresh();
    expect(useVms.getState()).toMatchObject({ vms: [], loaded: true });
  });

  it('shares one call between refreshes asked while one is in flight', async () => {
    const pending = deferred<Record<string, unknown>>();
    answer({ listVirtualMachines: () => pending.promise });
    const a = useVms.getState().refresh();
    const b = useVms.getState().refresh();
    expect(useVms.getState().loading).toBe(true);
    pending.resolve({ count: 1, virtualmachine: [FLEET[0]] });
    await Promise.all([a, b]);
    expect(invoke).toHaveBeenCalledTimes(1);
  });

  it('keeps the last list and shows the error when a refresh fails', async () => {
    answer({ listVirtualMachines: () => ({ count: 1, virtualmachine: [FLEET[0]] }) });
    await useVms.getState().refresh();
    answer({ listVirtualMachines: () => apiError(530, 'database is locked') });
    await useVms.getState().refresh();
    expect(useVms.getState()).toMatchObject({ error: 'database is locked', loading: false, loaded: true });
    expect(names(useVms.getState().vms)).toEqual(['web-10']);
  });

  /** An engine-like listVirtualMachines over FLEET: page and pagesize cut the list, count is the total. */
  const pagedAnswer = (fleet: Vm[], hold?: (page: number, size: number) => Promise<void> | undefined) =>
    answer({
      listVirtualMachines: async (params) => {
        const page = Number(params['page']);
        const size = Number(params['pagesize']);
        await hold?.(page, size);
        const rows = fleet.slice((page - 1) * size, page * size);
        return rows.length ? { count: fleet.length, virtualmachine: rows } : fleet.length ? { count: fleet.length } : {};
      },
    });
  const many = (n: number) => Array.from({ length: n }, (_, i) => vm(`vm-${i}`));

  it('loads in pages: the first page shows while the others are read, then the whole list', async () => {
    const fleet = many(1234);
    const later = deferred<void>();
    pagedAnswer(fleet, (page, size) => (size === 500 && page === 1 ? later.promise : undefined));
    const done = useVms.getState().refresh();
    await settle();
    expect(useVms.getState()).toMatchObject({ loaded: true, loading: true });
    expect(useVms.getState().vms.length).toBe(100);
    later.resolve();
    await done;
    expect(useVms.getState().loading).toBe(false);
    expect(names(useVms.getState().vms)).toEqual(names(fleet));
    // 100, then pages of 500: rows 0–499, 500–999, 1000–1233.
    expect(invoke.mock.calls.map((c) => `${String(c[1]?.['page'])}x${String(c[1]?.['pagesize'])}`)).toEqual(['1x100', '1x500', '2x500', '3x500']);
  });

  it('applies live records without fetching: changed rows replaced, new ones added, removed ones dropped', async () => {
    pagedAnswer(FLEET.slice(0, 3));
    await useVms.getState().refresh();
    invoke.mockClear();
    const before = useVms.getState().vms;
    useVms.getState().apply({ changed: [{ ...FLEET[0], state: 'Stopping', hostname: 'kvm-9', jobid: 'job-1' }, { ...vm('new-1'), state: 'Creating' }], removed: ['id-web-2'] });
    const s = useVms.getState();
    expect(names(s.vms)).toEqual(['web-10', 'db-1', 'new-1']);
    expect(s.byId.get('id-web-10')).toMatchObject({ state: 'Stopping', hostname: 'kvm-9', jobid: 'job-1' });
    expect(s.byId.has('id-web-2')).toBe(false);
    expect(s.byId.get('id-new-1')?.state).toBe('Creating');
    expect(s.vms).not.toBe(before);
    expect(BUSY_STATES.has('Stopping')).toBe(true);
    // A hundred changes in a burst: still no list call.
    for (let i = 0; i < 100; i++) useVms.getState().apply({ changed: [{ ...FLEET[0], state: i % 2 ? 'Stopped' : 'Stopping' }], removed: [] });
    await settle();
    expect(invoke).not.toHaveBeenCalled();
  });

  it('keeps a live change that arrives while the pages are read, over the older page', async () => {
    const fleet = many(700);
    const later = deferred<void>();
    pagedAnswer(fleet, (page, size) => (size === 500 && page === 2 ? later.promise : undefined));
    const done = useVms.getState().refresh();
    await settle();
    // vm-650 is on the page not read yet; it changes state before that page (read earlier) arrives.
    useVms.getState().apply({ changed: [{ ...fleet[650]!, state: 'Stopped' }, { ...vm('late'), state: 'Creating' }], removed: [] });
    later.resolve();
    await done;
    const s = useVms.getState();
    expect(s.byId.get('id-vm-650')?.state).toBe('Stopped');
    expect(s.vms.length).toBe(701);
    expect(s.vms.at(-1)?.id).toBe('id-late');
  });
});
