/**
 * Templates and ISOs (registerTemplate, registerIso, listTemplates, listIsos): every image of the
 * zones with its format, hypervisor, size and download status, and the forms that register one by
 * URL. Required fields and value rules come from listApis; the template formats offered are those
 * listHypervisorCapabilities publishes for the chosen hypervisor (templateformats), never a list
 * kept here. The engine's refusals (431 naming the parameter) are shown as they come. Each row's
 * Delete (deleteTemplate / deleteIso, where listApis has them) waits for the job and shows the
 * engine's answer: a refusal names the VMs that use the image, and where listApis publishes
 * deleteTemplate's forced, a second question offers to delete it anyway (api/forced-delete.ts).
 * Built-in images have no Delete.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../transport';
import { errorText, listOf, type Named } from '../api/model';
import { useApiList } from '../api/use-api-list';
import { hasApi, paramProblem, useApiCatalog, type ApiInfo } from '../stores/api-catalog-store';
import { Modal, ApiErrorText } from '../components/Modal';
import { useSubmit } from '../components/use-submit';
import { SelectField, TextField } from '../components/FormFields';
import { DeleteButton, RecordTable } from '../components/RecordTable';
import { confirmDelete } from '../api/confirm-delete';
import { deleteWithForcedStep } from '../api/forced-delete';
import { formatBytes } from '../api/format-size';

interface Image extends Named {
  format: string;
  hypervisor: string;
  isready: boolean;
  status?: string;
  size?: number;
  physicalsize?: number;
  zonename?: string;
  downloaddetails?: { downloadPercent?: string; downloadState?: string }[];
  /** Which list it came from. */
  kind: 'Template' | 'ISO';
  /** BUILTIN for the images Kiln made itself (the engine refuses to delete them), USER for registered ones. */
  templatetype?: string;
}

/** While an image downloads, the list is read again this often (the engine has no push for it). */
const POLL_MS = 1500;

const downloading = (i: Image) => !i.isready && i.downloaddetails?.[0]?.downloadState !== 'Download Error';

function statusText(i: Image): string {
  if (i.isready) return 'Ready';
  const d = i.downloaddetails?.[0];
  if (d?.downloadState === 'Download Error') return i.status || 'Download Error';
  return `${i.status || d?.downloadState || 'Downloading'}${d?.downloadPercent ? ` (${d.downloadPercent}%)` : ''}`;
}

export function ImagesView() {
  const apis = useApiCatalog((s) => s.apis);
  const [images, setImages] = useState<Image[]>();
  const [error, setError] = useState<string>();
  const [dialog, setDialog] = useState<'template' | 'iso'>();

  const load = useCallback(async () => {
    try {
      // Filter "all": also downloads in progress and failed ones, with their status (executable lists only ready ones).
      const [templates, isos] = await Promise.all([kiln.invoke('listTemplates', { templatefilter: 'all' }), kiln.invoke('listIsos', { isofilter: 'all' })]);
      setImages([
        ...listOf<Image>(templates, 'template').map((t) => ({ ...t, kind: 'Template' as const })),
        ...listOf<Image>(isos, 'iso').map((t) => ({ ...t, kind: 'ISO' as const })),
      ]);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  useEffect(() => void load(), [load]);
  const pending = images?.some(downloading) ?? false;
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [pending, load]);

  const done = () => {
    setDialog(undefined);
    void load();
  };

  const deleteCommand = (i: Image) => (i.kind === 'ISO' ? 'deleteIso' : 'deleteTemplate');
  const remove = (i: Image) => {
    const what = `${i.kind === 'ISO' ? 'ISO' : 'template'} ${i.name}`;
    return confirmDelete(what, "Its copy in the zone's image store and the hosts' copies are removed; VMs can no longer be made from it.", () => deleteWithForcedStep(apis, deleteCommand(i), i.id, what), () => void load());
  };

  return (
    <section className="view images" aria-labelledby="images-title">
      <div className="view-header">
        <h1 id="images-title">Templates and ISOs</h1>
        <div className="toolbar">
          {hasApi(apis, 'registerTemplate') && (
            <button type="button" className="primary" onClick={() => setDialog('template')}>
              Register template
            </button>
          )}
          {hasApi(apis, 'registerIso') && (
            <button type="button" onClick={() => setDialog('iso')}>
              Register ISO
            </button>
          )}
        </div>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {images?.length === 0 && <p className="empty">No templates or ISOs yet. Register one by URL: Kiln downloads it into the zone&rsquo;s image store.</p>}
      {images && images.length > 0 && (
        <RecordTable
          label="Templates and ISOs"
          columns={[
            { header: 'Name', cell: (i) => i.name },
            { header: 'Kind', cell: (i) => i.kind },
            { header: 'Format', cell: (i) => i.format },
            { header: 'Hypervisor', cell: (i) => (i.kind === 'ISO' ? 'any' : i.hypervisor) },
            { header: 'Zone', cell: (i) => i.zonename ?? 'all zones' },
            { header: 'Size', cell: (i) => (i.physicalsize || i.size ? formatBytes(i.physicalsize || i.size || 0) : '—') },
            { header: 'Status', cell: (i) => <span className={i.isready ? undefined : downloading(i) ? 'hint' : 'error'}>{statusText(i)}</span> },
          ]}
          rows={images}
          rowKey={(i) => i.id}
          rowData={(i) => ({ 'data-image': i.name })}
          actions={(i) => i.templatetype !== 'BUILTIN' && hasApi(apis, deleteCommand(i)) && <DeleteButton label={`Delete ${i.kind === 'ISO' ? 'ISO' : 'template'} ${i.name}`} onClick={() => void remove(i)} />}
        />
      )}
      {dialog === 'template' && <RegisterDialog iso={false} onClose={() => setDialog(undefined)} onDone={done} />}
      {dialog === 'iso' && <RegisterDialog iso onClose={() => setDialog(undefined)} onDone={done} />}
    </section>
  );
}

/** The register form's label of each parameter it sends. */
const FIELD_LABELS: Record<string, string> = { name: 'Name', displaytext: 'Display text', zoneid: 'Zone', hypervisor: 'Hypervisor', format: 'Format', url: 'URL', ostypeid: 'OS type' };

/** Whether listApis marks the parameter required (the engine's 431 stays the final word). */
function isRequired(apis: Map<string, ApiInfo>, command: string, param: string): boolean {
  return apis.get(command.toLowerCase())?.params.find((p) => p.name === param)?.required ?? false;
}

interface Capability {
  hypervisor: string;
  templateformats?: string;
}

/** One form for both: an ISO has no hypervisor or format (any host's CD-ROM drive takes it). */
function RegisterDialog({ iso, onClose, onDone }: { iso: boolean; onClose(): void; onDone(): void }) {
  const command = iso ? 'registerIso' : 'registerTemplate';
  const apis = useApiCatalog((s) => s.apis);
  const zones = useApiList<Named>('listZones', 'zone', {});
  const capabilities = useApiList<Capability>('listHypervisorCapabilities', 'hypervisorCapabilities', iso ? undefined : {});
  const [osTypes, setOsTypes] = useState<Named[]>([]);
  const [values, setValues] = useState<Record<string, string>>({ name: '', displaytext: '', zoneid: '', hypervisor: '', format: '', url: '', ostypeid: '' });
  const set = (param: string) => (v: string) => setValues((s) => ({ ...s, [param]: v, ...(param === 'hypervisor' ? { format: '' } : {}) }));
  const { busy, error, run } = useSubmit(onDone);
  useEffect(() => {
    kiln.invoke('listOsTypes').then(
      (r) => setOsTypes(listOf<{ id: string; description?: string; name?: string }>(r, 'ostype').map((o) => ({ id: o.id, name: o.description ?? o.name ?? o.id }))),
      () => setOsTypes([]),
    );
  }, []);
  const zoneid = values['zoneid'] || zones.items[0]?.id || '';
  const hypervisors = [...new Map(capabilities.items.map((c) => [c.hypervisor, c])).values()];
  const formats = hypervisors.find((c) => c.hypervisor === values['hypervisor'])?.templateformats?.split(',');
  const fields = iso ? ['name', 'zoneid', 'url', 'ostypeid'] : ['name', 'displaytext', 'zoneid', 'hypervisor', 'format', 'url', 'ostypeid'];
  const params: Record<string, string> = {};
  for (const f of fields) {
    const v = (f === 'zoneid' ? zoneid : values[f] ?? '').trim();
    if (v) params[f] = v;
  }
  const problem = (param: string) => paramProblem(apis, command, param, values[param]?.trim() ?? '');
  const missing = fields.filter((f) => isRequired(apis, command, f) && !params[f]);
  const invalid = fields.some((f) => problem(f) !== undefined);
  const label = (text: string, param: string) => (isRequired(apis, command, param) ? text : `${text} (optional)`);
  // What the disabled Register still waits for, by the labels the form shows (not the API's ostypeid, zoneid).
  const stillNeeded = missing.length > 0 ? `Still needed: ${missing.map((f) => FIELD_LABELS[f] ?? f).join(', ')}.` : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await kiln.invoke(command, params);
      return `${iso ? 'ISO' : 'Template'} ${params['name']} registered; it downloads into the zone's image store`;
    });
  };
  return (
    <Modal title={iso ? 'Register an ISO' : 'Register a template'} onClose={onClose} wide>
      <form className="dialog-form" onSubmit={submit}>
        <TextField label={label('Name', 'name')} value={values['name']!} onChange={set('name')} problem={problem('name')} />
        {!iso && <TextField label={label('Display text', 'displaytext')} value={values['displaytext']!} onChange={set('displaytext')} problem={problem('displaytext')} />}
        <SelectField label={label('Zone', 'zoneid')} value={zoneid} onChange={set('zoneid')} options={zones.items} placeholder={zones.loading ? 'Loading…' : 'Choose…'} />
        {!iso && (
          <SelectField
            label={label('Hypervisor', 'hypervisor')}
            value={values['hypervisor']!}
            onChange={set('hypervisor')}
            options={hypervisors.map((c) => ({ id: c.hypervisor, name: c.hypervisor }))}
            placeholder={capabilities.loading ? 'Loading…' : 'Choose…'}
          />
        )}
        {!iso &&
          (formats ? (
            <SelectField label={label('Format', 'format')} value={values['format']!} onChange={set('format')} options={formats.map((f) => ({ id: f, name: f }))} hint="The formats this hypervisor's hosts deploy from." />
          ) : (
            <TextField
              label={label('Format', 'format')}
              value={values['format']!}
              onChange={set('format')}
              problem={problem('format')}
              disabled={!values['hypervisor']}
              hint={values['hypervisor'] ? "This hypervisor's driver names no formats: give the image's (e.g. QCOW2); the engine checks it." : 'Choose the hypervisor first.'}
            />
          ))}
        <TextField label={label('URL', 'url')} value={values['url']!} onChange={set('url')} problem={problem('url')} mono spellCheck={false} placeholder="https://…" hint="An http(s) URL: Kiln downloads it into the zone's image store." />
        <SelectField label={label('OS type', 'ostypeid')} value={values['ostypeid']!} onChange={set('ostypeid')} options={osTypes} />
        <ApiErrorText error={error} />
        {stillNeeded && (
          <p className="hint" data-still-needed>
            {stillNeeded}
          </p>
        )}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || missing.length > 0 || invalid} title={stillNeeded}>
            {busy ? 'Registering…' : 'Register'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
