/**
 * The import wizard's way to bring an exported XenServer VM in first (importVm importsource=xva,
 * without an offering): an XVA registered into the zone's image store (registerTemplate
 * format=XVA, on the Images page) is imported into the cluster's pool under a name; the VM then
 * is one of the cluster's unmanaged VMs, listed in this step, and the wizard's next steps take it
 * over like any other. Shown only when listApis offers importVm and the cluster's zone has a ready
 * XVA; the engine refuses a cluster whose hypervisor cannot import one, and that refusal is shown.
 */
import { useState } from 'react';
import { kiln } from '../../transport';
import { waitForJob } from '../../api/jobs';
import { useApiList } from '../../api/use-api-list';
import { errorCode, errorText } from '../../api/model';
import { hasApi, useApiCatalog } from '../../stores/api-catalog-store';
import { useJobs } from '../../stores/jobs-store';
import { Field, Select } from '../DeployWizard';

interface XvaImage {
  id: string;
  name: string;
  format: string;
  isready?: boolean;
  zoneid?: string;
}

type State = { state: 'idle' } | { state: 'running'; name: string } | { state: 'done'; name: string } | { state: 'failed'; text: string };

export function XvaImport({ clusterid, zoneid, onImported }: { clusterid: string; zoneid?: string; onImported(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const offered = hasApi(apis, 'importVm') && zoneid !== undefined;
  const images = useApiList<XvaImage>('listTemplates', 'template', offered ? { templatefilter: 'all', zoneid: zoneid! } : undefined);
  const xvas = images.items.filter((t) => t.format === 'XVA' && t.isready === true);
  const [chosen, setChosen] = useState('');
  const [name, setName] = useState('');
  const [run, setRun] = useState<State>({ state: 'idle' });
  if (!offered || xvas.length === 0) return null;
  const xva = xvas.find((x) => x.id === chosen) ?? xvas[0]!;

  const start = async () => {
    const wanted = name.trim();
    if (!wanted) return setRun({ state: 'failed', text: 'name: give the name the VM gets in the pool' });
    setRun({ state: 'running', name: wanted });
    try {
      const response = await kiln.invoke('importVm', { zoneid: zoneid!, importsource: 'xva', templateid: xva.id, clusterid, name: wanted });
      const jobid = String(response['jobid']);
      useJobs.getState().quiet.add(jobid);
      await waitForJob(jobid);
      setRun({ state: 'done', name: wanted });
      onImported();
    } catch (error) {
      const code = errorCode(error);
      setRun({ state: 'failed', text: `${code ? `${code}: ` : ''}${errorText(error)}` });
    }
  };

  return (
    <fieldset className="fieldset xva-import">
      <legend>Bring in an exported XenServer VM (XVA)</legend>
      <p className="hint">Kiln sends the XVA from its image store to the pool; the VM then appears below as a VM Kiln does not manage, to be taken over like the others.</p>
      <Select label="XVA" value={xva.id} onChange={setChosen} options={xvas} />
      <Field label="Name in the pool" value={name} onChange={setName} hint="The VM's name in the pool and, once taken over, its instance name." />
      <p className="button-row">
        <button type="button" disabled={run.state === 'running'} onClick={() => void start()}>
          {run.state === 'running' ? `Importing ${run.name}…` : 'Import into the pool'}
        </button>
      </p>
      {run.state === 'done' && <p role="status">{run.name} is in the pool; choose it below to take it over.</p>}
      {run.state === 'failed' && <p role="alert">{run.text}</p>}
    </fieldset>
  );
}
