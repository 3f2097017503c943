/**
 * A two-disk restoreBackup whose host is cut off (hosts.sh cut-link) between the renames that put
 * the restored disks in place: the first disk is renamed, the link goes just before the second
 * (KILN_TEST_PAUSE_AT=backup-restore-rename-2, released once the link is down). The job fails,
 * but the VM must not keep one restored disk and one old: the backup stays Restoring, owned by no
 * process, with a note saying what is left to do, and once the link is back the sync task
 * finishes the renames: both disks hold the backup's bytes, nothing is left beside them, the
 * backup is BackedUp saying so, and the failed job ends done. Until then the VM does not start
 * (a 431 saying why).
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskHolds, fillDisk } from '../helpers/disk-patterns.js';
import { closeCutRestoreZone, cutAndRelease, cutRestoreZone, restoreLink, restorePausedAt, twoDiskVm, type CutRestoreZone } from '../helpers/cut-restore.js';
import { kvmHostsOrSkip } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('a KVM restore whose host is cut off between its renames', () => {
  let c: CutRestoreZone | undefined;
  const ok = (command: string, params: Record<string, string>) => c!.z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => c!.z.t.job(command, params);

  beforeAll(async () => {
    c = await cutRestoreZone(hosts!);
  }, 120_000);

  afterAll(() => closeCutRestoreZone(c), 180_000);

  it('keeps the restore to finish, and finishes it when the host answers again', { timeout: 420_000 }, async () => {
    const z = c!.z;
    const { vm, root, data } = await twoDiskVm(c!, 'rl-vm');
    fillDisk('host2', root, '0x5a', '2M 16M');
    fillDisk('host2', data, '0x6b', '0 16M');
    const backup = (await job('createBackup', { virtualmachineid: vm, name: 'two-disks' }))['backup'] as { id: string };
    fillDisk('host2', root, '0x77', '2M 16M');
    fillDisk('host2', data, '0x78', '0 16M');

    const jobId = await restorePausedAt(c!, backup.id, 'backup-restore-rename-2');
    expect(diskHolds('host2', root, '0x5a', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x78', '0 16M')).toBe(true);
    const done = await cutAndRelease(c!, jobId);
    expect(done['jobstatus']).toBe(2);
    const row = () => z.t.engine.db.prepare('SELECT status, owner, restore_plan, note FROM backups WHERE uuid=?').get(backup.id) as { status: string; owner: string | null; restore_plan: string | null; note: string | null };
    expect(row()).toMatchObject({ status: 'Restoring', owner: null, restore_plan: expect.any(String), note: expect.stringMatching(/^a restore from this backup was cut short while it put the restored disks in place: .*Kiln finishes it when the host answers again$/) });
    // Another restore (or backup) of the VM waits for this one to be finished, and so does a start.
    expect((await z.t.call('restoreBackup', { id: backup.id })).status).toBe(431);
    const start = await z.t.run('startVirtualMachine', { id: vm });
    expect(start).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errorcode: 431, errortext: expect.stringMatching(/^id: VM rl-vm is being restored from backup two-disks \(a restore cut short/) }) });
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');

    await ok('updateConfiguration', { name: 'backup.framework.sync.interval', value: '2' });
    z.t.engine.backups.start();
    restoreLink(c!);
    const back = Date.now();
    while (row().status !== 'BackedUp' && Date.now() - back < 150_000) await sleep(500);
    expect(row()).toMatchObject({ status: 'BackedUp', restore_plan: null, note: 'a restore from this backup was cut short while it put the restored disks in place; Kiln finished it: every disk of VM rl-vm is the restored one' });
    expect(diskHolds('host2', root, '0x5a', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x6b', '0 16M')).toBe(true);
    expect(readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'))).toEqual([]);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    // Its job, failed when the host went, ends done as a killed Kiln's does once the restore is finished.
    expect(await ok('queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 1, jobresult: expect.objectContaining({ success: true, note: expect.stringMatching(/Kiln finished it/) }) });
  });
});
