/** The frame: navigation, the current view, notifications and the one modal question. */
import { useEffect } from 'react';
import { useRoute, type Route } from './stores/route-store';
import { useVms } from './stores/vm-store';
import { hasApi, useApiCatalog } from './stores/api-catalog-store';
import { finishedNotice, useJobs } from './stores/jobs-store';
import { jobLabel, useJobNames } from './stores/job-names-store';
import { useTheme } from './stores/theme-store';
import { useDeployForm } from './stores/deploy-form-store';
import { kiln } from './transport';
import type { VmsUpdate } from './api/model';
import { JOB_IN_PROGRESS, subscribeJobs } from './api/jobs';
import { VmListView } from './views/VmListView';
import { VmDetailView } from './views/VmDetailView';
import { DeployWizard } from './views/DeployWizard';
import { HostsView } from './views/HostsView';
import { StoragePoolsView } from './views/StoragePoolsView';
import { GpuView } from './views/GpuView';
import { AffinityView } from './views/AffinityView';
import { KeyPairsView } from './views/KeyPairsView';
import { ImagesView } from './views/ImagesView';
import { AffinityGroupsDialog } from './views/affinity/AffinityGroupsDialog';
import { VmDialogs } from './views/vm/VmDialogs';
import { ActivityView } from './views/ActivityView';
import { SettingsView } from './views/SettingsView';
import { BackupsPage } from './views/backup/BackupsPage';
import { ImportWizard } from './views/ImportWizard';
import { Notifications } from './components/Notifications';
import { ConfirmDialog } from './components/ConfirmDialog';

/** Subscriptions and first loads, once per page. */
function useLiveData() {
  useEffect(() => {
    void useApiCatalog.getState().load();
    void useVms.getState().refresh();
    const offJobs = subscribeJobs((update) => {
      useJobs.getState().apply(update);
      // Any other object's name is read while the job runs, before a delete takes it away (job-names-store.ts).
      const named = useJobNames.getState().resolve(update, update.status !== JOB_IN_PROGRESS);
      if (update.status === JOB_IN_PROGRESS) return;
      // The VM's record comes over the 'vms' channel; only a VM the list does not hold yet is fetched, to name it.
      const known = !update.instanceId || update.instanceType !== 'VirtualMachine' || useVms.getState().byId.has(update.instanceId);
      void Promise.all([known ? undefined : useVms.getState().reloadOne(update.instanceId!), named]).then(() => {
        const jobs = useJobs.getState();
        if (jobs.quiet.delete(update.jobid)) return;
        const notice = finishedNotice(update, jobLabel(update, useVms.getState().byId, useJobNames.getState().names));
        if (notice) jobs.notify(notice.kind, notice.text);
      });
    });
    const offVms = kiln.subscribe('vms', (message) => useVms.getState().apply(message as VmsUpdate));
    // A safety net for changes no subscription reports (another Kiln process on the same data): rare, as it reads every page.
    const timer = setInterval(() => void useVms.getState().refresh(), 300_000);
    return () => {
      offJobs();
      offVms();
      clearInterval(timer);
    };
  }, []);
}

/** `needs`: shown only to callers that have this command (listApis), e.g. the admins' pages. */
const NAV: { view: Route['view']; href: string; label: string; needs?: string }[] = [
  { view: 'vms', href: '#/vms', label: 'Virtual machines' },
  { view: 'hosts', href: '#/hosts', label: 'Hosts' },
  { view: 'storage', href: '#/storage', label: 'Primary storage', needs: 'listStoragePools' },
  { view: 'gpus', href: '#/gpus', label: 'GPUs', needs: 'listGpuResidents' },
  { view: 'affinity', href: '#/affinity', label: 'Affinity' },
  { view: 'keys', href: '#/keys', label: 'SSH keys' },
  { view: 'images', href: '#/images', label: 'Images' },
  { view: 'events', href: '#/events', label: 'Jobs and events' },
  { view: 'backups', href: '#/backups', label: 'Backup offerings', needs: 'importBackupOffering' },
  { view: 'import', href: '#/import', label: 'Import VMs', needs: 'importUnmanagedInstance' },
  { view: 'settings', href: '#/settings', label: 'Settings' },
];

export function App() {
  useLiveData();
  const route = useRoute((s) => s.route);
  const { theme, toggle } = useTheme();
  const running = useJobs((s) => [...s.jobs.values()].filter((j) => j.status === JOB_IN_PROGRESS).length);
  const catalogError = useApiCatalog((s) => s.error);
  const apis = useApiCatalog((s) => s.apis);
  const current = route.view === 'vm' ? 'vms' : route.view;

  useEffect(() => {
    document.title = `Kiln · ${NAV.find((n) => n.view === current)?.label ?? 'Deploy'}`;
  }, [current]);

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href="#/vms" aria-label="Kiln home">
          <span className="brand-mark" aria-hidden="true" />
          Kiln
        </a>
        <nav className="nav" aria-label="Main">
          {NAV.filter((item) => !item.needs || hasApi(apis, item.needs)).map((item) => (
            <a key={item.view} href={item.href} className={current === item.view ? 'nav-link current' : 'nav-link'} aria-current={current === item.view ? 'page' : undefined}>
              {item.label}
              {item.view === 'events' && running > 0 && (
                <span className="pill" aria-label={`${running} running`}>
                  {running}
                </span>
              )}
            </a>
          ))}
        </nav>
        <div className="topbar-end">
          <a className={route.view === 'deploy' ? 'button primary current' : 'button primary'} href="#/deploy" aria-current={route.view === 'deploy' ? 'page' : undefined} onClick={() => route.view === 'deploy' && useDeployForm.getState().newDeploy()}>
            Deploy VM
          </a>
          <button type="button" className="theme-toggle" onClick={toggle} aria-pressed={theme === 'dark'} aria-label="Dark theme" title={theme === 'dark' ? 'Switch to the light theme' : 'Switch to the dark theme'}>
            <span aria-hidden="true">{theme === 'dark' ? '☾' : '☀'}</span>
          </button>
        </div>
      </header>
      {catalogError && (
        <p role="alert" className="error banner">
          Could not read the engine&apos;s command list (listApis): {catalogError}. Actions are hidden until it loads.
        </p>
      )}
      <main id="main" className="main" tabIndex={-1}>
        {route.view === 'vms' && <VmListView />}
        {route.view === 'vm' && <VmDetailView id={route.id} tab={route.tab} />}
        {route.view === 'deploy' && <DeployWizard />}
        {route.view === 'hosts' && <HostsView />}
        {route.view === 'storage' && <StoragePoolsView />}
        {route.view === 'gpus' && <GpuView />}
        {route.view === 'affinity' && <AffinityView />}
        {route.view === 'keys' && <KeyPairsView />}
        {route.view === 'images' && <ImagesView />}
        {route.view === 'events' && <ActivityView />}
        {route.view === 'settings' && <SettingsView />}
        {route.view === 'backups' && <BackupsPage />}
        {route.view === 'import' && <ImportWizard />}
      </main>
      <Notifications />
      <AffinityGroupsDialog />
      <VmDialogs />
      <ConfirmDialog />
    </div>
  );
}
