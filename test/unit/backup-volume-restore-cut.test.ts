/**
 * restoreVolumeFromBackupAndAttachToVM whose host is cut off during the copy, on the simulator:
 * the provider (the dummy's, given a copy that writes a disk on the host and then loses it)
 * records what it is about to write before it writes. The job fails saying the disk is removed
 * when the host answers again; no volume row is left, the backup is BackedUp; the disk is still in
 * the host's storage while the host is away, and gone once it answers (host back Up). A record a
 * dead process left goes at the next start.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DriverError } from '../../drivers/types.js';
import { dummyProvider } from '../../main/engine/backup/providers/dummy.js';
import type { BackupProvider } from '../../main/engine/backup/provider.js';
import { testEngine, demoIds, type TestEngine } from '../helpers/engine.js';

let t: TestEngine | undefined;
const provider = dummyProvider as BackupProvider;
afterEach(async () => {
  vi.restoreAllMocks();
  delete provider.discardVolumeRestore;
  await t?.close();
  t = undefined;
});

type Obj = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function restoreSetUp(ctx: TestEngine) {
  const ids = demoIds(ctx.engine);
  await ctx.ok('updateConfiguration', { name: 'backup.framework.enabled', value: 'true', zoneid: ids.zoneid });
  const deploy = async (name: string) => ((await ctx.job('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name }))['virtualmachine'] as { id: string; hostname: string }).id;
  const source = await deploy('vrc-source');
  const offering = ((await ctx.job('importBackupOffering', { zoneid: ids.zoneid, externalid: 'gold-policy', name: 'Gold', description: 'gold', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
  await ctx.job('assignVirtualMachineToBackupOffering', { virtualmachineid: source, backupofferingid: offering });
  const backup = (await ctx.job('createBackup', { virtualmachineid: source, name: 'vrc-backup' }))['backup'] as { id: string; volumes: string };
  const root = (JSON.parse(backup.volumes) as { uuid: string }[])[0]!.uuid;
  const target = await deploy('vrc-target');
  const vm = ctx.engine.db.prepare('SELECT host_id FROM vm_instances WHERE uuid=?').get(target) as { host_id: number };
  const hostName = ctx.engine.db.prepare('SELECT name FROM hosts WHERE id=?').pluck().get(vm.host_id) as string;
  return { backup: backup.id, root, target, hostId: vm.host_id, hostName };
}

/** The dummy's restoreVolume as a copy cut off mid-way: it records, makes the disk on HOST, and then the host goes. */
function copyCutOff(ctx: TestEngine, hostId: number, hostName: string, written: string[]) {
  vi.spyOn(dummyProvider, 'restoreVolume').mockImplementation(async (work, _volume, diskName) => {
    work.beforeWrites?.(hostId, { name: diskName });
    ctx.engine.simulator.world.disks[diskName] = '';
    written.push(diskName);
    ctx.engine.simulator.setHostIsolated(hostName, true);
    throw new DriverError(`${hostName}: the SSH connection was lost`, 'unreachable');
  });
  // What nas does, less the copy beside the disk the simulator has none of.
  provider.discardVolumeRestore = async (engine, id, target) => (await engine.hosts.session(id)).deleteDisks([target.name]);
}

const records = (ctx: TestEngine) => ctx.engine.db.prepare('SELECT disk, owner, note FROM backup_volume_restores').all() as { disk: string; owner: string | null; note: string | null }[];
const restoredVolumes = async (ctx: TestEngine) => (((await ctx.ok('listVolumes', { listall: 'true' }))['volume'] as { name: string; state: string }[] | undefined) ?? []).filter((v) => v.name.startsWith('Restored-'));

describe('a volume restore whose host is cut off during the copy', () => {
  it('fails saying so, leaves no volume, and the disk goes when the host answers again', async () => {
    t = await testEngine();
    const ctx = t;
    const s = await restoreSetUp(ctx);
    const written: string[] = [];
    copyCutOff(ctx, s.hostId, s.hostName, written);
    const failed = await ctx.run('restoreVolumeFromBackupAndAttachToVM', { backupid: s.backup, volumeid: s.root, virtualmachineid: s.target });
    expect(failed).toMatchObject({
      jobstatus: 2,
      jobresult: expect.objectContaining({
        errorcode: 534,
        errortext: `the restore of volume ${s.root} from backup vrc-backup onto VM vrc-target was cut short: host ${s.hostName} stopped answering; no volume was added to VM vrc-target, and the disk ${written[0]} it was writing there, with its copy, is removed when the host answers again`,
      }),
    });
    expect(await restoredVolumes(ctx)).toEqual([]);
    expect(((await ctx.ok('listVolumes', { virtualmachineid: s.target }))['volume'] as { type: string }[]).map((v) => v.type)).toEqual(['ROOT']);
    expect(((await ctx.ok('listBackups', { id: s.backup }))['backup'] as Obj[])[0]).toMatchObject({ status: 'BackedUp' });
    // While the host is away its storage keeps the disk, and Kiln keeps the record of it.
    expect(ctx.engine.simulator.world.disks[written[0]!]).toBeDefined();
    expect(records(ctx)).toEqual([{ disk: written[0], owner: null, note: `the restore of volume ${s.root} from backup vrc-backup onto VM vrc-target was cut short: host ${s.hostName} stopped answering` }]);
    // A sync while it is still away changes nothing.
    await ctx.engine.backups.sync();
    expect(records(ctx)).toHaveLength(1);

    // The host answers again (its connection back Up): what it owes is removed.
    ctx.engine.simulator.setHostIsolated(s.hostName, false);
    ctx.engine.backups.start();
    await ctx.engine.hosts.session(s.hostId);
    for (let i = 0; i < 100 && records(ctx).length > 0; i++) await sleep(50);
    expect(records(ctx)).toEqual([]);
    expect(ctx.engine.simulator.world.disks[written[0]!]).toBeUndefined();
    expect(await restoredVolumes(ctx)).toEqual([]);
    const events = (await ctx.ok('listEvents', { type: 'BACKUP.RESTORE' }))['event'] as { description: string }[];
    expect(events.map((e) => e.description)).toContainEqual(`the restore of volume ${s.root} from backup vrc-backup onto VM vrc-target was cut short: host ${s.hostName} stopped answering; host ${s.hostName} answered: the disk ${written[0]} it was writing there and its copy were removed`);
  });

  it('a copy that fails with its host answering removes what it wrote at once (no record left)', async () => {
    t = await testEngine();
    const ctx = t;
    const s = await restoreSetUp(ctx);
    const written: string[] = [];
    vi.spyOn(dummyProvider, 'restoreVolume').mockImplementation(async (work, _volume, diskName) => {
      work.beforeWrites?.(s.hostId, { name: diskName });
      ctx.engine.simulator.world.disks[diskName] = '';
      written.push(diskName);
      throw new DriverError('backup file 0.qcow2 does not match its checksum', 'failed');
    });
    provider.discardVolumeRestore = async (engine, id, target) => (await engine.hosts.session(id)).deleteDisks([target.name]);
    const failed = await ctx.run('restoreVolumeFromBackupAndAttachToVM', { backupid: s.backup, volumeid: s.root, virtualmachineid: s.target });
    expect(failed).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: 'backup file 0.qcow2 does not match its checksum' }) });
    expect(records(ctx)).toEqual([]);
    expect(ctx.engine.simulator.world.disks[written[0]!]).toBeUndefined();
    expect(await restoredVolumes(ctx)).toEqual([]);
  });

  it('what a dead process was writing is removed at the next start; a restore that succeeds leaves no record', async () => {
    const first = await testEngine({ keep: true });
    t = first;
    const s = await restoreSetUp(first);
    provider.discardVolumeRestore = async (engine, id, target) => (await engine.hosts.session(id)).deleteDisks([target.name]);
    const done = await first.job('restoreVolumeFromBackupAndAttachToVM', { backupid: s.backup, volumeid: s.root, virtualmachineid: s.target });
    expect(done).toMatchObject({ volumeid: expect.any(String) });
    expect(records(first)).toEqual([]);
    // A process that died during a copy left its record (owned by it) and the disk it was making.
    const backupId = first.engine.db.prepare('SELECT id FROM backups WHERE uuid=?').pluck().get(s.backup) as number;
    first.engine.db.prepare(`INSERT INTO backup_volume_restores (backup_id, volume_uuid, vm_id, host_id, disk, owner, created) VALUES (?,?,NULL,?,'kiln-vol-dead',?, '2026-01-01T00:00:00Z')`).run(backupId, '00000000-0000-4000-8000-000000000001', s.hostId, 'a-dead-process');
    first.engine.simulator.world.disks['kiln-vol-dead'] = '';
    first.engine.simulator.world.save(['disk', 'kiln-vol-dead']);
    const dataDir = first.dataDir;
    await first.engine.close();
    t = await testEngine({ dataDir });
    await t.engine.backups.settleInterrupted();
    expect(records(t)).toEqual([]);
    expect(t.engine.simulator.world.disks['kiln-vol-dead']).toBeUndefined();
    const events = (await t.ok('listEvents', { type: 'BACKUP.RESTORE' }))['event'] as { description: string }[];
    expect(events.map((e) => e.description)).toContainEqual(expect.stringMatching(/^a restore of volume 0{8}-0000-4000-8000-000000000001 from backup vrc-backup was interrupted by a restart; host .* answered: the disk kiln-vol-dead/));
  });
});
