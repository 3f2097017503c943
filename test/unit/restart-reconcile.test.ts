/**
 * A process that dies in the middle of a VM job leaves the VM in a transient state and its job
 * IN_PROGRESS. On the next start Kiln asks the host what exists and finishes the operation (an
 * interrupted destroy or expunge), or settles on what the host reports; a host that does not
 * answer keeps its leftovers on Kiln's books until it does. See also jobs-restart.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { testEngine, deployDemo, type TestEngine } from '../helpers/engine.js';

const HOSTS = ['sim-host-1', 'sim-host-2', 'sim-host-3'];

function row(t: TestEngine, vmId: string) {
  return t.engine.db.prepare('SELECT v.*, h.name AS host_name FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(vmId) as { id: number; state: string; internal_name: string; host_name: string | null };
}

function definedOn(t: TestEngine, vmId: string): string[] {
  const name = row(t, vmId).internal_name;
  return HOSTS.filter((h) => name in (t.engine.simulator.world.find(h)?.domains ?? {}));
}

function disksLeft(t: TestEngine, vmId: string): string[] {
  const paths = (t.engine.db.prepare('SELECT path FROM volumes WHERE vm_id=?').all(row(t, vmId).id) as { path: string }[]).map((v) => v.path);
  return paths.filter((p) => p in t.engine.simulator.world.disks);
}

/** Puts the VM where a dead process would have left it, with its job still in progress. */
function interrupt(t: TestEngine, vmId: string, state: string, cmd: string, extra: Record<string, unknown> = {}) {
  const sets = Object.keys(extra).map((k) => `, ${k}=?`).join('');
  t.engine.db.prepare(`UPDATE vm_instances SET state=?, update_count=update_count+1${sets} WHERE uuid=?`).run(state, ...Object.values(extra), vmId);
  const job = `${Math.random().toString(16).slice(2, 10)}-2222-4333-8444-555555555555`;
  t.engine.db
    .prepare(`INSERT INTO async_jobs (uuid, user_id, account_id, cmd, params, status, instance_type, instance_uuid, owner, created) VALUES (?,?,?,?,?,0,?,?,?,?)`)
    .run(job, t.admin.userId, t.admin.accountId, cmd, '{}', 'VirtualMachine', vmId, 'dead-process', new Date().toISOString());
  return job;
}

describe('restart after a VM job was interrupted', () => {
  it('finishes destroys and expunges on the host, and settles starts, stops and migrations on what the hosts report', async () => {
    const first = await testEngine({ keep: true });
    const destroying = await deployDemo(first, { name: 'was-destroying' });
    const expunging = await deployDemo(first, { name: 'was-expunging' });
    const starting = await deployDemo(first, { name: 'was-starting' });
    const stopping = await deployDemo(first, { name: 'was-stopping' });
    const migrating = await deployDemo(first, { name: 'was-migrating' });
    await first.run('stopVirtualMachine', { id: stopping['id']! });
    // The stop had reached the host (domain shut off) when the process died; destroy and expunge had not.
    const jobs = [
      interrupt(first, destroying['id']!, 'Destroying', 'destroyVirtualMachine'),
      interrupt(first, expunging['id']!, 'Expunging', 'expungeVirtualMachine'),
      interrupt(first, starting['id']!, 'Starting', 'startVirtualMachine'),
      interrupt(first, stopping['id']!, 'Stopping', 'stopVirtualMachine', { host_id: first.engine.db.prepare('SELECT last_host_id FROM vm_instances WHERE uuid=?').pluck().get(stopping['id']) }),
    ];
    // The migration had moved the domain to another host before the process died.
    const source = row(first, migrating['id']!).host_name!;
    const target = HOSTS.find((h) => h !== source)!;
    const sourceHost = first.engine.simulator.world.find(source)!;
    first.engine.simulator.world.find(target)!.domains[row(first, migrating['id']!).internal_name] = sourceHost.domains[row(first, migrating['id']!).internal_name]!;
    delete sourceHost.domains[row(first, migrating['id']!).internal_name];
    first.engine.simulator.world.save();
    jobs.push(interrupt(first, migrating['id']!, 'Migrating', 'migrateVirtualMachine'));
    expect(definedOn(first, destroying['id']!)).toHaveLength(1);
    expect(disksLeft(first, expunging['id']!).length).toBeGreaterThan(0);
    await first.close();

    const second = await testEngine({ dataDir: first.dataDir });
    try {
      await second.engine.background.reconcileInterrupted();
      expect(row(second, destroying['id']!).state).toBe('Destroyed');
      expect(definedOn(second, destroying['id']!)).toEqual([]);
      expect(disksLeft(second, destroying['id']!).length).toBeGreaterThan(0); // kept until expunge
      expect(row(second, expunging['id']!).state).toBe('Expunged');
      expect(definedOn(second, expunging['id']!)).toEqual([]);
      expect(disksLeft(second, expunging['id']!)).toEqual([]);
      expect(row(second, starting['id']!)).toMatchObject({ state: 'Running' });
      expect(row(second, stopping['id']!)).toMatchObject({ state: 'Stopped', host_name: null });
      expect(row(second, migrating['id']!)).toMatchObject({ state: 'Running', host_name: target });
      for (const job of jobs) {
        const res = await second.call('queryAsyncJobResult', { jobid: job });
        expect(res.body).toMatchObject({ jobstatus: 2, jobresultcode: 530 });
      }
      const events = (await second.call('listEvents', { resourceid: destroying['id']! })).body['event'] as { description: string }[];
      expect(events.some((e) => /Destroying -> Destroyed/.test(e.description))).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('keeps what an unreachable host still holds on the books, and removes it when the host answers', async () => {
    const first = await testEngine({ keep: true });
    const destroying = await deployDemo(first, { name: 'gone-destroying' });
    const expunging = await deployDemo(first, { name: 'gone-expunging' });
    for (const vm of [destroying, expunging]) await first.run('stopVirtualMachine', { id: vm['id']! });
    interrupt(first, destroying['id']!, 'Destroying', 'destroyVirtualMachine');
    interrupt(first, expunging['id']!, 'Expunging', 'expungeVirtualMachine');
    const hosts = new Set([...definedOn(first, destroying['id']!), ...definedOn(first, expunging['id']!)]);
    for (const h of hosts) first.engine.simulator.setHostUp(h, false);
    await first.close();

    const second = await testEngine({ dataDir: first.dataDir });
    try {
      await second.engine.background.reconcileInterrupted();
      // Nothing stays transient, and nothing is forgotten: the leftovers are still there, and owed.
      expect(row(second, destroying['id']!).state).toBe('Destroyed');
      expect(row(second, expunging['id']!).state).toBe('Expunged');
      expect(definedOn(second, destroying['id']!)).toHaveLength(1);
      expect(definedOn(second, expunging['id']!)).toHaveLength(1);
      expect(second.engine.db.prepare('SELECT count(*) FROM host_cleanups').pluck().get()).toBe(1);
      for (const h of hosts) second.engine.simulator.setHostUp(h, true);
      // The host answers: the HA pass undefines the Destroyed VM's copy, the sweeper does what is owed.
      await second.engine.background.ha.pass();
      await second.engine.background.sweep();
      expect(definedOn(second, destroying['id']!)).toEqual([]);
      expect(disksLeft(second, destroying['id']!).length).toBeGreaterThan(0);
      expect(definedOn(second, expunging['id']!)).toEqual([]);
      expect(disksLeft(second, expunging['id']!)).toEqual([]);
      expect(second.engine.db.prepare('SELECT count(*) FROM host_cleanups').pluck().get()).toBe(0);
    } finally {
      await second.close();
    }
  });
});
