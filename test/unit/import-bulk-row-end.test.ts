/**
 * A CSV bulk import reports each row as soon as the row's own import job has ended: the parent job
 * learns it from the job updates, not by polling the child's record (engine.jobs.wait looks every
 * 50 ms, which was most of a row's time at concurrency 1; bench csv-bulk). Said without a clock:
 * when a child job ends, a zero-delay timer is set; the parent's progress naming that row must
 * come before the event loop gets to it.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { JobUpdate } from '../../main/engine/jobs.js';
import { bulkCsv, bulkImportEngine } from '../helpers/bulk-import.js';
import type { TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let clusterid: string;
const names = ['row-end-1', 'row-end-2', 'row-end-3'];

beforeEach(async () => {
  ({ t, clusterid } = await bulkImportEngine(140, 'row-end 1x1024', names.map((name, i) => ({ name, uuid: `00000000-4444-5555-6666-00000000000${i}`, mac: `52:54:00:cd:00:0${i}` }))));
});
afterEach(async () => t.close());

it("reports each row of a bulk import as soon as the row's import job has ended, before any timer runs", async () => {
  const csv = await bulkCsv(t, clusterid, { serviceoffering: 'row-end 1x1024', 'nic0.network': 'l2-140' });

  // For each child job that ends: has a zero-delay timer set at its end run by the time the parent names its row?
  const ended = new Map<string, { timerRan: boolean }>();
  const endedByVm = new Map<string, { timerRan: boolean }>();
  const seen: { name: string; timerRan: boolean | undefined }[] = [];
  const onJob = (u: JobUpdate) => {
    if (u.cmd === 'importUnmanagedInstance' && u.status !== 0) {
      const mark = { timerRan: false };
      ended.set(u.jobid, mark);
      setTimeout(() => (mark.timerRan = true), 0);
      const vm = t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(u.instanceId) as { internal_name: string } | undefined;
      if (vm) endedByVm.set(vm.internal_name, mark);
    } else if (u.cmd === 'importUnmanagedInstances' && u.message) {
      const name = /^\d+\/\d+: (\S+) /.exec(u.message)?.[1] ?? '';
      seen.push({ name, timerRan: endedByVm.get(name)?.timerRan });
    }
  };
  t.engine.jobs.updates.on('job', onJob);
  const result = (await t.job('importUnmanagedInstances', { clusterid, csv, concurrency: '1' }))['bulkimport'] as { imported: number; failed: number };
  t.engine.jobs.updates.off('job', onJob);

  expect(result).toMatchObject({ imported: 3, failed: 0 });
  expect(ended.size).toBe(3);
  // Without the updates, the parent looked at the child's record 50 ms later: every row's timer had run.
  expect(seen.sort((a, b) => a.name.localeCompare(b.name))).toEqual(names.map((name) => ({ name, timerRan: false })));
});
