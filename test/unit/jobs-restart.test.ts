/** A job that was running when the process died is reported as failed after restart, not lost. */
import { describe, expect, it } from 'vitest';
import { testEngine, demoIds } from '../helpers/engine.js';

describe('async jobs across a restart', () => {
  it('keeps finished jobs and reports interrupted ones honestly', async () => {
    const first = await testEngine({ keep: true });
    const ids = demoIds(first.engine);
    const done = await first.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'survivor' });
    expect(done['jobstatus']).toBe(1);
    // Simulate a job that was in progress when the process died: a row owned by a dead process.
    first.engine.db
      .prepare(`INSERT INTO async_jobs (uuid, user_id, account_id, cmd, params, status, instance_type, instance_uuid, owner, created) VALUES (?,?,?,?,?,0,?,?,?,?)`)
      .run('11111111-2222-4333-8444-555555555555', first.admin.userId, first.admin.accountId, 'startVirtualMachine', '{}', 'VirtualMachine', done['jobinstanceid'], 'dead-process', new Date().toISOString());
    await first.close();

    const second = await testEngine({ dataDir: first.dataDir });
    try {
      const kept = await second.call('queryAsyncJobResult', { jobid: String(done['jobid']) });
      expect(kept.body).toMatchObject({ jobstatus: 1, jobresult: { virtualmachine: { name: 'survivor', state: 'Running' } } });
      const orphan = await second.call('queryAsyncJobResult', { jobid: '11111111-2222-4333-8444-555555555555' });
      expect(orphan.body).toMatchObject({ jobstatus: 2, jobresultcode: 530, cmd: 'startVirtualMachine' });
      expect(String((orphan.body['jobresult'] as { errortext: string }).errortext)).toMatch(/interrupted/);
      const listed = await second.call('listAsyncJobs');
      expect((listed.body['asyncjobs'] as { jobid: string }[]).map((j) => j.jobid)).toContain('11111111-2222-4333-8444-555555555555');
    } finally {
      await second.close();
    }
  });
});
