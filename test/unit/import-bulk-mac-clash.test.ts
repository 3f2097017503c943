/**
 * Two rows of one CSV bulk import whose VMs have a NIC with the same MAC (hand-set MACs, or
 * vcsim's generated ones, which repeat within a hundred VMs): at a cap above 1 both rows were
 * planned before either was written, so the second's write hit the nics table's unique MAC and
 * the row failed with a bare SQLite message (530). The second row is now refused as planned, with
 * a 431 naming the MAC and the other row's line, and nothing of it is written.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { bulkCsv, bulkImportEngine } from '../helpers/bulk-import.js';
import type { TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let clusterid: string;
const MAC = '52:54:00:cd:01:01';

beforeEach(async () => {
  ({ t, clusterid } = await bulkImportEngine(150, 'mac 1x1024', ['mac-a', 'mac-b', 'mac-c'].map((name, i) => ({
    name, uuid: `00000000-7777-8888-9999-00000000000${i}`, host: i % 2 ? 'sim-host-2' : 'sim-host-1',
    // mac-a and mac-b share a MAC; mac-c has its own.
    mac: i < 2 ? MAC : '52:54:00:cd:01:03',
  }))));
});
afterEach(async () => t.close());

it('refuses the second of two rows with the same MAC in one run with a 431 naming the other row, at a cap of 2', async () => {
  const csv = await bulkCsv(t, clusterid, { serviceoffering: 'mac 1x1024', 'nic0.network': 'l2-150' }, { byName: true });

  const result = (await t.job('importUnmanagedInstances', { clusterid, csv, concurrency: '2' }))['bulkimport'] as { imported: number; failed: number; row: Record<string, unknown>[] };
  expect(result).toMatchObject({ imported: 2, failed: 1 });
  expect(result.row.map(({ line, name, status, errorcode, errortext }) => ({ line, name, status, errorcode, errortext }))).toEqual([
    { line: 2, name: 'mac-a', status: 'imported', errorcode: undefined, errortext: undefined },
    {
      line: 3, name: 'mac-b', status: 'failed', errorcode: 431,
      errortext: `forced: NIC nic0 of VM mac-b: MAC ${MAC} is also the MAC of VM mac-a on line 2 of this file, which this run imports; two NICs Kiln manages cannot share a MAC, even with forced=true`,
    },
    { line: 4, name: 'mac-c', status: 'imported', errorcode: undefined, errortext: undefined },
  ]);
  // Nothing of mac-b was written, and it is still offered for import.
  expect(t.engine.db.prepare(`SELECT COUNT(*) AS n FROM vm_instances WHERE internal_name='mac-b'`).get()).toEqual({ n: 0 });
  const left = ((await t.ok('listUnmanagedInstances', { clusterid }))['unmanagedinstance'] as { name: string }[]).map((u) => u.name);
  expect(left).toEqual(['mac-b']);
});
