/**
 * CSV bulk import (R51). The export is listUnmanagedInstances as a spreadsheet: one row per VM with
 * its NICs (nicN.*) and data disks (datadiskN.*) in numbered columns, and empty columns for what an
 * import needs (serviceoffering, account, nicN.network, nicN.ip, datadiskN.diskoffering, …). The
 * import reads that sheet back with those columns filled in and runs one parent job: each row
 * becomes the parameters of importUnmanagedInstance, checked by the same planImport, and runs as
 * its own child job (so per-VM progress and results are ordinary jobs), at most `concurrency` at a
 * time. A row that fails is reported with its line and reason and stops nothing else; a row whose
 * VM Kiln already manages is skipped, so a re-run imports nothing twice.
 *
 * Networks, offerings, templates and domains may be given by UUID or by name (a spreadsheet user
 * types names); a name that matches none or several is that row's failure, naming the column.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Engine } from '../engine.js';
import { JobStatus, type JobUpdate } from '../jobs.js';
import { ApiError, toApiError } from '../registry/errors.js';
import { parseParams, UUID_RE } from '../registry/params.js';
import type { ApiObject, AsyncWork, Caller, CommandDef, JobHandle } from '../registry/types.js';
import { importWork, planImport } from './import-vm.js';
import { dataDisks, knownMacs, listUnmanaged, unmanagedView, type ClusterRow, type UnmanagedVm } from './unmanaged.js';

/** The columns an import reads, besides name and the numbered nicN.* / datadiskN.* ones. */
export const INPUT_COLUMNS = ['displayname', 'hostname', 'account', 'domain', 'serviceoffering', 'template', 'cpuspeed', 'forced', 'migrateallowed'] as const;

/** listUnmanagedInstances as CSV text (with a BOM, so spreadsheet programs read UTF-8 names right). */
export function unmanagedCsv(engine: Engine, cluster: ClusterRow, vms: UnmanagedVm[]): string {
  const macs = knownMacs(engine.db);
  const nicCount = Math.max(0, ...vms.map((v) => v.info.nics.length));
  const diskCount = Math.max(0, ...vms.map((v) => dataDisks(v.info).length));
  const columns = ['name', 'host', 'powerstate', 'osdisplayname', 'cpunumber', 'memory', 'importable', 'notimportablereason', ...INPUT_COLUMNS];
  for (let i = 0; i < nicCount; i++) columns.push(`nic${i}.id`, `nic${i}.mac`, `nic${i}.networkname`, `nic${i}.vlan`, `nic${i}.guestip`, `nic${i}.network`, `nic${i}.ip`);
  for (let i = 0; i < diskCount; i++) columns.push(`datadisk${i}.id`, `datadisk${i}.capacity`, `datadisk${i}.controller`, `datadisk${i}.diskoffering`);
  const rows = vms.map((vm) => {
    const view = unmanagedView(engine.db, cluster, vm, macs);
    const row: Record<string, string> = {
      name: vm.info.name, host: vm.host.name, powerstate: String(view['powerstate']), osdisplayname: vm.info.osDisplayName ?? '',
      cpunumber: String(vm.info.cpuNumber), memory: String(vm.info.memoryMiB), importable: String(view['importable']),
      notimportablereason: ((view['notimportablereason'] as string[] | undefined) ?? []).join('; '),
    };
    vm.info.nics.forEach((n, i) => Object.assign(row, {
      [`nic${i}.id`]: n.id, [`nic${i}.mac`]: n.macAddress, [`nic${i}.networkname`]: n.networkName ?? '', [`nic${i}.vlan`]: n.vlanId === undefined ? '' : String(n.vlanId), [`nic${i}.guestip`]: (n.ipAddresses ?? []).join(' '),
    }));
    dataDisks(vm.info).forEach((d, i) => Object.assign(row, { [`datadisk${i}.id`]: d.id, [`datadisk${i}.capacity`]: String(d.capacityBytes), [`datadisk${i}.controller`]: d.controller ?? '' }));
    return row;
  });
  return stringify(rows, { header: true, bom: true, columns });
}

export interface CsvRow {
  /** The row's first line in the file (the header is line 1). */
  line: number;
  cells: Record<string, string>;
}

/** Parses the uploaded CSV (a BOM, quotes, commas and newlines in cells allowed); a malformed file is a 431 naming `param`. */
export function parseImportCsv(text: string, param: string): CsvRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()), skip_empty_lines: true, trim: true, info: true, relax_column_count: true });
  } catch (e) {
    throw ApiError.param(`${param}: not a valid CSV file: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (records.length === 0) throw ApiError.param(`${param}: the CSV has a header but no rows`);
  if (!('name' in records[0]!.record)) throw ApiError.param(`${param}: the CSV has no name column (export the unmanaged list to get the columns an import reads)`);
  // info.lines is where the record ends; a record with a quoted newline spans several.
  let start = 2;
  return records.map(({ record, info }) => {
    const row = { line: start, cells: record };
    start = info.lines + 1;
    return row;
  });
}

/** A UUID as is; a name looked up in TABLE (one match, not removed). */
function refOf(engine: Engine, table: 'networks' | 'service_offerings' | 'disk_offerings' | 'templates' | 'domains', what: string, column: string, value: string, extraWhere = ''): string {
  if (UUID_RE.test(value)) return value;
  const removed = table === 'domains' ? '' : ' AND removed IS NULL';
  const rows = engine.db.prepare(`SELECT uuid FROM ${table} WHERE name=?${removed}${extraWhere}`).all(value) as { uuid: string }[];
  if (rows.length === 0) throw ApiError.param(`${column}: no ${what} named ${JSON.stringify(value)}`);
  if (rows.length > 1) throw ApiError.param(`${column}: ${rows.length} ${what}s are named ${JSON.stringify(value)}; give its UUID`);
  return rows[0]!.uuid;
}

/** One row as importUnmanagedInstance's raw parameters; NIC and disk ids come from the row's own id columns. */
export function rowParams(engine: Engine, cluster: ClusterRow, cells: Record<string, string>): Record<string, string> {
  const get = (k: string) => (cells[k] ?? '').trim();
  const raw: Record<string, string> = { clusterid: cluster.uuid, name: get('name') };
  for (const k of ['displayname', 'hostname', 'forced', 'migrateallowed'] as const) if (get(k)) raw[k] = get(k);
  if (get('serviceoffering')) raw['serviceofferingid'] = refOf(engine, 'service_offerings', 'service offering', 'serviceoffering', get('serviceoffering'));
  if (get('template')) raw['templateid'] = refOf(engine, 'templates', 'template', 'template', get('template'));
  if (get('cpuspeed')) raw['details[0].cpuSpeed'] = get('cpuspeed');
  if (get('account')) {
    raw['account'] = get('account');
    raw['domainid'] = get('domain') ? refOf(engine, 'domains', 'domain', 'domain', get('domain')) : refOf(engine, 'domains', 'domain', 'domain', 'ROOT', ' AND parent_id IS NULL');
  } else if (get('domain')) throw ApiError.param('domain: give account too (an import for another account names both)');
  let nets = 0;
  let ips = 0;
  for (let i = 0; `nic${i}.id` in cells || `nic${i}.network` in cells || `nic${i}.ip` in cells; i++) {
    const id = get(`nic${i}.id`) || `nic${i}`;
    if (get(`nic${i}.network`)) {
      raw[`nicnetworklist[${nets}].nic`] = id;
      raw[`nicnetworklist[${nets++}].network`] = refOf(engine, 'networks', 'network', `nic${i}.network`, get(`nic${i}.network`), ` AND zone_id=${cluster.zone_id}`);
    }
    if (get(`nic${i}.ip`)) {
      raw[`nicipaddresslist[${ips}].nic`] = id;
      raw[`nicipaddresslist[${ips++}].ip4Address`] = get(`nic${i}.ip`);
    }
  }
  let disks = 0;
  for (let i = 0; `datadisk${i}.id` in cells || `datadisk${i}.diskoffering` in cells; i++) {
    if (!get(`datadisk${i}.diskoffering`)) continue;
    if (!get(`datadisk${i}.id`)) throw ApiError.param(`datadisk${i}.id: empty; the disk offering in datadisk${i}.diskoffering needs the disk's id (from the export)`);
    raw[`datadiskofferinglist[${disks}].disk`] = get(`datadisk${i}.id`);
    raw[`datadiskofferinglist[${disks++}].diskOffering`] = refOf(engine, 'disk_offerings', 'disk offering', `datadisk${i}.diskoffering`, get(`datadisk${i}.diskoffering`));
  }
  return raw;
}

export interface RowResult {
  line: number;
  name: string;
  status: 'imported' | 'skipped' | 'failed';
  virtualmachineid?: string;
  jobid?: string;
  errorcode?: number;
  errortext?: string;
}

/** The Kiln VM that already is this cluster's VM NAME, if any: a re-run's row to skip. */
function managedAs(engine: Engine, cluster: ClusterRow, name: string): string | undefined {
  const row = engine.db.prepare(`SELECT uuid FROM vm_instances WHERE (internal_name=? OR instance_name=?) AND cluster_id=? AND state<>'Expunged' AND removed IS NULL`).get(name, name, cluster.id) as { uuid: string } | undefined;
  return row?.uuid;
}

/**
 * The parent job. CHILD is importUnmanagedInstance's definition: each row's parameters are parsed
 * by its schema and its job is submitted as if that command had been called.
 */
export function bulkImportWork(engine: Engine, caller: Caller, cluster: ClusterRow, rows: CsvRow[], concurrency: number, child: CommandDef): AsyncWork {
  return {
    instanceType: 'Cluster',
    instanceId: cluster.uuid,
    // One bulk run per cluster at a time: two would race for the same VMs.
    queueKey: `bulk-import:${cluster.id}`,
    run: async (job: JobHandle): Promise<ApiObject> => {
      // The cluster's hosts are asked once per run, not once per row (which made a run O(N²)).
      const listing = await listUnmanaged(engine, cluster);
      // A row's child job is seen ending from the job updates, at once: engine.jobs.wait polls
      // every 50 ms, which was most of a row's time (an import itself takes a few ms; bench csv-bulk).
      const ending = new Map<string, () => void>();
      const onJob = (u: JobUpdate) => {
        if (u.status !== JobStatus.IN_PROGRESS) ending.get(u.jobid)?.();
      };
      engine.jobs.updates.on('job', onJob);
      const ended = (jobid: string) =>
        new Promise<ApiObject>((resolve) => {
          const settle = () => {
            ending.delete(jobid);
            resolve(engine.jobs.get(jobid)!);
          };
          ending.set(jobid, settle);
          // Its job runs from a later turn (jobs.submit), so it cannot have ended yet; but if it has, say so now.
          if (engine.jobs.get(jobid)?.['jobstatus'] !== JobStatus.IN_PROGRESS) settle();
        });
      const results: RowResult[] = [];
      const firstLine = new Map<string, number>();
      // The MACs of the rows being imported: planImport checks a row's MACs against the database,
      // which a row still in flight has not written yet (at a cap above 1 the second row's write
      // failed on the nics table's unique MAC, a bare 530).
      const claimed = new Map<string, { line: number; name: string }>();
      let next = 0;
      let done = 0;
      const one = async (row: CsvRow): Promise<RowResult> => {
        const name = (row.cells['name'] ?? '').trim();
        const base = { line: row.line, name };
        if (!name) return { ...base, status: 'failed', errorcode: 431, errortext: 'name: empty' };
        const earlier = firstLine.get(name);
        if (earlier !== undefined) return { ...base, status: 'failed', errorcode: 431, errortext: `name: VM ${name} is already on line ${earlier} of this file` };
        firstLine.set(name, row.line);
        const existing = managedAs(engine, cluster, name);
        if (existing) return { ...base, status: 'skipped', virtualmachineid: existing, errortext: `VM ${name} is already managed by Kiln` };
        try {
          const args = parseParams(child.name, child.params, rowParams(engine, cluster, row.cells), caller);
          const plan = await planImport(engine, caller, args, listing);
          const clash = plan.nics.find((n) => claimed.has(n.mac));
          if (clash) {
            const other = claimed.get(clash.mac)!;
            const nic = plan.vm.info.nics.find((n) => n.id === clash.nicId);
            throw ApiError.param(`forced: NIC ${clash.nicId} of VM ${name}: MAC ${nic?.macAddress ?? clash.mac} is also the MAC of VM ${other.name} on line ${other.line} of this file, which this run imports; two NICs Kiln manages cannot share a MAC, even with forced=true`);
          }
          for (const n of plan.nics) claimed.set(n.mac, base);
          const jobid = engine.jobs.submit(caller, child, args, importWork(engine, caller, plan));
          const finished = await ended(jobid);
          const result = finished['jobresult'] as Record<string, unknown> | undefined;
          if (finished['jobstatus'] === 1) {
            const vm = result?.['virtualmachine'] as { id?: string } | undefined;
            return { ...base, status: 'imported', jobid, virtualmachineid: vm?.id };
          }
          // Not imported: its MACs are free for a later row.
          for (const n of plan.nics) if (claimed.get(n.mac) === base) claimed.delete(n.mac);
          return { ...base, status: 'failed', jobid, errorcode: Number(result?.['errorcode'] ?? 530), errortext: String(result?.['errortext'] ?? 'the import job failed') };
        } catch (e) {
          const err = toApiError(e);
          return { ...base, status: 'failed', errorcode: err.errorCode, errortext: err.message };
        }
      };
      const worker = async () => {
        while (next < rows.length) {
          const row = rows[next++]!;
          const result = await one(row);
          results.push(result);
          done++;
          job.progress((done / rows.length) * 100, `${done}/${rows.length}: ${result.name || `line ${result.line}`} ${result.status}${result.errortext && result.status === 'failed' ? `: ${result.errortext}` : ''}`);
        }
      };
      try {
        await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker));
      } finally {
        engine.jobs.updates.off('job', onJob);
      }
      results.sort((a, b) => a.line - b.line);
      const count = (s: RowResult['status']) => results.filter((r) => r.status === s).length;
      return { total: rows.length, imported: count('imported'), skipped: count('skipped'), failed: count('failed'), row: results as unknown as ApiObject[] };
    },
  };
}
