/**
 * restoreVolumeFromBackupAndAttachToVM whose host is cut off (hosts.sh cut-link) during the copy:
 * the restore stops at its crash point before the copy (KILN_TEST_PAUSE_AT=backup-restore-copy-1),
 * is let go, and a watcher cuts host2's link as soon as the copy beside the new disk appears
 * (the copy goes on on the host, whose processes keep running; Kiln never hears it end). The
 * job fails saying the restore was cut short and what is removed when the host answers; no
 * volume is added, none is left half-made, and the backup is BackedUp. While the link is down
 * the host keeps the new disk and its copy (before: for good, nothing named them); once it is
 * back they are gone, with the restore's work directory, and an event says so.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pausedAt } from '../../drivers/common/crash-point.js';
import { fillDisk } from '../helpers/disk-patterns.js';
import { closeCutRestoreZone, cutRestoreZone, restoreLink, twoDiskVm, type CutRestoreZone } from '../helpers/cut-restore.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { HOSTS_SH } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POINT = 'backup-restore-copy-1';

describe.skipIf(!hosts || hosts.hosts.length < 2)('a KVM volume restore whose host is cut off during the copy', () => {
  let c: CutRestoreZone | undefined;
  const ok = (command: string, params: Record<string, string>) => c!.z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => c!.z.t.job(command, params);
  const pool = () => readdirSync(hosts!.storagePath).sort();
  const restoreWork = () => onHost('host2', 'ls', '-A', '/var/lib/kiln/backups').split('\n').filter((f) => f.startsWith('.restore-'));
  const restored = async () => (((await ok('listVolumes', { listall: 'true' }))['volume'] as { name: string }[] | undefined) ?? []).filter((v) => v.name.startsWith('Restored-'));

  beforeAll(async () => {
    c = await cutRestoreZone(hosts!);
  }, 120_000);

  afterAll(async () => {
    delete process.env['KILN_TEST_PAUSE_AT'];
    await closeCutRestoreZone(c);
  }, 180_000);

  it('fails saying so, adds no volume, and removes the disk and its copy when the host answers again', { timeout: 480_000 }, async () => {
    const z = c!.z;
    const { vm: source, volume, data } = await twoDiskVm(c!, 'vc-source');
    // Enough in the disk that its copy on the host lasts while the watcher cuts the link.
    fillDisk('host2', data, '0x6b', '0 384M');
    const backup = (await job('createBackup', { virtualmachineid: source, name: 'vc-backup' }))['backup'] as { id: string };
    const target = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: c!.plain, networkids: z.network, name: 'vc-target', hostid: z.hostIds['host2']! }))['virtualmachine'] as { id: string }).id;
    c!.vms.push(target);
    await job('stopVirtualMachine', { id: target, forced: 'true' });
    const before = pool();
    const hostName = z.t.engine.db.prepare('SELECT name FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2']!) as string;

    process.env['KILN_TEST_PAUSE_AT'] = POINT;
    pausedAt.delete(POINT);
    const started = await ok('restoreVolumeFromBackupAndAttachToVM', { backupid: backup.id, volumeid: volume, virtualmachineid: target });
    for (let i = 0; i < 1200 && !pausedAt.has(POINT); i++) await sleep(100);
    expect(pausedAt.has(POINT)).toBe(true);
    // The new disk is made; its copy begins once the pause is let go, and the link goes as it appears.
    const made = pool().filter((f) => !before.includes(f));
    expect(made).toHaveLength(1);
    const disk = made[0]!;
    const watcher = spawn('sh', ['-c', 'while [ ! -e "$1" ]; do sleep 0.005; done; exec "$2" cut-link host2', 'sh', `${hosts!.storagePath}/.kiln-restore-${disk}.part`, HOSTS_SH], { stdio: 'ignore' });
    const watched = new Promise<number | null>((resolve) => watcher.on('exit', resolve));
    c!.cut = true;
    delete process.env['KILN_TEST_PAUSE_AT'];
    const done = await z.t.engine.jobs.wait(String(started['jobid']), 240_000);
    expect(await watched).toBe(0);

    expect(done).toMatchObject({
      jobstatus: 2,
      jobresult: expect.objectContaining({
        errorcode: 534,
        errortext: `the restore of volume ${volume} from backup vc-backup onto VM vc-target was cut short: host ${hostName} stopped answering; no volume was added to VM vc-target, and the disk ${disk} it was writing there, with its copy, is removed when the host answers again`,
      }),
    });
    expect(await restored()).toEqual([]);
    expect(((await ok('listVolumes', { virtualmachineid: target }))['volume'] as { type: string }[]).map((v) => v.type)).toEqual(['ROOT']);
    expect(z.t.engine.db.prepare(`SELECT COUNT(*) FROM volumes WHERE removed IS NULL AND state NOT IN ('Ready','Allocated')`).pluck().get()).toBe(0);
    expect(((await ok('listBackups', { id: backup.id }))['backup'] as { status: string }[])[0]!.status).toBe('BackedUp');
    // While the host is away it holds the new disk and the copy beside it.
    expect(pool()).toEqual(expect.arrayContaining([disk, `.kiln-restore-${disk}.part`]));

    await ok('updateConfiguration', { name: 'backup.framework.sync.interval', value: '2' });
    z.t.engine.backups.start();
    restoreLink(c!);
    const back = Date.now();
    const owed = () => z.t.engine.db.prepare('SELECT COUNT(*) FROM backup_volume_restores').pluck().get() as number;
    while (owed() > 0 && Date.now() - back < 150_000) await sleep(500);
    expect(owed()).toBe(0);
    expect(pool()).toEqual(before);
    expect(restoreWork()).toEqual([]);
    expect(await restored()).toEqual([]);
    const events = ((await ok('listEvents', { type: 'BACKUP.RESTORE' }))['event'] as { description: string }[]).map((e) => e.description);
    expect(events).toContainEqual(`the restore of volume ${volume} from backup vc-backup onto VM vc-target was cut short: host ${hostName} stopped answering; host ${hostName} answered: the disk ${disk} it was writing there and its copy were removed`);
  });
});
