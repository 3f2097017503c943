/** One VM: overview, settings (details), NICs, volumes, snapshots, events, console, and its actions. */
import { useState, type ReactNode } from 'react';
import { TagEditor } from '../components/TagEditor';
import type { Vm } from '../api/model';
import { StateBadge } from '../components/StateBadge';
import { actionsFor } from '../actions/vm-actions';
import { runVmAction } from '../actions/run-action';
import { useApiCatalog, hasApi } from '../stores/api-catalog-store';
import { useHostCapabilityMap } from '../stores/host-capabilities-store';
import { useVms } from '../stores/vm-store';
import { hrefOf } from '../stores/route-store';
import { ipOf } from '../stores/vm-list-view-store';
import { EventLog, formatTime } from './EventLog';
import { ConsoleTab } from '../console/ConsoleTab';
import { VmSettings } from './vm/VmSettings';
import { VmEditForm } from './vm/VmEditForm';
import { VmVolumes } from './vm/VmVolumes';
import { VmNics } from './vm/VmNics';
import { VmSnapshots } from './vm/VmSnapshots';
import { VmBackups } from './vm/VmBackups';

const TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'settings', label: 'Settings' },
  { id: 'nics', label: 'NICs' },
  { id: 'volumes', label: 'Volumes' },
  { id: 'snapshots', label: 'Snapshots' },
  { id: 'backups', label: 'Backups' },
  { id: 'events', label: 'Events' },
  { id: 'console', label: 'Console' },
];

export function VmDetailView({ id, tab }: { id: string; tab: string }) {
  const vm = useVms((s) => s.byId.get(id));
  const loaded = useVms((s) => s.loaded);
  const apis = useApiCatalog((s) => s.apis);
  const hostCapabilities = useHostCapabilityMap(vm?.hostid, hasApi(apis, 'listHosts'));
  if (!vm) {
    return (
      <section className="view">
        <p>
          <a href="#/vms">← Virtual machines</a>
        </p>
        <p>{loaded ? `No VM ${id} (it may have been expunged).` : 'Loading…'}</p>
      </section>
    );
  }
  const name = vm.displayname || vm.name;
  const current = TABS.some((t) => t.id === tab) ? tab : 'overview';
  return (
    <section className="view vm-detail" aria-labelledby="vm-title">
      <p className="breadcrumb">
        <a href="#/vms">← Virtual machines</a>
      </p>
      <div className="view-header">
        <h1 id="vm-title">
          {name} <StateBadge state={vm.state} pendingJob={vm.jobid !== undefined} />
        </h1>
        <div className="toolbar" role="toolbar" aria-label={`Actions for ${name}`}>
          {actionsFor(vm, apis, hostCapabilities).map((action) => (
            <button key={action.id} type="button" className={action.danger ? 'danger' : undefined} title={action.title} onClick={() => void runVmAction(action, vm)}>
              {action.label}
            </button>
          ))}
        </div>
      </div>
      <nav className="tabs" aria-label="VM sections">
        {TABS.map((t) => (
          <a key={t.id} href={hrefOf({ view: 'vm', id: vm.id, tab: t.id })} className={t.id === current ? 'tab current' : 'tab'} aria-current={t.id === current ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      <div className="tab-panel">
        {current === 'overview' && <Overview key={vm.id} vm={vm} canEdit={hasApi(apis, 'updateVirtualMachine')} />}
        {current === 'settings' && <VmSettings key={vm.id} vm={vm} />}
        {current === 'nics' && <VmNics key={vm.id} vm={vm} />}
        {current === 'volumes' && <VmVolumes key={vm.id} vm={vm} />}
        {current === 'snapshots' && <VmSnapshots key={vm.id} vm={vm} />}
        {current === 'backups' && <VmBackups key={vm.id} vm={vm} />}
        {current === 'events' && <EventLog resourceId={vm.id} compact />}
        {current === 'console' && <ConsoleTab key={vm.id} vm={vm} />}
      </div>
    </section>
  );
}

function Fields({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="fields">
      {rows.map(([k, v]) => (
        <div key={k} className="field">
          <dt>{k}</dt>
          <dd>{v === undefined || v === '' ? '—' : v}</dd>
        </div>
      ))}
    </dl>
  );
}

function Overview({ vm, canEdit }: { vm: Vm; canEdit: boolean }) {
  const [editing, setEditing] = useState(false);
  if (editing) return <VmEditForm vm={vm} onDone={() => setEditing(false)} />;
  return (
    <>
      {canEdit && (
        <div className="panel-actions">
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
        </div>
      )}
      <OverviewFields vm={vm} />
      <TagEditor resourceType="UserVm" resourceId={vm.id} label={vm.displayname || vm.name} />
    </>
  );
}

function OverviewFields({ vm }: { vm: Vm }) {
  return (
    <Fields
      rows={[
        ['Display name', vm.displayname],
        ['Name (hostname)', vm.name],
        ['ID', <code key="id">{vm.id}</code>],
        ['State', vm.state],
        ['Zone', vm.zonename],
        ['Host', vm.hostname],
        ['IP address', ipOf(vm)],
        ['Template', vm.templatename],
        ['ISO in the CD-ROM drive', vm.isoname],
        ['OS', vm.osdisplayname],
        ['Offering', vm.serviceofferingname],
        ['CPU', vm.cpunumber ? `${vm.cpunumber} × ${vm.cpuspeed ?? '?'} MHz` : undefined],
        ['Memory', vm.memory ? `${vm.memory} MB` : undefined],
        ['HA', vm.haenable ? 'Enabled' : 'Disabled'],
        ['Group', vm.group],
        ['Hypervisor', vm.hypervisor],
        ['Instance name', vm.instancename],
        ['Account', vm.account ? `${vm.account} (${vm.domain ?? ''})` : undefined],
        ['Affinity groups', vm.affinitygroup?.map((g) => g.name).join(', ')],
        ['SSH key pairs', vm.keypairs?.split(',').join(', ')],
        ['Created', vm.created ? formatTime(vm.created) : undefined],
      ]}
    />
  );
}

