/**
 * A zone's "Edit…": updateZone's DNS, internal DNS, IPv6 DNS, guest CIDR, network domain and sort
 * key, pre-filled from the zone as listZones answers it (the sort key too). Only the fields this caller's updateZone
 * publishes are shown; each is checked against its published rule as it is typed (an IPv4 DNS's
 * pattern, an integer's type), and what the rules cannot say (an IPv6 address, a CIDR with host bits
 * set) is the engine's 431, shown as it comes. Only changed fields are sent; an emptied one clears
 * it. Its details (key/value pairs) are saved the CloudStack way: updateZone details merges the
 * new and changed pairs into the zone's, and each removed row is one removeResourceDetail
 * resourcetype=Zone key=… (a job, waited for); removing every row is updateZone cleanupdetails=true.
 * The changed zone arrives on the 'zones' live channel: nothing is reloaded.
 */
import { useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { runQuietly } from '../../api/run-job';
import { ApiErrorText, Modal } from '../../components/Modal';
import { TextField } from '../../components/FormFields';
import { useSubmit } from '../../components/use-submit';
import { useApiCatalog } from '../../stores/api-catalog-store';
import {
  zoneCleansDetails, zoneDetailRows, zoneDetailsParams, zoneEditFields, zoneEditParams, zoneEditValues, zoneFieldProblem, zoneRemovesDetail, zoneTakesDetails, type DetailRow, type ZoneField, type ZoneRecord,
} from '../../actions/infra-actions';

export function ZoneEditDialog({ zone, onClose }: { zone: ZoneRecord; onClose(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const fields = zoneEditFields(apis);
  const [values, setValues] = useState<Record<ZoneField, string>>(() => zoneEditValues(zone));
  const takesDetails = zoneTakesDetails(apis);
  const [details, setDetails] = useState<DetailRow[]>(() => zoneDetailRows(zone));
  const { busy, error, run } = useSubmit(onClose);
  const problems = Object.fromEntries(fields.map((f) => [f.param, zoneFieldProblem(apis, f.param, values[f.param])])) as Partial<Record<ZoneField, string>>;
  const detailsPart = takesDetails ? zoneDetailsParams(zone, details, { cleanup: zoneCleansDetails(apis), removeOne: zoneRemovesDetail(apis) }) : { params: {}, remove: [] as string[] };
  const anyProblem = fields.some((f) => problems[f.param]) || !!detailsPart.problem;
  const params = zoneEditParams(zone, values, detailsPart.params);
  const setDetail = (i: number, change: Partial<DetailRow>) => setDetails((rows) => rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if ((!params && detailsPart.remove.length === 0) || anyProblem) return;
    void run(async () => {
      if (params) await kiln.invoke('updateZone', params);
      for (const key of detailsPart.remove) {
        const job = await runQuietly('removeResourceDetail', { resourcetype: 'Zone', resourceid: zone.id, key });
        if (job['jobstatus'] === 2) throw new Error(`detail ${key}: ${String((job['jobresult'] as { errortext?: string } | undefined)?.errortext ?? 'not removed')}`);
      }
      return `Edit zone ${zone.name}: saved`;
    });
  };
  return (
    <Modal title={`Edit zone ${zone.name}`} onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        {fields.map((f) => (
          <TextField
            key={f.param}
            label={f.label}
            value={values[f.param]}
            onChange={(v) => setValues((current) => ({ ...current, [f.param]: v }))}
            placeholder={f.placeholder}
            problem={problems[f.param]}
            hint={f.param === 'sortkey' ? 'listZones lists zones by it' : undefined}
            mono={f.param !== 'domain' && f.param !== 'sortkey'}
            spellCheck={false}
          />
        ))}
        {takesDetails && (
          <fieldset className="fieldset">
            <legend>Details</legend>
            {details.length === 0 && <p className="muted small">No details.</p>}
            {details.map((d, i) => (
              <div className="form-row" key={i} style={{ gridTemplateColumns: '10rem minmax(0, 1fr) auto' }}>
                <input aria-label={`Detail ${i + 1} key`} className="mono" value={d.key} placeholder="key" spellCheck={false} onChange={(e) => setDetail(i, { key: e.target.value })} />
                <input aria-label={`Detail ${i + 1} value`} className="mono" value={d.value} placeholder="value" spellCheck={false} onChange={(e) => setDetail(i, { value: e.target.value })} />
                <button type="button" className="link-button small" aria-label={`Remove detail ${d.key || i + 1}`} onClick={() => setDetails((rows) => rows.filter((_r, j) => j !== i))}>
                  Remove
                </button>
              </div>
            ))}
            <div>
              <button type="button" className="link-button small" onClick={() => setDetails((rows) => [...rows, { key: '', value: '' }])}>
                Add detail
              </button>
            </div>
            {detailsPart.problem && (
              <p className="hint error" role="note">
                {detailsPart.problem}
              </p>
            )}
          </fieldset>
        )}
        <p className="muted small">An emptied field is cleared.</p>
        <ApiErrorText error={error} />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || anyProblem || (!params && detailsPart.remove.length === 0)}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
