/**
 * A job cut off by a Kiln restart ends FAILED (530) with words that say what it was doing (its
 * command, and the VM or volume by name and id), the state it left that in, and, once the
 * restart's reconcile has settled the VM, how it was left; the settling transition's note names
 * the job. Before, every such job ended "Job interrupted: Kiln stopped while this job was in
 * progress. Check the state of its resource before retrying." and the VM's note "the job that was
 * moving it had been interrupted".
 */
import { describe, expect, it } from 'vitest';
import { testEngine, deployDemo, demoIds, type TestEngine } from '../helpers/engine.js';

/** Puts OBJECT where a dead process would have left it (STATE, when given), with its job still in progress. */
function interrupt(t: TestEngine, type: 'VirtualMachine' | 'Volume', uuid: string, cmd: string, state?: string, extra: Record<string, unknown> = {}): string {
  const table = type === 'VirtualMachine' ? 'vm_instances' : 'volumes';
  if (state) {
    const sets = Object.keys(extra).map((k) => `, ${k}=?`).join('');
    t.engine.db.prepare(`UPDATE ${table} SET state=?${type === 'VirtualMachine' ? ', update_count=update_count+1' : ''}${sets} WHERE uuid=?`).run(state, ...Object.values(extra), uuid);
  }
  const job = `${Math.random().toString(16).slice(2, 10)}-2222-4333-8444-555555555555`;
  t.engine.db
    .prepare(`INSERT INTO async_jobs (uuid, user_id, account_id, cmd, params, status, instance_type, instance_uuid, owner, created) VALUES (?,?,?,?,?,0,?,?,?,?)`)
    .run(job, t.admin.userId, t.admin.accountId, cmd, '{}', type, uuid, 'dead-process', new Date().toISOString());
  return job;
}

describe('a job cut off by a restart', () => {
  it('ends saying its command, its VM or volume by name, the state it left it in and how the restart settled it', async () => {
    const first = await testEngine({ keep: true });
    const stopping = await deployDemo(first, { name: 'was-stopping' });
    const starting = await deployDemo(first, { name: 'was-starting' });
    const running = await deployDemo(first, { name: 'still-running' });
    // The stop had reached the host (domain shut off) when the process died.
    await first.run('stopVirtualMachine', { id: stopping['id']! });
    const created = await first.job('createVolume', { zoneid: demoIds(first.engine).zoneid, diskofferingid: demoIds(first.engine).diskSmall, name: 'was-resizing' });
    const volume = first.engine.db.prepare(`SELECT uuid FROM volumes WHERE name='was-resizing'`).pluck().get() as string;
    expect(created).toBeDefined();
    const jobs = {
      stop: interrupt(first, 'VirtualMachine', stopping['id']!, 'stopVirtualMachine', 'Stopping', { host_id: first.engine.db.prepare('SELECT last_host_id FROM vm_instances WHERE uuid=?').pluck().get(stopping['id']) }),
      start: interrupt(first, 'VirtualMachine', starting['id']!, 'startVirtualMachine', 'Starting'),
      snapshot: interrupt(first, 'VirtualMachine', running['id']!, 'createVMSnapshot'),
      resize: interrupt(first, 'Volume', volume, 'resizeVolume', 'Resizing'),
    };
    const startedOn = first.engine.db.prepare('SELECT h.name FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').pluck().get(starting['id']) as string;
    await first.close();

    const second = await testEngine({ dataDir: first.dataDir });
    try {
      await second.engine.background.reconcileInterrupted();
      const errortext = async (jobid: string) => {
        const res = (await second.call('queryAsyncJobResult', { jobid })).body;
        expect(res).toMatchObject({ jobstatus: 2, jobresultcode: 530 });
        return (res['jobresult'] as { errortext: string }).errortext;
      };
      expect(await errortext(jobs.stop)).toBe(`Job interrupted: Kiln stopped while this job was in progress: stopVirtualMachine of VM was-stopping (${stopping['id']}), which it left Stopping. After the restart Kiln settled the VM on what its host reports: it is Stopped.`);
      expect(await errortext(jobs.start)).toBe(`Job interrupted: Kiln stopped while this job was in progress: startVirtualMachine of VM was-starting (${starting['id']}), which it left Starting. After the restart Kiln settled the VM on what its host reports: it is Running on host ${startedOn}.`);
      expect(await errortext(jobs.snapshot)).toBe(`Job interrupted: Kiln stopped while this job was in progress: createVMSnapshot of VM still-running (${running['id']}), which is Running. Check its state before retrying.`);
      expect(await errortext(jobs.resize)).toBe(`Job interrupted: Kiln stopped while this job was in progress: resizeVolume of volume was-resizing (${volume}), which it left Resizing. Kiln settles the volume at start; check its state before retrying.`);
      // The settling transition names the job too.
      const events = ((await second.call('listEvents', { resourceid: stopping['id']! })).body['event'] as { description: string }[]).map((e) => e.description);
      expect(events).toContain(`VM was-stopping (${stopping['id']}): Stopping -> Stopped (settled after restart: its stopVirtualMachine job (${jobs.stop}) had been interrupted)`);
    } finally {
      await second.close();
    }
  });
});
