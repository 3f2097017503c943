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
import { pausedAt } from '../../drivers/common/crash-point.js';
import { diskHolds, fillDisk } from '../helpers/disk-patterns.js';
import { cleanUp, harness, kvmHostsOrSkip, kvmBackupZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('a KVM restore whose host is cut off between its renames', () => {
  let z: KvmZone;
  let vm = '';
  let cut = false;
  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host2']);
  }, 120_000);

  afterAll(async () => {
    delete process.env['KILN_TEST_PAUSE_AT'];
    if (cut) harness('restore-link', 'host2');
    if (!z) return;
    z.t.engine.backups.stop();
    if (vm) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    if (vm) onHost('host2', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`);
    await z.t.close();
  }, 180_000);

  it('keeps the restore to finish, and finishes it when the host answers again', { timeout: 420_000 }, async () => {
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    const plain = ((await ok('createServiceOffering', { name: 'no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
    vm = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: plain, networkids: z.network, name: 'rl-vm', hostid: z.hostIds['host2']! }))['virtualmachine'] as { id: string }).id;
    const custom = (z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
    const volume = ((await job('createVolume', { zoneid: z.zoneid, diskofferingid: custom, size: '1', name: 'rl-data' }))['volume'] as { id: string }).id;
    await job('attachVolume', { id: volume, virtualmachineid: vm });
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: offering });
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
    const disks = Object.fromEntries(onHost('host2', 'virsh', 'domblklist', '--domain', internal).split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => c[0] === 'vda' || c[0] === 'vdb').map((c) => [c[0]!, c[1]!]));
    const [root, data] = [disks['vda']!, disks['vdb']!];
    fillDisk('host2', root, '0x5a', '2M 16M');
    fillDisk('host2', data, '0x6b', '0 16M');
    const backup = (await job('createBackup', { virtualmachineid: vm, name: 'two-disks' }))['backup'] as { id: string };
    fillDisk('host2', root, '0x77', '2M 16M');
    fillDisk('host2', data, '0x78', '0 16M');

    process.env['KILN_TEST_PAUSE_AT'] = 'backup-restore-rename-2';
    const started = await ok('restoreBackup', { id: backup.id });
    for (let i = 0; i < 1200 && !pausedAt.has('backup-restore-rename-2'); i++) await sleep(100);
    expect(pausedAt.has('backup-restore-rename-2')).toBe(true);
    expect(diskHolds('host2', root, '0x5a', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x78', '0 16M')).toBe(true);
    harness('cut-link', 'host2');
    cut = true;
    delete process.env['KILN_TEST_PAUSE_AT'];
    const done = await z.t.engine.jobs.wait(String(started['jobid']), 180_000);
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
    harness('restore-link', 'host2');
    cut = false;
    const back = Date.now();
    while (row().status !== 'BackedUp' && Date.now() - back < 150_000) await sleep(500);
    expect(row()).toMatchObject({ status: 'BackedUp', restore_plan: null, note: 'a restore from this backup was cut short while it put the restored disks in place; Kiln finished it: every disk of VM rl-vm is the restored one' });
    expect(diskHolds('host2', root, '0x5a', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x6b', '0 16M')).toBe(true);
    expect(readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'))).toEqual([]);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    // Its job, failed when the host went, ends done as a killed Kiln's does once the restore is finished.
    expect(await ok('queryAsyncJobResult', { jobid: String(started['jobid']) })).toMatchObject({ jobstatus: 1, jobresult: expect.objectContaining({ success: true, note: expect.stringMatching(/Kiln finished it/) }) });
  });
});
