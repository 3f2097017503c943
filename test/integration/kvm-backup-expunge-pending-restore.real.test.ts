/**
 * destroyVirtualMachine expunge=true of a VM whose restore waits to be finished (a two-disk
 * restoreBackup cut off between its renames, hosts.sh cut-link: the first disk renamed, the
 * second's restored copy still beside it) expunges it, and the restore is abandoned with it: its
 * copy and work directory go from the host, its plan from the backup, which is BackedUp saying
 * why. Nothing of the VM is left in the pool (its data volume is named in volumeids, so it goes
 * too; its config drive as well).
 *
 * - the host answers again before the expunge (the sync task not running, so nothing finished
 *   the restore first): the copy goes with the expunge itself;
 * - the host is still cut off at the expunge: the expunge owes the VM's disks (host_cleanups)
 *   and the backup keeps the copy to remove; once the host answers, both are done.
 *
 * Before, the copy stayed in the pool for good and the backup Restoring, its plan naming disks
 * that no longer exist.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pausedAt } from '../../drivers/common/crash-point.js';
import { fillDisk } from '../helpers/disk-patterns.js';
import { cleanUp, harness, kvmHostsOrSkip, kvmBackupZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('expunging a KVM VM whose restore waits to be finished', () => {
  let z: KvmZone;
  const vms: string[] = [];
  let cut = false;
  let offering = '';
  let plain = '';
  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);
  const pool = () => readdirSync(hosts!.storagePath).sort();
  const row = (backup: string) => z.t.engine.db.prepare('SELECT status, owner, restore_plan, note FROM backups WHERE uuid=?').get(backup) as { status: string; owner: string | null; restore_plan: string | null; note: string | null };
  const workDirs = () => onHost('host2', 'ls', '-A', '/var/lib/kiln/backups').split('\n').filter((f) => f.startsWith('.restore-'));

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host2']);
    offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    plain = ((await ok('createServiceOffering', { name: 'no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
  }, 120_000);

  afterAll(async () => {
    delete process.env['KILN_TEST_PAUSE_AT'];
    if (cut) harness('restore-link', 'host2');
    if (!z) return;
    z.t.engine.backups.stop();
    for (const vm of vms) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    for (const vm of vms) onHost('host2', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`);
    await z.t.close();
  }, 180_000);

  /** A stopped two-disk VM whose restore was cut off between its renames; the link is cut when it resolves. */
  async function pendingRestore(name: string): Promise<{ vm: string; volume: string; backup: string; disks: string[] }> {
    const vm = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: plain, networkids: z.network, name, hostid: z.hostIds['host2']! }))['virtualmachine'] as { id: string }).id;
    vms.push(vm);
    const custom = (z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
    const volume = ((await job('createVolume', { zoneid: z.zoneid, diskofferingid: custom, size: '1', name: `${name}-data` }))['volume'] as { id: string }).id;
    await job('attachVolume', { id: volume, virtualmachineid: vm });
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: offering });
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
    const disks = onHost('host2', 'virsh', 'domblklist', '--domain', internal).split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => c[0] === 'vda' || c[0] === 'vdb').map((c) => c[1]!);
    const backup = ((await job('createBackup', { virtualmachineid: vm, name: `${name}-backup` }))['backup'] as { id: string }).id;
    fillDisk('host2', disks[0]!, '0x77', '2M 16M');
    process.env['KILN_TEST_PAUSE_AT'] = 'backup-restore-rename-2';
    pausedAt.delete('backup-restore-rename-2');
    const started = await ok('restoreBackup', { id: backup });
    for (let i = 0; i < 1200 && !pausedAt.has('backup-restore-rename-2'); i++) await sleep(100);
    expect(pausedAt.has('backup-restore-rename-2')).toBe(true);
    harness('cut-link', 'host2');
    cut = true;
    delete process.env['KILN_TEST_PAUSE_AT'];
    expect((await z.t.engine.jobs.wait(String(started['jobid']), 180_000))['jobstatus']).toBe(2);
    expect(row(backup)).toMatchObject({ status: 'Restoring', owner: null, restore_plan: expect.any(String) });
    // The second disk's restored copy is still beside it.
    expect(pool().filter((f) => f.startsWith('.kiln-restore-'))).toHaveLength(1);
    return { vm, volume, backup, disks: disks.map((d) => d.slice(d.lastIndexOf('/') + 1)) };
  }

  const abandoned = (name: string) => `a restore from this backup was abandoned: VM ${name} was expunged before it was finished; what it wrote aside was removed`;

  it('the host back first: the expunge removes the copy with the disks', { timeout: 420_000 }, async () => {
    const before = pool();
    const { vm, volume, backup, disks } = await pendingRestore('ep-back');
    harness('restore-link', 'host2');
    cut = false;
    const expunged = await z.t.run('destroyVirtualMachine', { id: vm, expunge: 'true', volumeids: volume });
    expect(expunged['jobstatus'], JSON.stringify(expunged)).toBe(1);
    expect(z.t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(vm)).toBe('Expunged');
    expect(row(backup)).toEqual({ status: 'BackedUp', owner: null, restore_plan: null, note: abandoned('ep-back') });
    expect(pool()).toEqual(before);
    for (const disk of disks) expect(pool()).not.toContain(disk);
    expect(workDirs()).toEqual([]);
    expect(z.t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get()).toBe(0);
  });

  it('the host still cut off: the copy goes when it answers, with the disks the expunge owes', { timeout: 420_000 }, async () => {
    const before = pool();
    const { vm, volume, backup, disks } = await pendingRestore('ep-cut');
    const expunged = await z.t.run('destroyVirtualMachine', { id: vm, expunge: 'true', volumeids: volume });
    expect(expunged['jobstatus'], JSON.stringify(expunged)).toBe(1);
    expect(z.t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(vm)).toBe('Expunged');
    expect(row(backup)).toMatchObject({
      status: 'Restoring',
      owner: null,
      note: expect.stringMatching(/^a restore from this backup was abandoned: VM ep-cut was expunged before it was finished; what it wrote aside is still on the host: removing it failed \(.+\), Kiln removes it when the host answers again$/),
    });
    // Owed: the data volume (destroy), the definition with the root disk and config drive (expunge).
    expect(z.t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get()).toBe(2);

    await ok('updateConfiguration', { name: 'backup.framework.sync.interval', value: '2' });
    z.t.engine.backups.start();
    harness('restore-link', 'host2');
    cut = false;
    const back = Date.now();
    while ((row(backup).status !== 'BackedUp' || (z.t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get() as number) > 0) && Date.now() - back < 150_000) {
      await z.t.engine.background.sweep();
      await sleep(500);
    }
    expect(row(backup)).toEqual({ status: 'BackedUp', owner: null, restore_plan: null, note: abandoned('ep-cut') });
    expect(z.t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get()).toBe(0);
    expect(pool()).toEqual(before);
    for (const disk of disks) expect(pool()).not.toContain(disk);
    expect(workDirs()).toEqual([]);
    expect(onHost('host2', 'virsh', 'list', '--all', '--name').trim()).toBe('');
  });
});
