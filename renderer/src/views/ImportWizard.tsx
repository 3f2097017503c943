/**
 * The import wizard (R51, admins): a cluster, or a host Kiln does not manage (import/ExternalSource:
 * listVmsForImport, importVm importsource=external, its VMs copied onto the cluster); the VMs Kiln does not manage there,
 * filterable, with whether each can be imported and why not (listUnmanagedInstances); the VMs to
 * take over; each NIC's network (pre-filled by VLAN, mismatches flagged); each VM's offering (a
 * custom one keeps the VM's own CPU and memory); each data disk's disk offering; a review; then
 * one importUnmanagedInstance job per VM, each with its progress bar (the 'jobs' channel) and
 * its result. A VM listed as not importable only because its OS maps onto no guest OS of Kiln's
 * can be chosen too: the offerings step then asks for its template (templateid), whose OS it gets. A CSV of the list can be exported, and a filled-in one imported in bulk (CsvBulk).
 * A NIC whose VLAN has no network can get one created from discovery, a discovery CSV can create
 * the missing networks at once, and an endpoint not added yet can be discovered (import/).
 */
import { useEffect, useState } from 'react';
import { kiln } from '../transport';
import { useApiList } from '../api/use-api-list';
import { errorCode, errorText, listOf, type Cluster, type DiskOffering, type ServiceOffering } from '../api/model';
import { waitForJob } from '../api/jobs';
import {
  canChoose, dataDisks, diskOfferingFits, importParams, needsTemplate, nicProblem, offeringProblems, prefillChoices, templateOptions, templateProblem, vlanMatches,
  type ImportNetwork, type ImportTemplate, type UnmanagedVm, type VmChoices,
} from '../api/import-plan';
import { IMPORT_STEPS, useImportForm } from '../stores/import-form-store';
import { hasApi, paramProblem, useApiCatalog } from '../stores/api-catalog-store';
import { useJobs } from '../stores/jobs-store';
import { useVms } from '../stores/vm-store';
import { Field, Select } from './DeployWizard';
import { WizardFrame } from '../components/WizardFrame';
import { formatBytes, formatGiB } from '../api/format-size';
import { CsvBulk } from './import/CsvBulk';
import { XvaImport } from './import/XvaImport';
import { ImportProgress, type Run } from './import/ImportProgress';
import { CreateNicNetwork, DiscoveryCsv, fillUnmapped, useZoneNetworks } from './import/missing-networks';
import { DiscoverNetworksDialog } from './import/DiscoverNetworksDialog';
import { EMPTY_EXTERNAL, ExternalHostFields, externalForms, externalKeyChange, externalParams, externalProblems, HostKeyChanged, type ExternalHostForm, type ExternalKeyChange } from './import/ExternalSource';
import { useConnectionForms } from './hosts/AddEndpointDialog';
import type { ApiParams } from '../../../preload/api';


/** A NIC's or network's VLAN in the NIC step, with the private (secondary) VLAN when it has one: two networks on one primary VLAN differ only there. */
const onVlan = (vlan: number | string, pvlan: number | string | undefined) => (pvlan === undefined || pvlan === '' ? `VLAN ${vlan}` : `VLAN ${vlan}, private VLAN ${pvlan}`);

export function ImportWizard() {
  const form = useImportForm();
  const { clusterid, step, reached, selected, choices, goTo } = form;
  const apis = useApiCatalog((s) => s.apis);
  const [showErrors, setShowErrors] = useState(false);
  const [runs, setRuns] = useState<Record<string, Run>>();
  const [listVersion, setListVersion] = useState(0);

  const clusters = useApiList<Cluster>('listClusters', 'cluster', {});
  // The source: a Kiln cluster (external undefined), or a host Kiln does not manage whose VMs are copied onto the cluster.
  const connectionForms = useConnectionForms();
  const externalKinds = hasApi(apis, 'listVmsForImport') && hasApi(apis, 'importVm') ? externalForms(connectionForms) : [];
  const [external, setExternal] = useState<ExternalHostForm>();
  const [externalQuery, setExternalQuery] = useState<ApiParams>();
  const clusterOptions = external ? clusters.items.filter((c) => c.hypervisortype === external.hypervisor) : clusters.items;
  const cluster = clusterOptions.find((c) => c.id === clusterid);
  const unmanaged = useUnmanaged(external ? (externalQuery ? { command: 'listVmsForImport', params: externalQuery } : undefined) : clusterid ? { command: 'listUnmanagedInstances', params: { clusterid } } : undefined, clusterid, listVersion);
  // A host whose SSH key changed is the source step's business: back there, with the confirmation.
  const keyChange = external ? unmanaged.keyChange : undefined;
  useEffect(() => {
    if (keyChange && step === 1) goTo(0);
  }, [keyChange, step, goTo]);
  const trustNewKey = (fingerprint: string) => {
    if (!external || !cluster) return;
    const confirmed = { ...external, hostkeyfingerprint: fingerprint };
    setExternal(confirmed);
    setExternalQuery(externalParams(confirmed, cluster.zoneid));
    goTo(1);
  };
  const chooseSource = (hypervisor: string | undefined) => {
    setExternal(hypervisor === undefined ? undefined : { ...EMPTY_EXTERNAL, hypervisor });
    setExternalQuery(undefined);
    // Another source lists other VMs: what was chosen for the old one no longer applies.
    form.setCluster(hypervisor === undefined ? clusterid : clusters.items.find((c) => c.hypervisortype === hypervisor)?.id ?? '');
  };
  // Reloaded after networks are created from discovery; NICs still unmapped are then mapped by VLAN.
  const [networksVersion, setNetworksVersion] = useState(0);
  const [fillAt, setFillAt] = useState<number>();
  const [discovering, setDiscovering] = useState(false);
  const networks = useZoneNetworks(cluster?.zoneid, networksVersion);
  const reloadNetworksAndMap = () => {
    setFillAt(networksVersion + 1);
    setNetworksVersion((v) => v + 1);
  };
  const offerings = useApiList<ServiceOffering>('listServiceOfferings', 'serviceoffering', {});
  const diskOfferings = useApiList<DiskOffering>('listDiskOfferings', 'diskoffering', {});

  useEffect(() => {
    if (!clusterid && clusterOptions.length > 0) form.setCluster(clusterOptions[0]!.id);
  }, [clusterOptions, clusterid, form]);

  const chosenVms = unmanaged.items.filter((vm) => selected.includes(vm.name));
  // The templates of the cluster's zone and hypervisor, once a chosen VM needs one (its OS is unmapped).
  const wantTemplates = cluster !== undefined && chosenVms.some(needsTemplate);
  const templates = useApiList<ImportTemplate>('listTemplates', 'template', wantTemplates ? { templatefilter: 'executable', zoneid: cluster.zoneid, hypervisor: cluster.hypervisortype } : undefined);
  const templateChoices = templateOptions(templates.items);
  // Pre-fill a VM's choices once its lists are there (before the networks step is shown).
  const listsReady = !networks.loading && !offerings.loading && !diskOfferings.loading && cluster !== undefined;
  useEffect(() => {
    if (!listsReady) return;
    for (const vm of chosenVms) if (!choices[vm.name]) form.setChoices(vm.name, prefillChoices(vm, networks.items, offerings.items, diskOfferings.items));
  }, [listsReady, chosenVms, choices, form, networks.items, offerings.items, diskOfferings.items]);

  useEffect(() => {
    if (fillAt === undefined || networks.loading || networks.version !== fillAt) return;
    setFillAt(undefined);
    for (const [name, nicNetworks] of Object.entries(fillUnmapped(chosenVms, choices, networks.items))) form.setChoices(name, { nicNetworks });
  }, [fillAt, networks, chosenVms, choices, form]);
  // A network created for one NIC serves every chosen NIC on its VLAN (and private VLAN) that has none yet.
  const mapVlanTo = (networkId: string, vlan: number, pvlan?: number) => {
    for (const vm of chosenVms) {
      const have = choices[vm.name]?.nicNetworks ?? {};
      const gain = (vm.nic ?? []).filter((n) => n.vlanid === vlan && n.isolatedpvlan === pvlan && !have[n.id]);
      if (gain.length > 0) form.setChoices(vm.name, { nicNetworks: { ...have, ...Object.fromEntries(gain.map((n) => [n.id, networkId])) } });
    }
    setNetworksVersion((v) => v + 1);
  };
  const canCreateNetwork = hasApi(apis, 'createNetwork');
  const discoveryTools = (
    <div className="discovery-tools">
      {hasApi(apis, 'createNetworksFromCsv') && cluster && <DiscoveryCsv zoneid={cluster.zoneid} onCreated={reloadNetworksAndMap} />}
      {hasApi(apis, 'discoverEndpointNetworks') && canCreateNetwork && (
        <div className="button-row">
          <button type="button" onClick={() => setDiscovering(true)}>
            Discover an endpoint&apos;s networks…
          </button>
          <span className="hint">a vCenter or host Kiln has not added: list its networks and create the missing ones</span>
        </div>
      )}
    </div>
  );

  const problems = stepProblems(chosenVms, choices, networks.items, offerings.items, diskOfferings.items, clusterid, apis, external ? externalProblems(external) : []);
  const stepProblem = problems[step] ?? [];
  const next = () => {
    if (stepProblem.length > 0) return setShowErrors(true);
    setShowErrors(false);
    // The host is asked once the source step is complete, not on every keystroke.
    if (step === 0 && external && cluster) {
      const query = externalParams(external, cluster.zoneid);
      if (JSON.stringify(query) !== JSON.stringify(externalQuery)) {
        form.setCluster(clusterid);
        setExternalQuery(query);
      }
    }
    goTo(step + 1);
  };

  const runAll = async () => {
    const firstBad = problems.findIndex((p) => p.length > 0);
    if (firstBad >= 0) {
      goTo(firstBad);
      setShowErrors(true);
      return;
    }
    const jobs = useJobs.getState();
    const update = (name: string, run: Run) => setRuns((r) => ({ ...r, [name]: run }));
    setRuns(Object.fromEntries(chosenVms.map((vm) => [vm.name, { state: 'running' } as Run])));
    // The next visit starts afresh (the imported VMs are no longer unmanaged); the runs below keep what they need.
    form.reset();
    await Promise.all(
      chosenVms.map(async (vm) => {
        try {
          const offering = offerings.items.find((o) => o.id === choices[vm.name]!.serviceofferingid);
          const params = importParams(vm, choices[vm.name]!, offering);
          // From a host Kiln does not manage: importVm copies the disks onto the cluster, under the same rules.
          const response = externalQuery ? await kiln.invoke('importVm', { ...params, ...externalQuery, importsource: 'external' }) : await kiln.invoke('importUnmanagedInstance', params);
          const jobid = String(response['jobid']);
          // Each VM's result is shown here, row by row: no notification per job.
          jobs.quiet.add(jobid);
          update(vm.name, { state: 'running', jobid });
          const result = await waitForJob(jobid);
          const imported = result['virtualmachine'] as { id?: string; consolenote?: string } | undefined;
          // R50's note for a VM that was running: beside the VM in the job result, or inside it.
          const note = result['consolenote'] ?? imported?.consolenote;
          update(vm.name, { state: 'done', vmId: imported?.id, note: typeof note === 'string' ? note : undefined });
          if (imported?.id) void useVms.getState().reloadOne(imported.id);
        } catch (error) {
          const code = errorCode(error);
          update(vm.name, { state: 'failed', text: `${code ? `${code}: ` : ''}${errorText(error)}` });
        }
      }),
    );
  };

  if (runs) {
    return (
      <section className="view deploy" aria-labelledby="import-title">
        <div className="view-header">
          <h1 id="import-title">Import virtual machines</h1>
        </div>
        <ImportProgress runs={runs} />
        <p className="button-row">
          <a className="button" href="#/vms">
            Back to the list
          </a>
          <button
            type="button"
            disabled={Object.values(runs).some((r) => r.state === 'running')}
            onClick={() => {
              setRuns(undefined);
              form.reset();
              setListVersion((v) => v + 1);
            }}
          >
            Import more
          </button>
        </p>
      </section>
    );
  }

  return (
    <section className="view deploy" aria-labelledby="import-title">
      <div className="view-header">
        <h1 id="import-title">Import virtual machines</h1>
      </div>
      <WizardFrame
        navLabel="Import steps"
        className="wizard wide"
        steps={IMPORT_STEPS}
        step={step}
        reached={reached}
        goTo={goTo}
        titleId="import-step-title"
        problems={stepProblem}
        showProblems={showErrors}
        // Nothing selected: Next is off and says why beside it, instead of only once clicked.
        nextBlocked={step === 1 && chosenVms.length === 0 ? 'Select at least one VM to import.' : undefined}
        finishLabel={`Import ${chosenVms.length} VM${chosenVms.length === 1 ? '' : 's'}`}
        onNext={next}
        onFinish={() => void runAll()}
      >
        {step === 0 && (
          <>
            {externalKinds.length > 0 && (
              <fieldset className="fieldset import-source" role="radiogroup" aria-label="Import from">
                <legend>Import from</legend>
                <label className="check">
                  <input type="radio" name="import-source" checked={!external} onChange={() => chooseSource(undefined)} /> A cluster of Kiln: the VMs on its hosts that Kiln does not manage
                </label>
                {externalKinds.map((f) => (
                  <label key={f.hypervisor} className="check">
                    <input type="radio" name="import-source" checked={external?.hypervisor === f.hypervisor} onChange={() => chooseSource(f.hypervisor)} /> A {f.hypervisor} host Kiln does not manage: its VMs are copied onto a Kiln cluster
                  </label>
                ))}
              </fieldset>
            )}
            <Select label={external ? 'Cluster that receives the copies' : 'Cluster'} value={clusterid} onChange={(id) => form.setCluster(id)} options={clusterOptions.map((c) => ({ ...c, name: `${c.name}${c.podname ? ` (pod ${c.podname})` : ''}` }))} loading={clusters.loading} />
            <p className="hint">
              {external ? `Kiln copies each VM's disks onto a host of this cluster that is Up; the VM on the ${external.hypervisor} host is left as it is.` : 'Kiln asks every host of the cluster that is Up for the VMs it does not manage.'}
            </p>
            {external && <ExternalHostFields value={external} onChange={(patch) => setExternal({ ...external, ...patch })} />}
            {external && keyChange && <HostKeyChanged host={external.host.trim()} change={keyChange} onTrust={trustNewKey} />}
            {hasApi(apis, 'discoverEndpointNetworks') && canCreateNetwork && (
              <p className="hint">
                Coming from a vCenter Kiln has not added yet?{' '}
                <button type="button" className="link-button" onClick={() => setDiscovering(true)}>
                  Discover its networks
                </button>{' '}
                and create the missing ones first.
              </p>
            )}
          </>
        )}
        {step === 1 && (
          <>
            {!external && <CsvBulk clusterid={clusterid} onImported={() => setListVersion((v) => v + 1)} />}
            {!external && <XvaImport clusterid={clusterid} zoneid={cluster?.zoneid} onImported={() => setListVersion((v) => v + 1)} />}
            <VmPicker vms={unmanaged} where={externalQuery ? `on ${String(externalQuery['host'])}` : "on this cluster's hosts"} />
          </>
        )}
        {step === 2 && discoveryTools}
        {step === 2 &&
          chosenVms.map((vm) => (
            <fieldset key={vm.name} className="fieldset">
              <legend>{vm.name}</legend>
              {(vm.nic ?? []).length === 0 && <p className="hint">No NIC.</p>}
              {(vm.nic ?? []).map((nic) => {
                const chosen = choices[vm.name]?.nicNetworks[nic.id];
                const problem = nicProblem(vm.name, nic, chosen, networks.items);
                const matched = chosen !== undefined && vlanMatches(nic, networks.items).some((n) => n.id === chosen);
                const id = `nic-${vm.name}-${nic.id}`.replace(/\W+/g, '-');
                return (
                  <div key={nic.id} className="form-row" data-nic={`${vm.name}/${nic.id}`}>
                    <label htmlFor={id}>
                      {nic.id} ({nic.macaddress}, {nic.vlanid === undefined ? 'no VLAN' : onVlan(nic.vlanid, nic.isolatedpvlan)}
                      {nic.networkname ? `, ${nic.networkname}` : ''})
                    </label>
                    <select id={id} value={chosen ?? ''} aria-invalid={problem ? true : undefined} onChange={(e) => form.setChoices(vm.name, { nicNetworks: { ...choices[vm.name]?.nicNetworks, [nic.id]: e.target.value } })}>
                      <option value="">Choose…</option>
                      {networks.items.map((n) => (
                        <option key={n.id} value={n.id}>
                          {n.name} ({n.type}
                          {n.vlan ? `, ${onVlan(n.vlan, n.isolatedpvlan)}` : ''})
                        </option>
                      ))}
                    </select>
                    <span className={problem ? 'hint error' : 'hint'}>{problem ?? (matched ? `Matched by ${onVlan(nic.vlanid!, nic.isolatedpvlan)}` : 'Chosen by hand')}</span>
                    {!chosen && canCreateNetwork && cluster && vlanMatches(nic, networks.items).length === 0 && <CreateNicNetwork nic={nic} zoneid={cluster.zoneid} onCreated={mapVlanTo} />}
                  </div>
                );
              })}
            </fieldset>
          ))}
        {step === 3 &&
          chosenVms.map((vm) => {
            const c = choices[vm.name];
            const offering = offerings.items.find((o) => o.id === c?.serviceofferingid);
            return (
              <fieldset key={vm.name} className="fieldset">
                <legend>
                  {vm.name} <span className="muted">({vm.cpunumber} vCPU, {vm.memory} MB, {vm.powerstate === 'PowerOn' ? 'running' : 'stopped'})</span>
                </legend>
                <Select label={`Service offering for ${vm.name}`} value={c?.serviceofferingid ?? ''} onChange={(serviceofferingid) => form.setChoices(vm.name, { serviceofferingid })} options={offerings.items.map((o) => ({ ...o, name: o.iscustomized ? `${o.name} (custom)` : `${o.name} (${o.cpunumber} vCPU, ${o.memory} MB)` }))} />
                {needsTemplate(vm) && (
                  <>
                    <Select label={`Template for ${vm.name}`} value={c?.templateid ?? ''} onChange={(templateid) => form.setChoices(vm.name, { templateid })} options={templateChoices} loading={templates.loading} />
                    <p className="hint" data-template-for={vm.name}>
                      Its OS &ldquo;{vm.osdisplayname ?? 'unknown'}&rdquo; maps onto no guest OS of Kiln&apos;s: the VM gets the template&apos;s OS, and the template is the one it can be restored to.
                    </p>
                  </>
                )}
                {offering?.iscustomized && (
                  <>
                    <p className="hint" data-size-from-vm>
                      {vm.cpunumber} vCPU and {vm.memory} MB, from the VM: a custom offering keeps the VM&apos;s own size.
                    </p>
                    {offering.cpuspeed === undefined && <Field label={`CPU speed (MHz) of ${vm.name}`} value={c?.cpuSpeed ?? ''} onChange={(cpuSpeed) => form.setChoices(vm.name, { cpuSpeed })} inputMode="numeric" />}
                  </>
                )}
              </fieldset>
            );
          })}
        {step === 4 &&
          chosenVms.map((vm) => (
            <fieldset key={vm.name} className="fieldset">
              <legend>{vm.name}</legend>
              {dataDisks(vm).length === 0 && <p className="hint">No data disk: the first disk becomes the root volume.</p>}
              {dataDisks(vm).map((disk) => (
                <Select
                  key={disk.id}
                  label={`Disk ${disk.id} (${formatBytes(disk.capacity)}) of ${vm.name}`}
                  value={choices[vm.name]?.diskOfferings[disk.id] ?? ''}
                  onChange={(id) => form.setChoices(vm.name, { diskOfferings: { ...choices[vm.name]?.diskOfferings, [disk.id]: id } })}
                  options={diskOfferings.items.filter((o) => diskOfferingFits(o, disk)).map((o) => ({ ...o, name: o.iscustomized ? `${o.name} (custom size)` : `${o.name} (${formatGiB(o.disksize)})` }))}
                />
              ))}
            </fieldset>
          ))}
        {step === 5 && <ImportReview vms={chosenVms} choices={choices} networks={networks.items} offerings={offerings.items} diskOfferings={diskOfferings.items} templates={templateChoices} cluster={cluster?.name} onHostname={(name, hostname) => form.setChoices(name, { hostname })} />}
      </WizardFrame>
      {discovering && <DiscoverNetworksDialog zoneid={cluster?.zoneid ?? ''} onClose={() => setDiscovering(false)} onCreated={reloadNetworksAndMap} />}
    </section>
  );
}

/**
 * The VMs Kiln does not manage: QUERY is listUnmanagedInstances for a cluster, or listVmsForImport
 * for a host Kiln does not manage (whose rows get CLUSTERID, the cluster that receives the copies);
 * VERSION reloads it (after an import).
 */
function useUnmanaged(query: { command: string; params: ApiParams } | undefined, clusterid: string, version: number): { items: UnmanagedVm[]; loading: boolean; error?: string; keyChange?: ExternalKeyChange } {
  // FOR: the query the key refusal answered, so a new query (with the trusted key) does not show it for a moment.
  const [state, setState] = useState<{ items: UnmanagedVm[]; loading: boolean; error?: string; keyChange?: ExternalKeyChange; for?: string }>({ items: [], loading: false });
  const key = query ? JSON.stringify(query) : undefined;
  useEffect(() => {
    if (!key) return;
    const { command, params } = JSON.parse(key) as { command: string; params: ApiParams };
    let live = true;
    setState({ items: [], loading: true });
    kiln.invoke(command, params).then(
      (r) => live && setState({ items: listOf<UnmanagedVm>(r, 'unmanagedinstance').map((vm) => ({ ...vm, clusterid: vm.clusterid ?? clusterid })), loading: false }),
      (e: unknown) => live && setState({ items: [], loading: false, error: `${errorCode(e) ? `${errorCode(e)}: ` : ''}${errorText(e)}`, keyChange: externalKeyChange(e), for: key }),
    );
    return () => {
      live = false;
    };
  }, [key, clusterid, version]);
  return { ...state, keyChange: state.for === key ? state.keyChange : undefined };
}

function VmPicker({ vms, where }: { vms: { items: UnmanagedVm[]; loading: boolean; error?: string }; where: string }) {
  const { filter, selected, setFilter, toggle } = useImportForm();
  const needle = filter.trim().toLowerCase();
  const shown = vms.items.filter((vm) => !needle || [vm.name, vm.osdisplayname ?? '', ...(vm.nic ?? []).map((n) => n.networkname ?? '')].some((t) => t.toLowerCase().includes(needle)));
  return (
    <>
      <div className="form-row">
        <label htmlFor="import-filter">Filter</label>
        <input id="import-filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="Name, OS or network" />
      </div>
      {vms.error && (
        <p role="alert" className="error">
          {vms.error}
        </p>
      )}
      {vms.loading && <p className="muted">Asking the host{where.startsWith('on this') ? 's' : ''} {where.replace(/^on /, '')}…</p>}
      {!vms.loading && !vms.error && vms.items.length === 0 && <p className="empty">No VM {where} that Kiln does not manage.</p>}
      {shown.length > 0 && (
        <table className="plain-table unmanaged-vms" aria-label="Unmanaged VMs">
          <thead>
            <tr>
              <th>
                <span className="visually-hidden">Select</span>
              </th>
              <th>Name</th>
              <th>Power</th>
              <th>OS</th>
              <th>Size</th>
              <th>Disks</th>
              <th>NICs</th>
              <th>Importable</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((vm) => (
              <tr key={vm.name} data-importable={vm.importable}>
                <td>
                  <input type="checkbox" aria-label={`Select ${vm.name}`} disabled={!canChoose(vm)} checked={selected.includes(vm.name)} onChange={(e) => toggle(vm.name, e.target.checked)} />
                </td>
                <td className="vm-name">{vm.name}</td>
                <td className="nowrap">{vm.powerstate === 'PowerOn' ? 'Running' : vm.powerstate === 'PowerOff' ? 'Stopped' : vm.powerstate}</td>
                <td>{vm.osdisplayname ?? '—'}</td>
                <td className="nowrap">
                  {vm.cpunumber} vCPU, {vm.memory} MB
                </td>
                <td>{(vm.disk ?? []).length}</td>
                <td className="nowrap">{(vm.nic ?? []).map((n) => (n.vlanid === undefined ? n.networkname ?? '?' : `VLAN ${n.vlanid}`)).join(', ') || '—'}</td>
                <td>
                  {vm.importable ? 'Yes' : needsTemplate(vm) ? <span className="hint">With a template (chosen in the Offerings step): {(vm.notimportablereason ?? []).join('; ')}</span> : <span className="error">No: {(vm.notimportablereason ?? []).join('; ')}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {needle && vms.items.length > 0 && shown.length === 0 && <p className="empty">No unmanaged VM matches “{filter}”.</p>}
      <p className="hint">{selected.length} selected</p>
    </>
  );
}

function ImportReview(props: { vms: UnmanagedVm[]; choices: Record<string, VmChoices>; networks: ImportNetwork[]; offerings: ServiceOffering[]; diskOfferings: DiskOffering[]; templates: ImportTemplate[]; cluster?: string; onHostname(vm: string, hostname: string): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const name = (list: { id: string; name: string }[], id: string | undefined) => list.find((x) => x.id === id)?.name ?? '?';
  return (
    <table className="plain-table review" aria-label="Import review">
      <thead>
        <tr>
          <th>VM</th>
          <th>Hostname</th>
          <th>Networks</th>
          <th>Offering</th>
          <th>Template</th>
          <th>Data disks</th>
        </tr>
      </thead>
      <tbody>
        {props.vms.map((vm) => {
          const c = props.choices[vm.name];
          const problem = hostnameProblem(apis, vm, c);
          return (
            <tr key={vm.name}>
              <td>
                <span className="nowrap">{vm.name}</span> <span className="muted">({props.cluster})</span>
              </td>
              <td>
                {/* What is wrong is said once, in the step's alert below, naming the VM. */}
                <input aria-label={`Hostname of ${vm.name}`} value={c?.hostname ?? vm.name} onChange={(e) => props.onHostname(vm.name, e.target.value)} aria-invalid={problem ? true : undefined} />
              </td>
              <td>{(vm.nic ?? []).map((n) => `${n.id} → ${name(props.networks, c?.nicNetworks[n.id])}`).join(', ') || '—'}</td>
              <td>{name(props.offerings, c?.serviceofferingid)}</td>
              {/* Without one, the engine gives the VM its import template (R44), its OS mapped from the VM's. */}
              <td>{c?.templateid ? name(props.templates, c.templateid) : '—'}</td>
              <td>{dataDisks(vm).map((d) => `${d.id} → ${name(props.diskOfferings, c?.diskOfferings[d.id])}`).join(', ') || '—'}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}


type Apis = ReturnType<typeof useApiCatalog.getState>['apis'];

function hostnameProblem(apis: Apis, vm: UnmanagedVm, c: VmChoices | undefined): string | undefined {
  return paramProblem(apis, 'importUnmanagedInstance', 'hostname', c?.hostname || vm.name);
}

/** What keeps each step from being complete. */
function stepProblems(vms: UnmanagedVm[], choices: Record<string, VmChoices>, networks: ImportNetwork[], offerings: ServiceOffering[], diskOfferings: DiskOffering[], clusterid: string, apis: Apis, sourceProblems: string[]): string[][] {
  const problems: string[][] = IMPORT_STEPS.map(() => []);
  if (!clusterid) problems[0]!.push('Choose a cluster.');
  problems[0]!.push(...sourceProblems);
  if (vms.length === 0) problems[1]!.push('Select at least one VM to import.');
  for (const vm of vms) {
    const c = choices[vm.name];
    // The hostname (the VM's name unless changed in the review): the engine's own rule for it, from listApis.
    const hostname = hostnameProblem(apis, vm, c);
    if (hostname) problems[5]!.push(`${vm.name}: ${hostname}.`);
    for (const nic of vm.nic ?? []) {
      const p = nicProblem(vm.name, nic, c?.nicNetworks[nic.id], networks);
      if (p) problems[2]!.push(`${p}.`);
    }
    problems[3]!.push(...offeringProblems(vm, offerings.find((o) => o.id === c?.serviceofferingid), c?.cpuSpeed ?? ''));
    const template = templateProblem(vm, c?.templateid);
    if (template) problems[3]!.push(template);
    for (const disk of dataDisks(vm)) {
      const offering = diskOfferings.find((o) => o.id === c?.diskOfferings[disk.id]);
      if (!offering || !diskOfferingFits(offering, disk)) problems[4]!.push(`Choose a disk offering of at least ${formatBytes(disk.capacity)} for disk ${disk.id} of ${vm.name}.`);
    }
  }
  return problems;
}
