/** R32–R36: VM snapshots on the simulator zone, and listVolumes. */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, deployDemo, simDomain, consoleRun, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let alice: Caller;
let bob: Caller;

type Snap = { id: string; displayname: string; type: string; current: boolean; parent?: string; parentName?: string; state: string };

async function snapshot(vmId: string, params: Record<string, string> = {}, caller: Caller = t.admin): Promise<Snap> {
  const job = await t.run('createVMSnapshot', { virtualmachineid: vmId, ...params }, caller);
  if (job['jobstatus'] !== 1) throw new Error(JSON.stringify(job['jobresult']));
  return (job['jobresult'] as { vmsnapshot: Snap }).vmsnapshot;
}

async function list(vmId: string, caller: Caller = t.admin): Promise<Snap[]> {
  const res = await t.call('listVMSnapshot', { virtualmachineid: vmId }, caller);
  return (res.body['vmSnapshot'] as Snap[] | undefined) ?? [];
}

const vmState = (vmId: string) => (t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').get(vmId) as { state: string }).state;

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  for (const name of ['alice', 'bob']) t.engine.accounts.createAccount({ name, role: 'User', domainId: t.admin.domainId, username: name, password: 'secret-pw' });
  const userOf = (name: string) => t.engine.accounts.byUserId((t.engine.db.prepare('SELECT id FROM users WHERE username=?').get(name) as { id: number }).id)!;
  alice = userOf('alice');
  bob = userOf('bob');
});
afterAll(() => t.close());

describe('R32/R33: snapshots with memory, the tree, and revert', () => {
  it('reverts the disks and keeps the VM running; a new snapshot after a revert branches from it', async () => {
    const vm = await deployDemo(t, { name: 'snappy' });
    await consoleRun(t, vm['id']!, 'echo before > /dev/vda');
    const a = await snapshot(vm['id']!, { name: 'A', description: 'before the upgrade', snapshotmemory: 'true' });
    expect(a).toMatchObject({ displayname: 'A', type: 'DiskAndMemory', current: true, state: 'Ready' });
    expect(a.parent).toBeUndefined();
    await consoleRun(t, vm['id']!, 'echo after > /dev/vda');
    const b = await snapshot(vm['id']!, { name: 'B', snapshotmemory: 'true' });
    expect(b).toMatchObject({ current: true, parent: a.id, parentName: 'A' });
    expect((await list(vm['id']!)).map((s) => [s.displayname, s.current])).toEqual([['A', false], ['B', true]]);

    const reverted = await t.run('revertToVMSnapshot', { vmsnapshotid: a.id });
    expect(reverted['jobstatus']).toBe(1);
    expect((reverted['jobresult'] as { virtualmachine: { state: string } }).virtualmachine.state).toBe('Running');
    expect(await consoleRun(t, vm['id']!, 'cat /dev/vda')).toContain('before');
    expect(await consoleRun(t, vm['id']!, 'cat /dev/vda')).not.toContain('after');
    expect((await list(vm['id']!)).find((s) => s.current)?.displayname).toBe('A');

    const c = await snapshot(vm['id']!, { name: 'C', snapshotmemory: 'true' });
    expect(c.parent).toBe(a.id);
    // The hypervisor's tree agrees with Kiln's.
    const onHost = simDomain(t, vm['id']!).domain.snapshots;
    const hostName = (display: string) => t.engine.db.prepare('SELECT name FROM vm_snapshots WHERE display_name=? AND removed IS NULL').pluck().get(display);
    expect(onHost.find((s) => s.name === hostName('C'))).toMatchObject({ parent: hostName('A'), current: true });
    const events = await t.call('listEvents', { type: 'VMSNAPSHOT.REVERTTO' });
    expect(JSON.stringify(events.body)).toContain('VM snapshot A of VM snappy: reverted to');
  });

  it('deletes a snapshot in the middle: its child moves to its parent, the list and the host agree', async () => {
    const vm = await deployDemo(t, { name: 'chain' });
    const [a, b, c] = [await snapshot(vm['id']!, { name: 'a', snapshotmemory: 'true' }), await snapshot(vm['id']!, { name: 'b', snapshotmemory: 'true' }), await snapshot(vm['id']!, { name: 'c', snapshotmemory: 'true' })];
    const done = await t.run('deleteVMSnapshot', { vmsnapshotid: b!.id });
    expect(done['jobstatus']).toBe(1);
    const after = await list(vm['id']!);
    expect(after.map((s) => s.displayname)).toEqual(['a', 'c']);
    expect(after.find((s) => s.id === c!.id)).toMatchObject({ parent: a!.id, current: true });
    expect(simDomain(t, vm['id']!).domain.snapshots).toHaveLength(2);
    // Deleting the current one makes its parent current.
    await t.run('deleteVMSnapshot', { vmsnapshotid: c!.id });
    expect(await list(vm['id']!)).toMatchObject([{ displayname: 'a', current: true }]);
  });

  it('reverting a memory snapshot of a stopped VM starts it; a disk-only one needs the VM stopped and leaves it stopped', async () => {
    const vm = await deployDemo(t, { name: 'stopgo' });
    const mem = await snapshot(vm['id']!, { name: 'mem', snapshotmemory: 'true' });
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const disk = await snapshot(vm['id']!, { name: 'disk' });
    expect(disk).toMatchObject({ type: 'Disk', parent: mem.id });
    await t.run('revertToVMSnapshot', { vmsnapshotid: mem.id });
    expect(vmState(vm['id']!)).toBe('Running');
    const before = dbFingerprint(t.engine);
    const refused = await t.call('revertToVMSnapshot', { vmsnapshotid: disk.id });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/disks only; stop VM stopgo/);
    expect(dbFingerprint(t.engine)).toBe(before);
    await t.run('stopVirtualMachine', { id: vm['id']! });
    await t.run('revertToVMSnapshot', { vmsnapshotid: disk.id });
    expect(vmState(vm['id']!)).toBe('Stopped');
  });
});

describe('snapshots follow the VM to another host', () => {
  it('reverts on the host a VM was started on after its snapshot was taken elsewhere, and leaves no copy behind', async () => {
    const vm = await deployDemo(t, { name: 'traveller' });
    await consoleRun(t, vm['id']!, 'echo kept > /dev/vda');
    const snap = await snapshot(vm['id']!, { name: 'home', snapshotmemory: 'true' });
    await consoleRun(t, vm['id']!, 'echo lost > /dev/vda');
    const home = simDomain(t, vm['id']!).host;
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const away = t.engine.db.prepare('SELECT uuid, name FROM hosts WHERE name<>? ORDER BY id LIMIT 1').get(home) as { uuid: string; name: string };
    await t.run('startVirtualMachine', { id: vm['id']!, hostid: away.uuid });
    expect(simDomain(t, vm['id']!).host).toBe(away.name);
    expect(simDomain(t, vm['id']!).internal_name in t.engine.simulator.world.find(home)!.domains).toBe(false);
    const recorded = t.engine.db.prepare('SELECT name FROM vm_snapshots WHERE uuid=?').pluck().get(snap.id);
    expect(simDomain(t, vm['id']!).domain.snapshots.map((s) => [s.name, s.current])).toEqual([[recorded, true]]);
    const reverted = await t.run('revertToVMSnapshot', { vmsnapshotid: snap.id });
    expect(reverted['jobstatus']).toBe(1);
    expect(await consoleRun(t, vm['id']!, 'cat /dev/vda')).toContain('kept');
  });

  it('gives a host that lost the records back before reverting', async () => {
    const vm = await deployDemo(t, { name: 'forgetful' });
    await consoleRun(t, vm['id']!, 'echo one > /dev/vda');
    const snap = await snapshot(vm['id']!, { name: 'one', snapshotmemory: 'true' });
    await consoleRun(t, vm['id']!, 'echo two > /dev/vda');
    simDomain(t, vm['id']!).domain.snapshots = [];
    expect((await t.run('revertToVMSnapshot', { vmsnapshotid: snap.id }))['jobstatus']).toBe(1);
    expect(await consoleRun(t, vm['id']!, 'cat /dev/vda')).toContain('one');
  });
});

describe('R32/R35: what is refused, and changes nothing', () => {
  it('refuses memory from a stopped VM, a duplicate name, a second task at once, and another account', async () => {
    const vm = await deployDemo(t, { name: 'refusals' }, alice);
    await snapshot(vm['id']!, { name: 'one', snapshotmemory: 'true' }, alice);
    let before = dbFingerprint(t.engine);
    const dup = await t.call('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'one', snapshotmemory: 'true' }, alice);
    expect([dup.status, dup.body['errortext']]).toEqual([431, 'name: VM refusals already has a VM snapshot named one']);
    const other = await t.call('createVMSnapshot', { virtualmachineid: vm['id']! }, bob);
    expect(other.status).toBe(531);
    const notMine = await t.call('listVMSnapshot', { virtualmachineid: vm['id']! }, bob);
    expect(notMine.body['vmSnapshot']).toBeUndefined();
    expect(dbFingerprint(t.engine)).toBe(before);

    await t.run('stopVirtualMachine', { id: vm['id']! }, alice);
    before = dbFingerprint(t.engine);
    const memory = await t.call('createVMSnapshot', { virtualmachineid: vm['id']!, snapshotmemory: 'true' }, alice);
    expect(memory.status).toBe(431);
    expect(String(memory.body['errortext'])).toMatch(/^snapshotmemory: VM refusals is Stopped/);
    expect(dbFingerprint(t.engine)).toBe(before);

    // While one snapshot is being taken, another is refused rather than queued.
    t.engine.simulator.snapshotDelayMs = 200;
    try {
      const first = await t.call('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'slow' }, alice);
      expect(first.body).toHaveProperty('id');
      const second = await t.call('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'eager' }, alice);
      expect(second.status).toBe(431);
      expect(String(second.body['errortext'])).toMatch(/VM snapshot task in progress \(slow is (Allocated|Creating)\)/);
      expect((await t.engine.jobs.wait(String(first.body['jobid'])))['jobstatus']).toBe(1);
    } finally {
      t.engine.simulator.snapshotDelayMs = 0;
    }
  });

  it('gives up after vmsnapshot.create.wait and leaves no snapshot behind', async () => {
    const vm = await deployDemo(t, { name: 'waiter' });
    await t.call('updateConfiguration', { name: 'vmsnapshot.create.wait', value: '1' });
    t.engine.simulator.snapshotDelayMs = 1500;
    try {
      const job = await t.run('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'too-slow', snapshotmemory: 'true' });
      expect(job['jobstatus']).toBe(2);
      expect(String((job['jobresult'] as { errortext: string }).errortext)).toMatch(/did not finish within 1000 ms/);
    } finally {
      t.engine.simulator.snapshotDelayMs = 0;
      await t.call('updateConfiguration', { name: 'vmsnapshot.create.wait', value: '1800' });
    }
    expect(await list(vm['id']!)).toEqual([]);
    expect(simDomain(t, vm['id']!).domain.snapshots).toEqual([]);
    const events = await t.call('listEvents', { type: 'VMSNAPSHOT.CREATE', level: 'ERROR' });
    expect(JSON.stringify(events.body)).toContain('too-slow of VM waiter: failed');
  });

  it('keeps at most vmsnapshot.max, removing the oldest', async () => {
    const vm = await deployDemo(t, { name: 'capped' });
    await t.call('updateConfiguration', { name: 'vmsnapshot.max', value: '2' });
    try {
      for (const name of ['s1', 's2', 's3']) await snapshot(vm['id']!, { name, snapshotmemory: 'true' });
    } finally {
      await t.call('updateConfiguration', { name: 'vmsnapshot.max', value: '10' });
    }
    const left = await list(vm['id']!);
    expect(left.map((s) => s.displayname)).toEqual(['s2', 's3']);
    expect(left[0]!.parent).toBeUndefined();
    expect(simDomain(t, vm['id']!).domain.snapshots).toHaveLength(2);
  });

  it('refuses a restore while snapshots exist', async () => {
    const vm = await deployDemo(t, { name: 'norestore' });
    await snapshot(vm['id']!, { snapshotmemory: 'true' });
    const before = dbFingerprint(t.engine);
    const refused = await t.call('restoreVirtualMachine', { virtualmachineid: vm['id']! });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/has 1 VM snapshot; its volumes cannot change while they exist/);
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});

describe('R35/R36: offering changes and destroy', () => {
  it('changing the offering deletes the memory snapshots and keeps the disk ones; reverting a disk one brings back its offering', async () => {
    const vm = await deployDemo(t, { name: 'upgrader' });
    await snapshot(vm['id']!, { name: 'with-memory', snapshotmemory: 'true' });
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const disk = await snapshot(vm['id']!, { name: 'disk-only' });
    const changed = await t.call('changeServiceForVirtualMachine', { id: vm['id']!, serviceofferingid: ids.large });
    expect(changed.status).toBe(200);
    expect((await list(vm['id']!)).map((s) => s.displayname)).toEqual(['disk-only']);
    expect(simDomain(t, vm['id']!).domain.snapshots.map((s) => s.withMemory)).toEqual([false]);
    await t.run('revertToVMSnapshot', { vmsnapshotid: disk.id });
    const after = (await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { serviceofferingname: string; memory: number }[];
    expect(after[0]).toMatchObject({ serviceofferingname: 'Small Instance', memory: 512 });
  });

  it('destroy deletes every snapshot of the VM, on the host and in the list, with usage events', async () => {
    const vm = await deployDemo(t, { name: 'doomed' });
    await snapshot(vm['id']!, { snapshotmemory: 'true' });
    await snapshot(vm['id']!, { snapshotmemory: 'true' });
    const domain = simDomain(t, vm['id']!);
    await t.run('destroyVirtualMachine', { id: vm['id']! });
    expect(await list(vm['id']!)).toEqual([]);
    expect(domain.domain.snapshots).toEqual([]);
    const usage = t.engine.db.prepare(`SELECT count(*) FROM usage_events WHERE type='VMSNAPSHOT.DELETE' AND resource_id IN (SELECT id FROM vm_snapshots WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?))`).pluck().get(vm['id']);
    expect(usage).toBe(2);
  });
});

describe('after a restart', () => {
  it('drops a snapshot that was being taken and frees its VM for the next task', async () => {
    const first = await testEngine();
    const vm = await deployDemo(first, { name: 'interrupted' });
    first.engine.simulator.snapshotDelayMs = 300;
    const started = await first.call('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'half' });
    await new Promise((r) => setTimeout(r, 50));
    // Kiln "dies" mid-snapshot: a consistent copy of its data dir at this moment is what the next process opens.
    const copy = mkdtempSync(join(tmpdir(), 'kiln-restart-'));
    for (const file of ['master.key', 'simulator.json']) cpSync(join(first.dataDir, file), join(copy, file));
    first.engine.db.exec(`VACUUM INTO '${join(copy, 'kiln.db')}'`);
    expect(first.engine.db.prepare(`SELECT state FROM vm_snapshots WHERE display_name='half'`).pluck().get()).toBe('Creating');
    const again = await testEngine({ dataDir: copy });
    try {
      expect((await again.call('listVMSnapshot', { virtualmachineid: vm['id']! })).body['vmSnapshot']).toBeUndefined();
      const events = await again.call('listEvents', { type: 'VMSNAPSHOT.CREATE', level: 'ERROR' });
      expect(JSON.stringify(events.body)).toMatch(/half of VM interrupted: interrupted: Kiln stopped/);
      const job = await again.call('queryAsyncJobResult', { jobid: String(started.body['jobid']) });
      expect(job.body).toMatchObject({ jobstatus: 2, jobresultcode: 530 });
      // The VM is not stuck behind the lost task.
      const next = await again.run('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'next', snapshotmemory: 'true' });
      expect(next['jobstatus']).toBe(1);
    } finally {
      await again.close();
      await first.engine.jobs.wait(String(started.body['jobid']));
      await first.close();
    }
  });
});

describe('listVolumes', () => {
  it("lists a VM's root and data disks to its owner, and not to another account", async () => {
    const vm = await deployDemo(t, { name: 'disks', diskofferingid: ids.diskSmall }, alice);
    const mine = (await t.call('listVolumes', { virtualmachineid: vm['id']! }, alice)).body['volume'] as Record<string, unknown>[];
    expect(mine.map((v) => [v['type'], v['deviceid'], v['vmname'], v['state']])).toEqual([['ROOT', 0, 'disks', 'Ready'], ['DATADISK', 1, 'disks', 'Ready']]);
    expect(mine[0]).not.toHaveProperty('path');
    const admin = (await t.call('listVolumes', { virtualmachineid: vm['id']!, type: 'root' })).body['volume'] as Record<string, unknown>[];
    expect(admin).toHaveLength(1);
    expect(String(admin[0]!['path'])).toMatch(/\.qcow2$/);
    expect((await t.call('listVolumes', { virtualmachineid: vm['id']! }, bob)).body['volume']).toBeUndefined();
    const bad = await t.call('listVolumes', { type: 'SWAP' });
    expect([bad.status, bad.body['errortext']]).toEqual([431, 'type: ROOT or DATADISK']);
  });
});
