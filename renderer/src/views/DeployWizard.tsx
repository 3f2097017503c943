/**
 * The deploy wizard: placement (zone; for admins pod, cluster or host; affinity groups), template
 * or ISO (an ISO needs a disk offering), service offering (custom ones ask CPU and memory),
 * networks, names, and start now or not. Admins can ask the planner to explain the placement
 * before deploying (explainPlacement). It submits deployVirtualMachine and follows the job; the
 * outcome shows the host chosen and the hosts refused with their reasons (the job's placement),
 * and a placement refusal (533) lists each host and why it was refused.
 */
import { useEffect, useState, type ReactNode } from 'react';
import type { ApiParams } from '../../../preload/api';
import { kiln } from '../transport';
import { useApiList } from '../api/use-api-list';
import { useLiveVersion } from '../api/use-live-version';
import { errorCode, errorText, type AffinityGroup, type DiskOffering, type Named, type Placement, type ServiceOffering } from '../api/model';
import { PlacementTable } from '../components/PlacementTable';
import { WizardFrame } from '../components/WizardFrame';
import { customSizeParams, customSizeProblems, customSummary, rangeHint } from '../api/custom-offering';
import { waitForJob } from '../api/jobs';
import { DEPLOY_STEPS, REVIEW_STEP, hostnameProblem, useDeployForm, type DeployDraft } from '../stores/deploy-form-store';
import { decodedSize, KeyPairStep, UserDataStep, userDataProblem } from './deploy/AccessSteps';
import { hasApi, useApiCatalog, type ApiInfo } from '../stores/api-catalog-store';
import { useJobs } from '../stores/jobs-store';
import { useVms } from '../stores/vm-store';
import { hrefOf } from '../stores/route-store';
import { applianceOfTemplate, applianceProblems, chosenOption, offeringsForOption, type ApplianceView, type TemplateWithDetails } from '../api/appliance';
import { ApplianceChoices, ApplianceNetworks } from './deploy/ApplianceStep';
import { privateVlanNote, type PrivateVlanNetwork } from './deploy/private-vlan';
import { formatGiB } from '../api/format-size';

type Outcome =
  | { kind: 'running'; jobid: string; vmId?: string }
  | { kind: 'done'; vmId?: string; name: string; started: boolean; fromIso: boolean; hostname?: string; placement?: Placement }
  | { kind: 'failed'; code?: number; text: string; refusals: { host: string; reason: string }[] };

export function DeployWizard() {
  const { draft, step, reached, set, goTo, reset } = useDeployForm();
  const apis = useApiCatalog((s) => s.apis);
  const isAdmin = hasApi(apis, 'listHosts');
  const [outcome, setOutcome] = useState<Outcome>();
  const [showErrors, setShowErrors] = useState(false);

  const zones = useApiList<Named>('listZones', 'zone', {});
  const pods = useApiList<Named>('listPods', 'pod', isAdmin && draft.zoneid ? { zoneid: draft.zoneid } : undefined);
  const clusters = useApiList<Named>('listClusters', 'cluster', isAdmin && draft.zoneid ? { zoneid: draft.zoneid, podid: draft.podid || undefined } : undefined);
  const hosts = useApiList<Named & { state?: string }>('listHosts', 'host', isAdmin && draft.zoneid ? { zoneid: draft.zoneid, podid: draft.podid || undefined, clusterid: draft.clusterid || undefined } : undefined);
  // The image lists follow the live feed: an image registered, downloaded or deleted while the
  // wizard is open is read again (the images channel), as the VM list follows the vms channel.
  const imagesVersion = useLiveVersion('images');
  const templates = useApiList<TemplateWithDetails>('listTemplates', 'template', draft.zoneid ? { templatefilter: 'executable', zoneid: draft.zoneid } : undefined, imagesVersion);
  // 'executable' lists only the ISOs a VM can boot (downloaded); the caller's own ('self', every
  // state) says which of theirs are still on their way, so a just-registered ISO is not just missing.
  const isos = useApiList<Named>('listIsos', 'iso', draft.zoneid ? { isofilter: 'executable', zoneid: draft.zoneid } : undefined, imagesVersion);
  const ownIsos = useApiList<Named & { isready?: boolean; status?: string }>('listIsos', 'iso', draft.zoneid && draft.source === 'iso' ? { isofilter: 'self', zoneid: draft.zoneid } : undefined, imagesVersion);
  const pendingIsos = ownIsos.items.filter((i) => !i.isready);
  const diskOfferings = useApiList<DiskOffering>('listDiskOfferings', 'diskoffering', {});
  // A disk offering by name and size, in the chooser and in the review alike.
  const diskChoices = diskOfferings.items.map((d) => ({ ...d, name: d.iscustomized ? `${d.name} (custom size)` : `${d.name} (${formatGiB(d.disksize)})` }));
  const offerings = useApiList<ServiceOffering>('listServiceOfferings', 'serviceoffering', {});
  const networkList = useApiList<Named & { type?: string; zoneid?: string } & PrivateVlanNetwork>('listNetworks', 'network', draft.zoneid ? { zoneid: draft.zoneid } : undefined);
  // Right after the zone changes the list still holds the previous zone's networks until the new
  // answer arrives: only the chosen zone's are shown and picked (the first pick once raced ahead
  // with another zone's network, which the user never saw ticked).
  const networks = { ...networkList, items: networkList.items.filter((n) => n.zoneid === draft.zoneid) };
  // The deploying account's own groups (a VM may join only those).
  const affinityGroups = useApiList<AffinityGroup>('listAffinityGroups', 'affinitygroup', hasApi(apis, 'listAffinityGroups') ? {} : undefined);
  const canExplain = hasApi(apis, 'explainPlacement');

  // Sensible first choices once the lists arrive, each only while its field is still empty. The
  // draft is read from the store when the effect runs, not from the render that scheduled it: React
  // runs an effect after the paint, and a choice made in between (the zone list shown, a zone
  // picked at once) was overwritten by this render's stale empty draft with the first zone (CI: the
  // vSphere zone picked, the Demo zone's templates offered).
  useEffect(() => {
    const first = zones.items[0]?.id;
    if (first && !useDeployForm.getState().draft.zoneid) set({ zoneid: first });
  }, [zones.items, draft.zoneid, set]);
  const firstNetwork = networks.items.find((n) => n.isolatedpvlansupported !== false)?.id;
  useEffect(() => {
    // FIRSTNETWORK is of this render's zone: not offered once another zone has been chosen since.
    const now = useDeployForm.getState().draft;
    if (firstNetwork && now.networkids.length === 0 && now.zoneid === draft.zoneid) set({ networkids: [firstNetwork] });
  }, [firstNetwork, draft.networkids.length, draft.zoneid, set]);

  // "Deploy VM" chosen again after a finished deploy: back to a fresh first step.
  const restart = useDeployForm((s) => s.restart);
  useEffect(() => setOutcome((o) => (o?.kind === 'done' ? undefined : o)), [restart]);

  const offering = offerings.items.find((o) => o.id === draft.serviceofferingid);
  const diskOffering = diskOfferings.items.find((d) => d.id === draft.diskofferingid);
  // An appliance template (an OVA): its option filters the offerings (R38), its NICs get a network each.
  const appliance = draft.source === 'template' ? applianceOfTemplate(templates.items.find((t) => t.id === draft.templateid)) : undefined;
  const option = appliance && chosenOption(appliance, draft.configurationId);
  const shownOfferings = appliance ? offeringsForOption(offerings.items, option) : offerings.items;
  const problems = stepProblems(draft, offering, diskOffering, apis, appliance, shownOfferings, networks.items);
  const stepProblem = problems[step] ?? [];
  // The name's problem is said under its field already: not a second time in the step's list.
  const nameProblem = hostnameProblem(draft.name, apis);
  const listedProblems = step === DEPLOY_STEPS.indexOf('Names') && nameProblem ? stepProblem.filter((p) => p !== `${nameProblem}.`) : stepProblem;

  const next = () => {
    if (stepProblem.length > 0) {
      setShowErrors(true);
      // The first field that says what is wrong gets the focus (the name's hint when only it is).
      document.querySelector<HTMLElement>('.wizard-body [aria-invalid="true"]')?.focus();
      return;
    }
    setShowErrors(false);
    goTo(step + 1);
  };

  const submit = async () => {
    const firstBad = problems.findIndex((p) => p && p.length > 0);
    if (firstBad >= 0) {
      goTo(firstBad);
      setShowErrors(true);
      return;
    }
    const params = deployParams(draft, offering, diskOffering, appliance);
    try {
      const response = await kiln.invoke('deployVirtualMachine', params);
      const jobid = String(response['jobid']);
      const vmId = typeof response['id'] === 'string' ? response['id'] : undefined;
      setOutcome({ kind: 'running', jobid, vmId });
      const result = await waitForJob(jobid);
      const vm = result['virtualmachine'] as { id?: string; displayname?: string; state?: string; hostname?: string; placement?: Placement } | undefined;
      setOutcome({ kind: 'done', vmId: vm?.id ?? vmId, name: vm?.displayname ?? draft.displayname ?? draft.name, started: draft.startvm, fromIso: draft.source === 'iso', hostname: vm?.hostname, placement: vm?.placement });
      // The next visit starts a fresh draft (a name is used once).
      reset();
      // The new VM also arrives over the 'vms' channel; this shows it in the list at once.
      const id = vm?.id ?? vmId;
      if (id) void useVms.getState().reloadOne(id);
    } catch (error) {
      setOutcome({ kind: 'failed', code: errorCode(error), text: errorText(error), refusals: refusalsOf(error) });
    }
  };

  if (outcome && outcome.kind !== 'failed') {
    return (
      <section className="view deploy" aria-labelledby="deploy-title">
        <div className="view-header">
          <h1 id="deploy-title">Deploy a virtual machine</h1>
        </div>
        <DeployProgress outcome={outcome} onAnother={() => { reset(); setOutcome(undefined); }} />
      </section>
    );
  }

  return (
    <section className="view deploy" aria-labelledby="deploy-title">
      <div className="view-header">
        <h1 id="deploy-title">Deploy a virtual machine</h1>
      </div>
      <WizardFrame
        navLabel="Deploy steps"
        steps={DEPLOY_STEPS}
        step={step}
        reached={reached}
        goTo={goTo}
        done={(i) => (problems[i]?.length ?? 0) === 0}
        titleId="wizard-step-title"
        problems={listedProblems}
        showProblems={showErrors}
        finishLabel="Deploy"
        onNext={next}
        onFinish={() => void submit()}
        footer={outcome?.kind === 'failed' && <DeployFailure outcome={outcome} />}
      >
        {step === 0 && (
          <>
            <Select label="Zone" value={draft.zoneid} onChange={(zoneid) => set({ zoneid, podid: '', clusterid: '', hostid: '', templateid: '', isoid: '', networkids: [] })} options={zones.items} loading={zones.loading} />
            {isAdmin && (
              <fieldset className="fieldset">
                <legend>Placement (optional, admins only)</legend>
                <p className="hint">Leave these on “Any” to let Kiln choose a host.</p>
                <Select label="Pod" value={draft.podid} onChange={(podid) => set({ podid, clusterid: '', hostid: '' })} options={pods.items} any />
                <Select label="Cluster" value={draft.clusterid} onChange={(clusterid) => set({ clusterid, hostid: '' })} options={clusters.items} any />
                <Select label="Host" value={draft.hostid} onChange={(hostid) => set({ hostid })} options={hosts.items.map((h) => ({ ...h, name: `${h.name}${h.state && h.state !== 'Up' ? ` (${h.state})` : ''}` }))} any />
              </fieldset>
            )}
            {hasApi(apis, 'listAffinityGroups') && (
              <fieldset className="fieldset">
                <legend>Affinity groups (optional)</legend>
                {affinityGroups.items.length === 0 && !affinityGroups.loading && (
                  <p className="hint">
                    You have no affinity group. Create one under <a href="#/affinity">Affinity</a> to keep VMs apart or together on hosts.
                  </p>
                )}
                {affinityGroups.items.map((g) => (
                  <label key={g.id} className="check">
                    <input
                      type="checkbox"
                      checked={draft.affinitygroupids.includes(g.id)}
                      onChange={(e) => set({ affinitygroupids: e.target.checked ? [...draft.affinitygroupids, g.id] : draft.affinitygroupids.filter((id) => id !== g.id) })}
                    />
                    {g.name}{' '}
                    <span className="muted">
                      {g.type}, {g.virtualmachineIds?.length ?? 0} member{g.virtualmachineIds?.length === 1 ? '' : 's'}
                      {new Set(affinityGroups.items.map((x) => x.account)).size > 1 && g.account ? ` (account ${g.account})` : ''}
                    </span>
                  </label>
                ))}
              </fieldset>
            )}
          </>
        )}
        {step === 1 && (
          <>
            <fieldset className="fieldset radio-row">
              <legend>Boot from</legend>
              <label>
                <input type="radio" name="source" checked={draft.source === 'template'} onChange={() => set({ source: 'template' })} /> Template
              </label>
              <label>
                <input type="radio" name="source" checked={draft.source === 'iso'} onChange={() => set({ source: 'iso' })} /> ISO (installs onto a blank disk)
              </label>
            </fieldset>
            {draft.source === 'template' ? (
              <>
                <Select label="Template" value={draft.templateid} onChange={(templateid) => set({ templateid, configurationId: '', properties: {}, nicNetworks: {}, eulaAccepted: false })} options={templates.items} loading={templates.loading} />
                {appliance && <ApplianceChoices appliance={appliance} draft={draft} set={set} showProblems={showErrors} />}
              </>
            ) : (
              <>
                <p className="hint">
                  The VM boots the ISO&rsquo;s installer with an empty root disk from the disk offering. Watch the install on its console; when it is done, detach the ISO
                  (Detach ISO) and reboot: the VM then boots the installed system from its disk.
                </p>
                <Select label="ISO" value={draft.isoid} onChange={(isoid) => set({ isoid })} options={isos.items} loading={isos.loading} />
                {isos.items.length === 0 && !isos.loading && pendingIsos.length === 0 && <p className="empty">This zone has no ISO. Register one on the <a href="#/images">Images</a> page and wait for its download.</p>}
                {pendingIsos.length > 0 && (
                  <p className="hint" role="note">
                    Not ready yet, so not offered: {pendingIsos.map((i) => `${i.name} (${i.status || 'downloading'})`).join(', ')}.
                  </p>
                )}
                <Select
                  label="Disk offering (the root disk)"
                  value={draft.diskofferingid}
                  onChange={(diskofferingid) => set({ diskofferingid })}
                  options={diskChoices}
                />
                {diskOffering?.iscustomized && <Field label="Disk size (GiB)" value={draft.disksize} onChange={(disksize) => set({ disksize })} inputMode="numeric" />}
              </>
            )}
          </>
        )}
        {step === 2 && (
          <>
            <fieldset className="fieldset offering-list">
              <legend>Service offering</legend>
              {appliance && option && (
                <p className="hint" role="note">
                  Deployment option {option.label} needs {option.cpuNumber ?? '?'} vCPU and {option.memory ?? '?'} MB: only offerings that meet it are shown.
                </p>
              )}
              {shownOfferings.map((o) => (
                <label key={o.id} className={draft.serviceofferingid === o.id ? 'offering chosen' : 'offering'}>
                  <input type="radio" name="offering" checked={draft.serviceofferingid === o.id} onChange={() => set({ serviceofferingid: o.id })} />
                  <span className="offering-name">{o.name}</span>
                  <span className="offering-text muted">{o.iscustomized ? customSummary(o) : `${o.cpunumber} vCPU × ${o.cpuspeed} MHz, ${o.memory} MB`}</span>
                </label>
              ))}
            </fieldset>
            {offering?.iscustomized && (
              <fieldset className="fieldset">
                <legend>Custom size</legend>
                <Field label={`CPU cores${rangeHint(offering, 'cpunumber')}`} value={draft.cpuNumber} onChange={(cpuNumber) => set({ cpuNumber })} inputMode="numeric" />
                {offering.cpuspeed === undefined && <Field label="CPU speed (MHz)" value={draft.cpuSpeed} onChange={(cpuSpeed) => set({ cpuSpeed })} inputMode="numeric" />}
                <Field label={`Memory (MiB)${rangeHint(offering, 'memory')}`} value={draft.memory} onChange={(memory) => set({ memory })} inputMode="numeric" />
              </fieldset>
            )}
          </>
        )}
        {step === 3 && appliance && <ApplianceNetworks appliance={appliance} networks={networks.items} draft={draft} set={set} />}
        {step === 3 && !appliance && (
          <fieldset className="fieldset">
            <legend>Networks (the first one chosen is the default NIC)</legend>
            {networks.items.length === 0 && !networks.loading && <p className="empty">This zone has no network you can use.</p>}
            {networks.items.map((n) => {
              // A private VLAN no host of the zone can isolate is not offered (the engine would refuse the deploy).
              const unsupported = n.isolatedpvlansupported === false && !draft.networkids.includes(n.id);
              return (
                <label key={n.id} className="check">
                  <input
                    type="checkbox"
                    checked={draft.networkids.includes(n.id)}
                    disabled={unsupported}
                    onChange={(e) => set({ networkids: e.target.checked ? [...draft.networkids, n.id] : draft.networkids.filter((id) => id !== n.id) })}
                  />
                  {n.name} <span className="muted">{n.type ?? ''} {n.displaytext ? `— ${n.displaytext}` : ''}</span>
                  {privateVlanNote(n) && <span className={n.isolatedpvlansupported === false ? 'hint error' : 'muted'}> {privateVlanNote(n)}</span>}
                </label>
              );
            })}
          </fieldset>
        )}
        {step === 4 && (
          <>
            <Field label="Name (the guest's hostname)" value={draft.name} onChange={(name) => set({ name })} hint="Letters, digits and hyphens. Left empty, Kiln picks one." problem={hostnameProblem(draft.name, apis)} />
            <Field label="Display name" value={draft.displayname} onChange={(displayname) => set({ displayname })} hint="Shown in lists; defaults to the name." />
            <Field label="Group" value={draft.group} onChange={(group) => set({ group })} />
          </>
        )}
        {DEPLOY_STEPS[step] === 'SSH keys' && <KeyPairStep draft={draft} set={set} />}
        {DEPLOY_STEPS[step] === 'User data' && <UserDataStep draft={draft} set={set} />}
        {step === REVIEW_STEP && <Review draft={draft} sent={deployParams(draft, offering, diskOffering, appliance)} lookup={{ zones: zones.items, templates: templates.items, isos: isos.items, offerings: offerings.items, networks: networks.items, diskOfferings: diskChoices, pods: pods.items, clusters: clusters.items, hosts: hosts.items, groups: affinityGroups.items }} appliance={appliance && { option: option?.label, nics: appliance.nics.map((n) => `${n.elementName || n.instanceID}: ${networks.items.find((x) => x.id === draft.nicNetworks[n.instanceID])?.name ?? '?'}`).join(', ') }} />}
        {step === REVIEW_STEP && canExplain && <ExplainPlacement params={explainParams(draft, offering)} />}
        {step === REVIEW_STEP && (
          <label className="check">
            <input type="checkbox" checked={draft.startvm} onChange={(e) => set({ startvm: e.target.checked })} /> Start the VM now
          </label>
        )}
      </WizardFrame>
    </section>
  );
}

/** What keeps each step from being complete. */
function stepProblems(d: DeployDraft, offering: ServiceOffering | undefined, disk: DiskOffering | undefined, apis: Map<string, ApiInfo>, appliance: ApplianceView | undefined, offered: ServiceOffering[], networks: readonly (Named & PrivateVlanNetwork)[] = []): string[][] {
  const positive = (v: string) => /^\d+$/.test(v) && Number(v) > 0;
  const problems: string[][] = DEPLOY_STEPS.map(() => []);
  if (!d.zoneid) problems[0]!.push('Choose a zone.');
  if (d.source === 'template' && !d.templateid) problems[1]!.push('Choose a template.');
  if (d.source === 'iso') {
    if (!d.isoid) problems[1]!.push('Choose an ISO.');
    if (!d.diskofferingid) problems[1]!.push('An ISO needs a disk offering for its blank root disk.');
    if (disk?.iscustomized && !positive(d.disksize)) problems[1]!.push('Give the disk size in GiB.');
  }
  if (appliance) problems[1]!.push(...applianceProblems(appliance, d.properties, d.eulaAccepted));
  if (!offering) problems[2]!.push('Choose a service offering.');
  else if (!offered.includes(offering)) problems[2]!.push(`Offering ${offering.name} is smaller than the deployment option needs.`);
  problems[2]!.push(...customSizeProblems(offering, d));
  if (appliance) {
    for (const nic of appliance.nics) if (!d.nicNetworks[nic.instanceID]) problems[3]!.push(`Choose a network for ${nic.elementName || `NIC ${nic.index + 1}`}.`);
  } else if (d.networkids.length === 0) problems[3]!.push('Choose at least one network.');
  for (const n of networks.filter((x) => d.networkids.includes(x.id) && x.isolatedpvlansupported === false)) problems[3]!.push(`Network ${n.name} is a private VLAN, and no host of this zone can isolate it.`);
  const nameProblem = hostnameProblem(d.name, apis);
  if (nameProblem) problems[4]!.push(`${nameProblem}.`);
  const dataProblem = userDataProblem(d);
  if (dataProblem) problems[DEPLOY_STEPS.indexOf('User data')]!.push(dataProblem);
  return problems;
}

function deployParams(d: DeployDraft, offering: ServiceOffering | undefined, disk: DiskOffering | undefined, appliance?: ApplianceView): ApiParams {
  const params: ApiParams = {
    zoneid: d.zoneid,
    serviceofferingid: d.serviceofferingid,
    templateid: d.source === 'iso' ? d.isoid : d.templateid,
    networkids: d.networkids.join(','),
    name: d.name || undefined,
    displayname: d.displayname || undefined,
    group: d.group || undefined,
    startvm: d.startvm,
    podid: d.podid || undefined,
    clusterid: d.clusterid || undefined,
    hostid: d.hostid || undefined,
    affinitygroupids: d.affinitygroupids.length > 0 ? d.affinitygroupids.join(',') : undefined,
    keypairs: d.keypairs.length > 0 ? d.keypairs.join(',') : undefined,
    userdata: d.userdata || undefined,
  };
  if (d.source === 'iso') {
    params['diskofferingid'] = d.diskofferingid;
    if (disk?.iscustomized) params['size'] = d.disksize;
  }
  Object.assign(params, customSizeParams(offering, d));
  if (appliance) {
    const option = chosenOption(appliance, d.configurationId);
    if (option) params['details[0].configurationId'] = option.id;
    appliance.properties.filter((p) => p.userConfigurable && d.properties[p.key] !== undefined).forEach((p, i) => {
      params[`properties[${i}].key`] = p.key;
      params[`properties[${i}].value`] = d.properties[p.key];
    });
    appliance.nics.forEach((nic, i) => {
      params[`nicnetworklist[${i}].nic`] = nic.instanceID;
      params[`nicnetworklist[${i}].network`] = d.nicNetworks[nic.instanceID];
    });
    params['networkids'] = appliance.nics.map((nic) => d.nicNetworks[nic.instanceID]).join(',');
  }
  return params;
}

/** explainPlacement's parameters for the draft: the same placement inputs the deploy will use. */
function explainParams(d: DeployDraft, offering: ServiceOffering | undefined): ApiParams | undefined {
  if (!d.zoneid || !offering) return undefined;
  const params: ApiParams = {
    zoneid: d.zoneid,
    serviceofferingid: offering.id,
    affinitygroupids: d.affinitygroupids.length > 0 ? d.affinitygroupids.join(',') : undefined,
    podid: d.podid || undefined,
    clusterid: d.clusterid || undefined,
    hostid: d.hostid || undefined,
  };
  return { ...params, ...customSizeParams(offering, d) };
}

/** The planner's dry run for the draft, on demand; cleared when the draft's placement inputs change. */
function ExplainPlacement({ params }: { params: ApiParams | undefined }) {
  const key = JSON.stringify(params ?? null);
  const [result, setResult] = useState<{ key: string; placement?: Placement; error?: string; loading?: boolean }>();
  const current = result?.key === key ? result : undefined;
  const explain = async () => {
    if (!params) return;
    setResult({ key, loading: true });
    try {
      const r = await kiln.invoke('explainPlacement', params);
      setResult({ key, placement: r['placement'] as Placement });
    } catch (e) {
      setResult({ key, error: `${errorCode(e) ? `${errorCode(e)}: ` : ''}${errorText(e)}` });
    }
  };
  return (
    <section className="explain" aria-labelledby="explain-title">
      <div className="explain-header">
        <h3 id="explain-title">Where would it run?</h3>
        <button type="button" onClick={() => void explain()} disabled={!params || current?.loading}>
          {current?.loading ? 'Asking the planner…' : 'Explain placement'}
        </button>
      </div>
      {!current && <p className="hint">A dry run: the planner says which host it would choose now, and why it would refuse the others. Nothing is reserved.</p>}
      {current?.error && (
        <p role="alert" className="error">
          {current.error}
        </p>
      )}
      {current?.placement && <PlacementTable placement={current.placement} chosen={current.placement.hostname} label="Placement explained" />}
    </section>
  );
}

/** The hosts a placement refusal names: the engine's `placement` list (admins), else its errortext. */
function refusalsOf(error: unknown): { host: string; reason: string }[] {
  if (errorCode(error) !== 533) return [];
  const details = (error as { details?: Record<string, unknown> }).details;
  const placement = details?.['placement'];
  if (Array.isArray(placement)) {
    return (placement as { hostName?: string; reason?: string; suitable?: boolean }[]).filter((p) => !p.suitable).map((p) => ({ host: p.hostName ?? '?', reason: p.reason ?? '' }));
  }
  const inside = /\((.*)\)\s*$/.exec(errorText(error))?.[1];
  if (!inside) return [];
  return inside.split('; ').map((part) => {
    const colon = part.indexOf(': ');
    return colon > 0 ? { host: part.slice(0, colon), reason: part.slice(colon + 2) } : { host: '', reason: part };
  });
}

function DeployFailure({ outcome }: { outcome: Extract<Outcome, { kind: 'failed' }> }) {
  const summary = outcome.refusals.length > 0 ? outcome.text.replace(/\s*\(.*\)\s*$/, '') : outcome.text;
  return (
    <div role="alert" className="error-panel">
      <h3>{outcome.code === 533 ? 'No host can take this VM' : 'The deploy failed'}</h3>
      <p>
        {outcome.code ? <span className="muted">{outcome.code}: </span> : null}
        {summary}
      </p>
      {outcome.refusals.length > 0 && (
        <table className="plain-table" aria-label="Hosts refused">
          <thead>
            <tr>
              <th>Host</th>
              <th>Why it was refused</th>
            </tr>
          </thead>
          <tbody>
            {outcome.refusals.map((r, i) => (
              <tr key={`${r.host}-${i}`}>
                <td>{r.host}</td>
                <td>{r.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function DeployProgress({ outcome, onAnother }: { outcome: Exclude<Outcome, { kind: 'failed' }>; onAnother(): void }) {
  const job = useJobs((s) => (outcome.kind === 'running' ? s.jobs.get(outcome.jobid) : undefined));
  if (outcome.kind === 'running') {
    return (
      <div className="deploy-progress" role="status">
        <p>Deploying…</p>
        <progress max={100} value={job?.progress ?? undefined} aria-label="Deploy progress" />
        <p className="muted">{job?.message ?? 'Waiting for the job to report.'}</p>
      </div>
    );
  }
  return (
    <div className={outcome.placement ? 'deploy-progress with-placement' : 'deploy-progress'}>
      <p className="success-text" role="status">
        {outcome.name || 'The VM'} is deployed{outcome.started ? ' and running' : ' (not started)'}.
      </p>
      {outcome.fromIso && (
        <p className="hint" role="note">
          {outcome.started ? 'It is booting the installer from the ISO' : 'When you start it, it boots the installer from the ISO'}: follow the install on its console, then detach the ISO and reboot to boot the installed system.
        </p>
      )}
      {outcome.placement && (
        <section className="placement-outcome" aria-labelledby="placement-outcome-title">
          <h2 id="placement-outcome-title">Placement</h2>
          <PlacementTable placement={outcome.placement} chosen={outcome.hostname ?? outcome.placement.order?.[0]} label="Placement outcome" />
        </section>
      )}
      <p className="button-row">
        {outcome.vmId && (
          <a className="button primary" href={hrefOf({ view: 'vm', id: outcome.vmId, tab: 'overview' })}>
            Open the VM
          </a>
        )}
        {outcome.vmId && outcome.fromIso && (
          <a className="button" href={hrefOf({ view: 'vm', id: outcome.vmId, tab: 'console' })}>
            Open its console
          </a>
        )}
        <a className="button" href="#/vms">
          Back to the list
        </a>
        <button type="button" onClick={onAnother}>
          Deploy another
        </button>
      </p>
    </div>
  );
}

/**
 * The review shows the sizes the deploy will send (SENT, deployParams' answer), not what the draft
 * still holds: a size typed for a custom offering stays in the draft after a fixed one is chosen.
 */
function Review({ draft, sent, lookup, appliance }: { draft: DeployDraft; sent: ApiParams; lookup: Record<string, Named[]>; appliance?: { option?: string; nics: string } }) {
  const name = (list: string, id: string) => (id ? lookup[list]?.find((x) => x.id === id)?.name ?? id : undefined);
  const cpus = sent['details[0].cpuNumber'];
  const rows: [string, ReactNode][] = [
    ['Zone', name('zones', draft.zoneid)],
    ['Pod / cluster / host', [name('pods', draft.podid), name('clusters', draft.clusterid), name('hosts', draft.hostid)].map((x) => x ?? 'any').join(' / ')],
    [draft.source === 'iso' ? 'ISO' : 'Template', draft.source === 'iso' ? name('isos', draft.isoid) : name('templates', draft.templateid)],
    ...(draft.source === 'iso' ? ([['Root disk', `${name('diskOfferings', draft.diskofferingid) ?? ''}${sent['size'] !== undefined ? `, ${formatGiB(Number(sent['size']))}` : ''}`]] as [string, ReactNode][]) : []),
    ['Offering', `${name('offerings', draft.serviceofferingid) ?? ''}${cpus !== undefined ? ` (${String(cpus)} vCPU, ${String(sent['details[0].memory'])} MB)` : ''}`],
    ...(appliance ? ([['Deployment option', appliance.option ?? '—']] as [string, ReactNode][]) : []),
    ['Networks', appliance ? appliance.nics : draft.networkids.map((id) => name('networks', id)).join(', ')],
    ['Affinity groups', draft.affinitygroupids.length > 0 ? draft.affinitygroupids.map((id) => name('groups', id)).join(', ') : '—'],
    ['Name', draft.name || '(Kiln picks one)'],
    ['Display name', draft.displayname || draft.name || '(the name)'],
    ['Group', draft.group || '—'],
    ['SSH key pairs', draft.keypairs.length > 0 ? draft.keypairs.join(', ') : '—'],
    ['User data', draft.userdata ? `${draft.userdataFile || 'typed'}, ${decodedSize(draft.userdata).toLocaleString('en')} bytes` : '—'],
  ];
  return (
    <dl className="fields review">
      {rows.map(([k, v]) => (
        <div key={k} className="field">
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Select({ label, value, onChange, options, loading, any }: { label: string; value: string; onChange(v: string): void; options: Named[]; loading?: boolean; any?: boolean }) {
  const id = `field-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div className="form-row">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{any ? 'Any' : loading ? 'Loading…' : `Choose…`}</option>
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Field({ label, value, onChange, hint, problem, inputMode }: { label: string; value: string; onChange(v: string): void; hint?: string; problem?: string; inputMode?: 'numeric' }) {
  const id = `field-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div className="form-row">
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} onChange={(e) => onChange(e.target.value)} inputMode={inputMode} aria-invalid={problem ? true : undefined} aria-describedby={hint || problem ? `${id}-hint` : undefined} />
      {(hint || problem) && (
        <span id={`${id}-hint`} className={problem ? 'hint error' : 'hint'}>
          {problem ?? hint}
        </span>
      )}
    </div>
  );
}
