/**
 * The import wizard's CSV buttons: "Export CSV" downloads exportUnmanagedInstances' sheet of the
 * cluster's unmanaged VMs (with the columns to fill in); "Import from CSV" sends a filled-in sheet
 * to importUnmanagedInstances, follows its one parent job (progress from the 'jobs' channel) and
 * shows each row's outcome (imported, skipped or failed with its reason). Each button is shown
 * only when listApis offers its command.
 */
import { useRef, useState } from 'react';
import { kiln } from '../../transport';
import { waitForJob } from '../../api/jobs';
import { errorCode, errorText } from '../../api/model';
import { hasApi, useApiCatalog } from '../../stores/api-catalog-store';
import { useJobs } from '../../stores/jobs-store';

interface RowResult {
  line: number;
  name: string;
  status: 'imported' | 'skipped' | 'failed';
  errorcode?: number;
  errortext?: string;
}

interface BulkResult {
  total: number;
  imported: number;
  skipped: number;
  failed: number;
  row?: RowResult[];
}

type Bulk = { state: 'running'; file: string; jobid?: string } | { state: 'done'; file: string; result: BulkResult } | { state: 'failed'; file: string; text: string };

const shownError = (e: unknown) => `${errorCode(e) ? `${errorCode(e)}: ` : ''}${errorText(e)}`;

/** The command's object, whether the answer nests it under its response name or not. */
function inner<T>(response: Record<string, unknown>, name: string): T {
  return ((response[name] as T | undefined) ?? response) as T;
}

export function CsvBulk({ clusterid, onImported }: { clusterid: string; onImported(): void }) {
  const apis = useApiCatalog((s) => s.apis);
  const [bulk, setBulk] = useState<Bulk>();
  const [exportError, setExportError] = useState<string>();
  const fileInput = useRef<HTMLInputElement>(null);
  const job = useJobs((s) => (bulk?.state === 'running' && bulk.jobid ? s.jobs.get(bulk.jobid) : undefined));
  const canExport = hasApi(apis, 'exportUnmanagedInstances');
  const canImport = hasApi(apis, 'importUnmanagedInstances');
  if (!canExport && !canImport) return null;

  const exportCsv = async () => {
    setExportError(undefined);
    try {
      const sheet = inner<{ filename?: string; csv?: string; mimetype?: string }>(await kiln.invoke('exportUnmanagedInstances', { clusterid }), 'unmanagedinstancescsv');
      const url = URL.createObjectURL(new Blob([sheet.csv ?? ''], { type: sheet.mimetype ?? 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = sheet.filename ?? 'unmanaged.csv';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setExportError(shownError(e));
    }
  };

  const importCsv = async (file: File) => {
    setBulk({ state: 'running', file: file.name });
    try {
      const response = await kiln.invoke('importUnmanagedInstances', { clusterid, csv: await file.text() });
      const jobid = String(response['jobid']);
      useJobs.getState().quiet.add(jobid);
      setBulk({ state: 'running', file: file.name, jobid });
      const result = inner<BulkResult>(await waitForJob(jobid), 'bulkimport');
      setBulk({ state: 'done', file: file.name, result });
    } catch (e) {
      setBulk({ state: 'failed', file: file.name, text: shownError(e) });
    }
    onImported();
  };

  return (
    <section className="csv-bulk" aria-label="CSV">
      <div className="button-row">
        {canExport && (
          <button type="button" onClick={() => void exportCsv()} disabled={!clusterid}>
            Export CSV
          </button>
        )}
        {canImport && (
          <>
            <button type="button" onClick={() => fileInput.current?.click()} disabled={!clusterid || bulk?.state === 'running'}>
              Import from CSV
            </button>
            <input
              ref={fileInput}
              type="file"
              accept=".csv,text/csv"
              hidden
              aria-label="CSV file to import"
              onChange={(e) => {
                const file = e.target.files?.[0];
                e.target.value = '';
                if (file) void importCsv(file);
              }}
            />
          </>
        )}
      </div>
      {exportError && (
        <p role="alert" className="error">
          Export failed: {exportError}
        </p>
      )}
      {bulk?.state === 'running' && (
        <div role="status">
          <p>Importing the VMs of {bulk.file}…</p>
          <progress max={100} value={job?.progress ?? undefined} aria-label="CSV import progress" />
          <p className="muted">{job?.message ?? 'Waiting for the job to report.'}</p>
        </div>
      )}
      {bulk?.state === 'failed' && (
        <p role="alert" className="error">
          Import of {bulk.file} failed: {bulk.text}
        </p>
      )}
      {bulk?.state === 'done' && (
        <>
          <p role="status">
            {bulk.file}: {bulk.result.imported} imported, {bulk.result.skipped} skipped, {bulk.result.failed} failed of {bulk.result.total}.
          </p>
          <table className="plain-table" aria-label="CSV import results">
            <thead>
              <tr>
                <th>Line</th>
                <th>VM</th>
                <th>Result</th>
              </tr>
            </thead>
            <tbody>
              {(bulk.result.row ?? []).map((r) => (
                <tr key={r.line} data-result={r.status}>
                  <td>{r.line}</td>
                  <td>{r.name}</td>
                  <td className={r.status === 'failed' ? 'error' : undefined}>
                    {r.status === 'imported' ? 'Imported' : r.status === 'skipped' ? `Skipped: ${r.errortext ?? ''}` : `Failed: ${r.errorcode ? `${r.errorcode}: ` : ''}${r.errortext ?? ''}`}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
