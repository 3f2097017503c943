/**
 * The backup framework with the dummy provider on the simulator, driven through the registry as
 * a client would, on a fake clock: the framework switch, offerings, SLA assignment, ad-hoc and
 * scheduled backups with maxbackups retention, the missed-run rule across a restart, restores and
 * their preconditions, deletes, and the settling of a backup a dead process left.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { testEngine, demoIds, type TestEngine } from '../helpers/engine.js';

let t: TestEngine | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

type Obj = Record<string, unknown>;
const body = (res: { body: Obj }, key: string) => res.body[key] as Obj[];

async function setUp(options: { dataDir?: string; keep?: boolean } = {}) {
  t = await testEngine(options);
  const ids = demoIds(t.engine);
  return { t, ids };
}

async function enable(ctx: TestEngine, zoneid: string) {
  const res = await ctx.call('updateConfiguration', { name: 'backup.framework.enabled', value: 'true', zoneid });
  expect(res.status).toBe(200);
}

async function vmWithOffering(ctx: TestEngine, ids: ReturnType<typeof demoIds>, userDriven = 'true') {
  const deployed = await ctx.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: `bk${Math.floor(Math.random() * 1e6)}` });
  const vm = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine;
  const imported = await ctx.run('importBackupOffering', { zoneid: ids.zoneid, externalid: 'gold-policy', name: `Gold ${vm.id.slice(0, 4)}`, description: 'gold', allowuserdrivenbackups: userDriven });
  expect(imported['jobstatus'], JSON.stringify(imported)).toBe(1);
  const offering = (imported['jobresult'] as { backupoffering: { id: string } }).backupoffering;
  const assigned = await ctx.run('assignVirtualMachineToBackupOffering', { virtualmachineid: vm.id, backupofferingid: offering.id });
  expect(assigned['jobstatus'], JSON.stringify(assigned)).toBe(1);
  return { vm, offering };
}

describe('backup framework (dummy provider)', () => {
  it('while backup.framework.enabled is false (the default), backup commands answer 530 naming the setting', async () => {
    const { t, ids } = await setUp();
    const refused = await t.call('listBackupProviderOfferings', { zoneid: ids.zoneid });
    expect(refused.status).toBe(530);
    expect(refused.body['errortext']).toMatch(/Backup and Recovery feature is disabled for the zone Demo.*backup\.framework\.enabled/);
    expect((await t.call('importBackupOffering', { zoneid: ids.zoneid, externalid: 'gold-policy', name: 'G', description: 'g', allowuserdrivenbackups: 'true' })).status).toBe(530);
    // The providers themselves are listed whatever the zones say, and the zone setting takes only their names.
    expect(body(await t.call('listBackupProviders'), 'providers').map((p) => p['name'])).toEqual(['dummy', 'nas']);
    const unknown = await t.call('updateConfiguration', { name: 'backup.framework.provider.plugin', value: 'veeam', zoneid: ids.zoneid });
    expect(unknown.status).toBe(431);
    expect(unknown.body['errortext']).toMatch(/^value: backup\.framework\.provider\.plugin takes one of dummy, nas/);
  });

  it("lists the dummy provider's offerings, imports one (unique name, known external id) and deletes it unless a VM is assigned", async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const offered = body(await t.call('listBackupProviderOfferings', { zoneid: ids.zoneid }), 'backupoffering');
    expect(offered.map((o) => o['externalid'])).toEqual(['gold-policy', 'silver-policy']);
    const bad = await t.run('importBackupOffering', { zoneid: ids.zoneid, externalid: 'bronze', name: 'B', description: 'b', allowuserdrivenbackups: 'true' });
    expect(bad['jobresult']).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^externalid: the dummy provider has no offering "bronze"/) });
    const { vm, offering } = await vmWithOffering(t, ids);
    const listed = body(await t.call('listBackupOfferings', { zoneid: ids.zoneid }), 'backupoffering');
    expect(listed).toEqual([expect.objectContaining({ id: offering.id, provider: 'dummy', externalid: 'gold-policy', allowuserdrivenbackups: true, zonename: 'Demo' })]);
    const twice = await t.run('importBackupOffering', { zoneid: ids.zoneid, externalid: 'silver-policy', name: listed[0]!['name'] as string, description: 'x', allowuserdrivenbackups: 'false' });
    expect(twice['jobresult']).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^name: a backup offering named .* already exists/) });
    const inUse = await t.call('deleteBackupOffering', { id: offering.id });
    expect(inUse.status).toBe(431);
    expect(inUse.body['errortext']).toMatch(/is assigned to 1 VM\(s\)/);
    expect((await t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm.id }))['jobstatus']).toBe(1);
    expect((await t.call('deleteBackupOffering', { id: offering.id })).status).toBe(200);
    expect(body(await t.call('listBackupOfferings', {}), 'backupoffering')).toBeUndefined();
  });

  it('createBackup records a FULL dummy backup; an offering without user-driven backups refuses it', async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const { vm } = await vmWithOffering(t, ids);
    const job = await t.run('createBackup', { virtualmachineid: vm.id, name: 'first' });
    expect(job['jobstatus'], JSON.stringify(job)).toBe(1);
    const backups = body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup');
    expect(backups).toEqual([expect.objectContaining({ name: 'first', status: 'BackedUp', type: 'FULL', size: 1024000, virtualsize: 1024 ** 3, intervaltype: 'MANUAL', provider: 'dummy' })]);
    expect(JSON.parse(backups[0]!['volumes'] as string)).toEqual([expect.objectContaining({ type: 'ROOT' })]);

    const other = await vmWithOffering(t, ids, 'false');
    const refused = await t.call('createBackup', { virtualmachineid: other.vm.id });
    expect(refused.status).toBe(431);
    expect(refused.body['errortext']).toMatch(/does not allow user-driven backups/);
  });

  it('restoreBackup refuses a running VM (431, saying to stop it) and restores a stopped one; a destroyed VM is recovered', async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const { vm } = await vmWithOffering(t, ids);
    await t.run('createBackup', { virtualmachineid: vm.id });
    const backup = body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')[0]!;
    const running = await t.call('restoreBackup', { id: backup['id'] as string });
    expect(running.status).toBe(431);
    expect(running.body['errortext']).toMatch(/is Running; stop it before restoring it from a backup/);
    await t.run('stopVirtualMachine', { id: vm.id });
    expect((await t.run('restoreBackup', { id: backup['id'] as string }))['jobstatus']).toBe(1);
    await t.run('destroyVirtualMachine', { id: vm.id });
    const restored = await t.run('restoreBackup', { id: backup['id'] as string });
    expect(restored['jobstatus'], JSON.stringify(restored)).toBe(1);
    const after = (body(await t.call('listVirtualMachines', { id: vm.id }), 'virtualmachine'))[0]!;
    expect(after['state']).toBe('Stopped');
  });

  it('restores one volume onto another VM as its next data disk; a target VM with backups is refused (R57)', async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const a = await vmWithOffering(t, ids);
    await t.run('createBackup', { virtualmachineid: a.vm.id });
    const backup = body(await t.call('listBackups', { virtualmachineid: a.vm.id }), 'backup')[0]!;
    const root = (JSON.parse(backup['volumes'] as string) as { uuid: string }[])[0]!;
    const deployed = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small });
    const b = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine;
    const job = await t.run('restoreVolumeFromBackupAndAttachToVM', { backupid: backup['id'] as string, volumeid: root.uuid, virtualmachineid: b.id });
    expect(job['jobstatus'], JSON.stringify(job)).toBe(1);
    const volumes = body(await t.call('listVolumes', { virtualmachineid: b.id }), 'volume');
    expect(volumes.map((v) => v['type']).sort()).toEqual(['DATADISK', 'ROOT']);
    const refused = await t.call('restoreVolumeFromBackup', { backupid: backup['id'] as string, volumeid: root.uuid, virtualmachineid: a.vm.id });
    expect(refused.status).toBe(431);
    expect(refused.body['errortext']).toMatch(/^virtualmachineid: VM .* has 1 backup; volumes cannot be added to or removed from a VM with backups/);
    const wrong = await t.call('restoreVolumeFromBackupAndAttachToVM', { backupid: backup['id'] as string, volumeid: b.id, virtualmachineid: b.id });
    expect(wrong.body['errortext']).toMatch(/^volumeid: backup .* holds no volume/);
  });

  it('schedules: due runs on the fake clock make backups, maxbackups keeps the newest, and the answer shows next and last runs', async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const { vm } = await vmWithOffering(t, ids);
    const fw = t.engine.backups;
    fw.clock = () => new Date('2026-06-01T09:30:00Z');
    const created = await t.call('createBackupSchedule', { virtualmachineid: vm.id, intervaltype: 'HOURLY', schedule: '00', timezone: 'Asia/Seoul', maxbackups: '2' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body['backupschedule']).toMatchObject({ intervaltype: 'HOURLY', schedule: '00', timezone: 'Asia/Seoul', maxbackups: 2, scheduled: '2026-06-01T10:00:00+0000', nextruns: ['2026-06-01T10:00:00+0000', '2026-06-01T11:00:00+0000', '2026-06-01T12:00:00+0000'] });
    expect(await fw.runDueSchedules()).toEqual([]);
    for (const hour of ['10', '11', '12']) {
      fw.clock = () => new Date(`2026-06-01T${hour}:00:05Z`);
      expect(await fw.runDueSchedules()).toHaveLength(1);
      await t.engine.jobs.drain();
    }
    const kept = body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup');
    expect(kept).toHaveLength(2);
    expect(kept.every((b) => b['intervaltype'] === 'HOURLY')).toBe(true);
    const schedule = body(await t.call('listBackupSchedule', { virtualmachineid: vm.id }), 'backupschedule')[0]!;
    expect(schedule).toMatchObject({ lastrun: '2026-06-01T12:00:05+0000', scheduled: '2026-06-01T13:00:00+0000', lastresult: expect.stringMatching(/^started backup/) });
    // A second schedule of the same type changes the first (one per VM and interval type).
    await t.call('createBackupSchedule', { virtualmachineid: vm.id, intervaltype: 'HOURLY', schedule: '30', timezone: 'UTC' });
    expect(body(await t.call('listBackupSchedule', { virtualmachineid: vm.id }), 'backupschedule')).toEqual([expect.objectContaining({ schedule: '30', maxbackups: 2 })]);
    expect((await t.call('createBackupSchedule', { virtualmachineid: vm.id, intervaltype: 'MONTHLY', schedule: '00:00:31', timezone: 'UTC' })).body['errortext']).toMatch(/^schedule: the day of the month must be between 1 and 28, not 31/);
    expect((await t.call('deleteBackupSchedule', { id: schedule['id'] as string })).status).toBe(200);
    expect(body(await t.call('listBackupSchedule', { virtualmachineid: vm.id }), 'backupschedule')).toBeUndefined();
  });

  it('missed-run rule across a restart: five hourly slots passed while Kiln was closed, the next start runs the schedule once', async () => {
    const first = await setUp({ keep: true });
    const dataDir = first.t.dataDir;
    await enable(first.t, first.ids.zoneid);
    const { vm } = await vmWithOffering(first.t, first.ids);
    first.t.engine.backups.clock = () => new Date('2026-06-01T09:30:00Z');
    await first.t.call('createBackupSchedule', { virtualmachineid: vm.id, intervaltype: 'HOURLY', schedule: '00', timezone: 'UTC' });
    await first.t.engine.close();
    t = await testEngine({ dataDir });
    t.engine.backups.clock = () => new Date('2026-06-01T15:20:00Z');
    await t.engine.backups.sync();
    await t.engine.jobs.drain();
    expect(body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')).toHaveLength(1);
    await t.engine.backups.sync();
    await t.engine.jobs.drain();
    expect(body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')).toHaveLength(1);
    expect(body(await t.call('listBackupSchedule', { virtualmachineid: vm.id }), 'backupschedule')[0]).toMatchObject({ scheduled: '2026-06-01T16:00:00+0000', lastrun: '2026-06-01T15:20:00+0000' });
  });

  it('a backup a dead process left BackingUp ends in Error at the next start, never BackedUp', async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const { vm } = await vmWithOffering(t, ids);
    await t.run('createBackup', { virtualmachineid: vm.id, name: 'cut' });
    t.engine.db.prepare(`UPDATE backups SET status='BackingUp', owner='a-dead-process' WHERE name='cut'`).run();
    expect((await t.call('createBackup', { virtualmachineid: vm.id })).body['errortext']).toMatch(/has a backup task in progress \(cut is BackingUp\)/);
    expect(await t.engine.backups.settleInterrupted()).toBe(1);
    expect(body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')[0]).toMatchObject({ name: 'cut', status: 'Error', note: expect.stringMatching(/^interrupted: Kiln stopped during the backup/) });
  });

  it("a user sees and touches only its own account's backups (another's backup id is a 431, as an unknown one)", async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const { vm } = await vmWithOffering(t, ids);
    await t.run('createBackup', { virtualmachineid: vm.id, name: 'admins' });
    const backup = body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')[0]!;
    const created = await t.call('createAccount', { username: 'bk-other', password: 'pw-1-other', email: 'o@example.org', firstname: 'O', lastname: 'Ther' });
    const userId = ((created.body['account'] as { user: { id: string }[] }).user[0]!).id;
    const user = t.engine.accounts.byUserId((t.engine.db.prepare('SELECT id FROM users WHERE uuid=?').get(userId) as { id: number }).id)!;
    expect(body(await t.call('listBackups', {}, user), 'backup')).toBeUndefined();
    for (const [command, params] of [['restoreBackup', { id: backup['id'] as string }], ['deleteBackup', { id: backup['id'] as string }]] as const) {
      const refused = await t.call(command, params, user);
      expect(refused.status).toBe(431);
      expect(refused.body['errortext']).toMatch(/Invalid parameter id value=/);
    }
    expect(body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')).toHaveLength(1);
  });

  it('removeVirtualMachineFromBackupOffering keeps the backups, or with forced=true deletes them', async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const { vm, offering } = await vmWithOffering(t, ids);
    await t.run('createBackup', { virtualmachineid: vm.id });
    await t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm.id });
    expect(body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')).toEqual([expect.objectContaining({ vmofferingremoved: true })]);
    await t.run('assignVirtualMachineToBackupOffering', { virtualmachineid: vm.id, backupofferingid: offering.id });
    await t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm.id, forced: 'true' });
    expect(body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup')).toBeUndefined();
  });
});

describe('backup schedules on the real clock', () => {
  it('a schedule whose time comes fires once by the due timer, without waiting for the sync interval', async () => {
    const { t, ids } = await setUp();
    await enable(t, ids.zoneid);
    const { vm } = await vmWithOffering(t, ids);
    await t.call('createBackupSchedule', { virtualmachineid: vm.id, intervaltype: 'HOURLY', schedule: '00', timezone: 'UTC' });
    // Bring the next run to 400 ms from now, as if the hour were about to strike.
    t.engine.db.prepare('UPDATE backup_schedules SET scheduled_at=?').run(new Date(Date.now() + 400).toISOString());
    t.engine.backups.start();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await t.engine.jobs.drain();
    t.engine.backups.stop();
    const made = body(await t.call('listBackups', { virtualmachineid: vm.id }), 'backup');
    expect(made).toEqual([expect.objectContaining({ intervaltype: 'HOURLY', status: 'BackedUp' })]);
    const schedule = body(await t.call('listBackupSchedule', { virtualmachineid: vm.id }), 'backupschedule')[0]!;
    expect(new Date((schedule['scheduled'] as string).replace('+0000', 'Z')).getTime()).toBeGreaterThan(Date.now());
  });
});
