/**
 * Issue 11: where the hypervisor runs an operation as a task (vCenter, xapi; the simulator with
 * tasks=1), the job stores the task's ref as soon as it exists, and a job a restart interrupted is
 * reattached to its task and finished with the task's outcome, not failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { testEngine, deployDemo, simDomain, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let hostId: string;

beforeAll(async () => {
  t = await testEngine();
  const cluster = ((await t.call('listClusters', {})).body['cluster'] as { id: string; podid: string; zoneid: string; hypervisortype: string }[]).find((c) => c.hypervisortype === 'Simulator')!;
  const added = await t.call('addHost', { zoneid: cluster.zoneid, podid: cluster.podid, clusterid: cluster.id, hypervisor: 'Simulator', url: 'simulator://taskhost?tasks=1&cpus=16&memory=65536' });
  hostId = (added.body['host'] as { id: string }).id;
});
afterAll(() => t.close());

describe('hypervisor tasks', () => {
  it("stores a start's task ref on its job", async () => {
    const vm = await deployDemo(t, { name: 'tasked', hostid: hostId });
    const job = t.engine.db.prepare(`SELECT hypervisor_task_ref FROM async_jobs WHERE cmd='deployVirtualMachine' AND instance_uuid=?`).pluck().get(vm['id']) as string | null;
    expect(job).toMatch(/^task-[0-9a-f-]{36}$/);
    expect(t.engine.simulator.world.tasks[job!]).toMatchObject({ op: 'start', state: 'success' });
  });

  it('reattaches a job a restart interrupted to its task and finishes it with the task\'s outcome', async () => {
    const vm = await deployDemo(t, { name: 'interrupted', hostid: hostId });
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const { host, internal_name, domain } = simDomain(t, vm['id']!);
    const boots = domain.boots;
    // What a kill -9 during a start leaves: the VM Starting on its host, the job in progress under
    // the dead process with the task ref it stored, and the task still running on the platform.
    const taskRef = `task-${randomUUID()}`;
    t.engine.simulator.world.tasks[taskRef] = { op: 'start', host, domain: internal_name, state: 'running' };
    const row = t.engine.db.prepare('SELECT id, user_id, account_id FROM vm_instances WHERE uuid=?').get(vm['id']) as { id: number; user_id: number; account_id: number };
    const hostRow = t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(hostId) as number;
    t.engine.db.prepare(`UPDATE vm_instances SET state='Starting', host_id=?, update_count=update_count+1 WHERE id=?`).run(hostRow, row.id);
    const jobUuid = randomUUID();
    t.engine.db
      .prepare(`INSERT INTO async_jobs (uuid, user_id, account_id, cmd, params, status, instance_type, instance_uuid, owner, created, hypervisor_task_ref) VALUES (?,?,?,?,?,0,?,?,?,?,?)`)
      .run(jobUuid, row.user_id, row.account_id, 'startVirtualMachine', '{}', 'VirtualMachine', vm['id'], 'a-dead-process', new Date().toISOString(), taskRef);

    await t.engine.background.reconcileInterrupted();

    const result = (await t.call('queryAsyncJobResult', { jobid: jobUuid })).body as { jobstatus: number; jobresult: { virtualmachine?: { state: string } } };
    expect(result.jobstatus).toBe(1);
    expect(result.jobresult.virtualmachine?.state).toBe('Running');
    expect(((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { state: string }[])[0]!.state).toBe('Running');
    expect(simDomain(t, vm['id']!).domain).toMatchObject({ power: 'Running', boots: boots + 1 });
  });
});
