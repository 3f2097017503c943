import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import type { ClusterRow } from '../../import/unmanaged.js';
import { bulkImportWork, parseImportCsv } from '../../import/bulk-csv.js';
import importUnmanagedInstance from './importUnmanagedInstance.js';

/**
 * The most rows in flight at once (each planned by the parent, then imported by its own child job).
 * The run lists the cluster's hosts once; a child job is its host's adopt of one VM and Kiln's
 * writes, mostly work in this process, so a higher cap overlaps little (bench csv-bulk).
 */
const MAX_CONCURRENCY = 16;

export default defineCommand({
  name: 'importUnmanagedInstances',
  description: "Imports the VMs of a CSV file (exportUnmanagedInstances' columns, filled in) in one job: each row is an importUnmanagedInstance with its own job, at most concurrency at a time; the result lists every row as imported, skipped (already managed: a re-run imports nothing twice) or failed with its reason.",
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'bulkimport',
  params: [
    { name: 'clusterid', type: 'uuid', required: true, description: 'the cluster ID' },
    { name: 'csv', type: 'string', required: true, maxLength: 4 * 1024 * 1024, description: 'the CSV text: a header with name and the input columns (serviceoffering, account, domain, displayname, hostname, template, cpuspeed, forced, migrateallowed, nicN.id, nicN.network, nicN.ip, datadiskN.id, datadiskN.diskoffering); a UTF-8 BOM, quoted cells and commas in names are read as such' },
    { name: 'concurrency', type: 'integer', description: `how many VMs are imported at once, 1..${MAX_CONCURRENCY}; default 4` },
  ],
  handler({ engine, caller }, args) {
    const cluster = byUuid<ClusterRow>(engine.db, 'cluster', args.uuid('clusterid')!, 'clusterid');
    const concurrency = args.int('concurrency') ?? 4;
    if (concurrency < 1 || concurrency > MAX_CONCURRENCY) throw ApiError.param(`concurrency: must be 1..${MAX_CONCURRENCY}, not ${concurrency}`);
    const rows = parseImportCsv(args.str('csv')!, 'csv');
    return bulkImportWork(engine, caller, cluster, rows, concurrency, importUnmanagedInstance);
  },
});
