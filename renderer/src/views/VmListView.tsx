/** The VM list: search, state filter, sortable columns, multi-select with bulk actions, windowed rows. */
import { useCallback, useMemo, type KeyboardEvent } from 'react';
import type { Vm } from '../api/model';
import { VirtualTable } from '../components/VirtualTable';
import { StateBadge } from '../components/StateBadge';
import { ActionMenu } from '../components/ActionMenu';
import { BulkBar } from './BulkBar';
import { BulkRuns } from './BulkRuns';
import { useVms } from '../stores/vm-store';
import { ipOf, useVmListView, visibleVms, type SortKey } from '../stores/vm-list-view-store';
import { navigate } from '../stores/route-store';
import { hasApi, useApiCatalog } from '../stores/api-catalog-store';
import { useHostCapabilities, useHostCapabilityMap } from '../stores/host-capabilities-store';

const ROW_HEIGHT = 40;

const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'displayname', label: 'Name' },
  { key: 'state', label: 'State' },
  { key: 'hostname', label: 'Host' },
  { key: 'ip', label: 'IP' },
  { key: 'serviceofferingname', label: 'Offering' },
  { key: 'haenable', label: 'HA' },
  { key: 'group', label: 'Group' },
];

export function VmListView() {
  const { vms, loaded, loading, error, refresh } = useVms();
  const view = useVmListView();
  const rows = useMemo(() => visibleVms(vms, view.search, view.stateFilter, view.sort), [vms, view.search, view.stateFilter, view.sort]);
  // The filter offers the states the list holds (no state list is written out in the UI).
  const states = useMemo(() => [...new Set(vms.map((vm) => vm.state))].sort(), [vms]);
  const allSelected = rows.length > 0 && rows.every((vm) => view.selected.has(vm.id));
  // The actions menus' host capabilities, read for the list as a whole, not by each row's menu (each
  // row's subscriptions cost a little more on every row scrolled in): a VM on a host the map lacks
  // has it read again.
  const mayListHosts = useApiCatalog((s) => hasApi(s.apis, 'listHosts'));
  const byHost = useHostCapabilities((s) => s.byHost);
  const unknownHost = useMemo(() => vms.find((vm) => vm.hostid && !byHost.has(vm.hostid))?.hostid, [vms, byHost]);
  useHostCapabilityMap(unknownHost, mayListHosts);

  const onRowKeyDown = (index: number, event: KeyboardEvent<HTMLElement>) => {
    const vm = rows[index];
    if (!vm || (event.target as HTMLElement).tagName !== 'TR') return;
    if (event.key === ' ') {
      event.preventDefault();
      view.toggle(vm.id);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      navigate({ view: 'vm', id: vm.id, tab: 'overview' });
    }
  };

  const header = (
    <>
      <th role="columnheader" className="col-select">
        <input
          type="checkbox"
          aria-label="Select all shown VMs"
          checked={allSelected}
          onChange={() => view.setSelected(allSelected ? [] : rows.map((vm) => vm.id))}
        />
      </th>
      {COLUMNS.map((column) => {
        const sorted = view.sort.key === column.key;
        return (
          <th key={column.key} role="columnheader" aria-sort={sorted ? (view.sort.descending ? 'descending' : 'ascending') : 'none'}>
            <button type="button" className="sort-button" onClick={() => view.sortBy(column.key)}>
              {column.label}
              <span className="sort-mark" aria-hidden="true">
                {sorted ? (view.sort.descending ? '▼' : '▲') : ''}
              </span>
            </button>
          </th>
        );
      })}
      <th role="columnheader" className="col-actions">
        <span className="visually-hidden">Actions</span>
      </th>
    </>
  );

  // Stable while the rows and the selection are: the table's memoized rows then re-render only
  // when they scroll in or their active state changes.
  const { selected, toggle } = view;
  const renderCells = useCallback((index: number, active: boolean) => {
    const vm = rows[index]!;
    const name = vm.displayname || vm.name;
    const tab = active ? 0 : -1;
    return (
      <>
        <td role="cell" className="col-select">
          <input type="checkbox" tabIndex={tab} aria-label={`Select ${name}`} checked={selected.has(vm.id)} onChange={() => toggle(vm.id)} />
        </td>
        <td role="cell" className="col-name">
          <a href={`#/vms/${encodeURIComponent(vm.id)}/overview`} tabIndex={tab} title={vm.name !== name ? `${name} (${vm.name})` : name}>
            {name}
          </a>
        </td>
        <td role="cell">
          <StateBadge state={vm.state} pendingJob={vm.jobid !== undefined} />
        </td>
        <td role="cell">{vm.hostname ?? ''}</td>
        <td role="cell" className="mono">{ipOf(vm)}</td>
        <td role="cell">{vm.serviceofferingname ?? ''}</td>
        <td role="cell">{vm.haenable ? 'Yes' : 'No'}</td>
        <td role="cell">{vm.group ?? ''}</td>
        <td role="cell" className="col-actions">
          <ActionMenu vm={vm} tabbable={active} />
        </td>
      </>
    );
  }, [rows, selected, toggle]);

  return (
    <section className="view vm-list" aria-labelledby="vm-list-title">
      <div className="view-header">
        <h1 id="vm-list-title">Virtual machines</h1>
        <div className="toolbar">
          <input type="search" className="search" placeholder="Search name, host, IP, group…" aria-label="Search VMs" value={view.search} onChange={(e) => view.setSearch(e.target.value)} />
          <label className="inline-label">
            State
            <select value={view.stateFilter} onChange={(e) => view.setStateFilter(e.target.value)} aria-label="Filter by state">
              <option value="">All</option>
              {states.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <span className="count" aria-live="polite">
            {rows.length === vms.length ? `${vms.length} VMs` : `${rows.length} of ${vms.length} VMs`}
          </span>
          <button type="button" onClick={() => void refresh()} disabled={loading}>
            Refresh
          </button>
        </div>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <BulkBar rows={rows} />
      <BulkRuns />
      <VirtualTable
        label="Virtual machines"
        rowCount={rows.length}
        rowHeight={ROW_HEIGHT}
        gridClass="vm-grid"
        header={header}
        rowKey={(i) => rows[i]!.id}
        rowClass={(i) => (view.selected.has(rows[i]!.id) ? 'selected' : '')}
        renderCells={renderCells}
        activeIndex={view.activeIndex}
        onActiveIndexChange={view.setActiveIndex}
        onRowKeyDown={onRowKeyDown}
        empty={loaded && <p className="empty">{vms.length === 0 ? 'No virtual machines yet. Deploy one.' : 'No VM matches the search and filter.'}</p>}
      />
    </section>
  );
}

export type { Vm };
