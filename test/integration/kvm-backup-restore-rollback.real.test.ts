/**
 * A two-disk restoreBackup that fails in a running Kiln before its renames, while its host is cut
 * off (hosts.sh cut-link): the first disk's restored copy is written beside it, the link goes
 * just before the second is copied (KILN_TEST_PAUSE_AT=backup-restore-copy-2, released once the
 * link is down). The job fails; the VM keeps its disks as they were, but the copy aside cannot be
 * removed yet: the backup stays Restoring, owned by no process, saying so, and once the link is
 * back the same recovery a restart does (finishCutShortRestores → settleRestore) rolls it back:
 * no copy or work directory left on the host, the backup BackedUp saying why, the disks as they
 * were. Before, the backup was BackedUp at once and the copy stayed in the pool for good.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pausedAt } from '../../drivers/common/crash-point.js';
import { diskHolds, fillDisk } from '../helpers/disk-patterns.js';
import { cleanUp, harness, kvmHostsOrSkip, kvmBackupZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('a KVM restore that fails before its renames while its host is cut off', () => {
  let z: KvmZone;
  let vm = '';
  let cut = false;
  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);
  const asides = () => readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'));

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

  it('keeps the rollback to do, and does it when the host answers again', { timeout: 420_000 }, async () => {
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    const plain = ((await ok('createServiceOffering', { name: 'no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
    vm = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: plain, networkids: z.network, name: 'rb-vm', hostid: z.hostIds['host2']! }))['virtualmachine'] as { id: string }).id;
    const custom = (z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
    const volume = ((await job('createVolume', { zoneid: z.zoneid, diskofferingid: custom, size: '1', name: 'rb-data' }))['volume'] as { id: string }).id;
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

    process.env['KILN_TEST_PAUSE_AT'] = 'backup-restore-copy-2';
    const started = await ok('restoreBackup', { id: backup.id });
    for (let i = 0; i < 1200 && !pausedAt.has('backup-restore-copy-2'); i++) await sleep(100);
    expect(pausedAt.has('backup-restore-copy-2')).toBe(true);
    // The root disk's restored copy is beside it; nothing is renamed yet.
    expect(asides()).toEqual([`.kiln-restore-${root.slice(root.lastIndexOf('/') + 1)}.part`]);
    harness('cut-link', 'host2');
    cut = true;
    delete process.env['KILN_TEST_PAUSE_AT'];
    const done = await z.t.engine.jobs.wait(String(started['jobid']), 180_000);
    expect(done['jobstatus']).toBe(2);
    const row = () => z.t.engine.db.prepare('SELECT status, owner, restore_plan, note FROM backups WHERE uuid=?').get(backup.id) as { status: string; owner: string | null; restore_plan: string | null; note: string | null };
    expect(row()).toMatchObject({
      status: 'Restoring',
      owner: null,
      restore_plan: null,
      note: expect.stringMatching(/^a restore from this backup failed \(.+\); the VM kept its disks as they were; what it wrote aside is still on the host: removing it failed \(.+\), Kiln removes it when the host answers again$/),
    });
    // The copy could not be removed while the host was away; the VM's disks were not touched.
    expect(asides()).toHaveLength(1);
    expect(diskHolds('host2', root, '0x77', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x78', '0 16M')).toBe(true);
    // No other restore or backup of the VM meanwhile (the rollback would race it).
    expect((await z.t.call('restoreBackup', { id: backup.id })).status).toBe(431);

    await ok('updateConfiguration', { name: 'backup.framework.sync.interval', value: '2' });
    z.t.engine.backups.start();
    harness('restore-link', 'host2');
    cut = false;
    const back = Date.now();
    while (row().status !== 'BackedUp' && Date.now() - back < 150_000) await sleep(500);
    expect(row()).toMatchObject({ status: 'BackedUp', owner: null, restore_plan: null, note: expect.stringMatching(/^a restore from this backup failed \(.+\); the VM kept its disks as they were$/) });
    expect(asides()).toEqual([]);
    expect(onHost('host2', 'ls', '-A', '/var/lib/kiln/backups').split('\n').filter((f) => f.startsWith('.restore-'))).toEqual([]);
    expect(diskHolds('host2', root, '0x77', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x78', '0 16M')).toBe(true);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    // The job stays failed: nothing was restored.
    expect(await ok('queryAsyncJobResult', { jobid: String(started['jobid']) })).toMatchObject({ jobstatus: 2 });
  });
});
