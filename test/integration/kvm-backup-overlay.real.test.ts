/**
 * A full backup of a running KVM VM lets the VM write into overlays while its disk is copied, and
 * commits them back last. Here the guest writes a marker into its disk during the backup and then
 * powers itself off before that commit (the engine is held at the point between the copy and the
 * commit: KILN_TEST_PAUSE_AT=backup-commit). The overlay holds the marker; the commit must not
 * need a running VM, nor may the overlay be thrown away with the staging directory. Afterwards:
 * the backup is BackedUp, no overlay file or staging directory is left, the domain's definition
 * names the VM's own disk again, and the VM started through Kiln reads the marker. The next
 * backup is a full one (the checkpoint's bitmaps may not hold writes committed while stopped).
 * Before the fix the job failed on blockcommit ("domain is not running") and the discard deleted
 * the overlay with the marker in it.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pausedAt } from '../../drivers/common/crash-point.js';
import { bootedConsole, guestShell } from '../helpers/guest-marks.js';
import { cleanUp, hostKilnPath, kvmHostsOrSkip, kvmBackupZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts)('a KVM backup whose guest powers off before the overlay is committed', () => {
  let z: KvmZone;
  let vm = '';
  const { mark, read: readMarker } = guestShell();

  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);
  const boot = () => bootedConsole(z, vm);

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host1']);
  }, 120_000);

  afterAll(async () => {
    delete process.env['KILN_TEST_PAUSE_AT'];
    if (!z) return;
    if (vm) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    if (vm) onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`, `/var/lib/kiln/backups/.staging/${vm}`);
    await z.t.close();
  }, 180_000);

  it('commits the overlay while the VM is stopped: the marker written during the backup is on the disk at the next start', { timeout: 420_000 }, async () => {
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    // Not an HA offering: a guest that powers itself off stays off.
    const plain = ((await ok('createServiceOffering', { name: 'no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
    vm = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: plain, networkids: z.network, name: 'bk-overlay', hostid: z.hostIds['host1']! }))['virtualmachine'] as { id: string }).id;
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: offering });
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
    const disk = onHost('host1', 'virsh', 'domblklist', '--domain', internal).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'vda')![1]!;
    let tap = await boot();
    await mark(tap, 'A');

    process.env['KILN_TEST_PAUSE_AT'] = 'backup-commit';
    const started = await ok('createBackup', { virtualmachineid: vm, name: 'overlay-left' });
    const backupId = String(started['id']);
    const overlay = `/var/lib/kiln/backups/.staging/${vm}/${backupId}/0.overlay.qcow2`;
    for (let i = 0; i < 1200 && !pausedAt.has('backup-commit'); i++) await sleep(100);
    expect(pausedAt.has('backup-commit')).toBe(true);
    // The disk is copied; the VM writes into the overlay now.
    expect(existsSync(hostKilnPath('host1', overlay))).toBe(true);
    await mark(tap, 'D');
    expect(await readMarker(tap)).toBe('D');
    tap.close();
    // The guest powers off (ACPI power button), still on the overlay.
    onHost('host1', 'virsh', 'shutdown', '--domain', internal);
    for (let i = 0; i < 600 && onHost('host1', 'virsh', 'domstate', '--domain', internal).trim() !== 'shut off'; i++) await sleep(100);
    expect(onHost('host1', 'virsh', 'domstate', '--domain', internal).trim()).toBe('shut off');
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', internal)).toContain(overlay);

    delete process.env['KILN_TEST_PAUSE_AT'];
    const done = await z.t.engine.jobs.wait(String(started['jobid']), 180_000);
    expect(done).toMatchObject({ jobstatus: 1, jobresult: { backup: expect.objectContaining({ id: backupId, status: 'BackedUp', type: 'FULL' }) } });
    // Kiln's reconcile pass (a running Kiln's background task; this test engine runs none) sees the VM stopped.
    const vmState = async () => ((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state;
    for (let i = 0; i < 60 && (await vmState()) !== 'Stopped'; i++) {
      await z.t.engine.background.ha.pass();
      await sleep(200);
    }
    expect(await vmState()).toBe('Stopped');
    // No overlay left: the definition names the disk again, and the staging directory is gone.
    expect(existsSync(hostKilnPath('host1', overlay))).toBe(false);
    expect(existsSync(hostKilnPath('host1', `/var/lib/kiln/backups/.staging/${vm}`))).toBe(false);
    const definition = onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', internal);
    expect(definition).toContain(`file='${disk}'`);
    expect(definition).not.toContain('.staging');
    onHost('host1', 'qemu-img', 'check', '-q', '-f', 'qcow2', disk);

    await job('startVirtualMachine', { id: vm });
    tap = await boot();
    expect(await readMarker(tap)).toBe('D');
    // The checkpoint went with the offline commit: the next backup is full, and restores whole.
    const next = (await job('createBackup', { virtualmachineid: vm, name: 'after' }))['backup'] as Record<string, unknown>;
    expect(next).toMatchObject({ status: 'BackedUp', type: 'FULL' });
    tap.close();
  });
});
