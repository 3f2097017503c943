/**
 * A backup cut short by a lost connection (hosts.sh cut-link: the host's link goes down, its
 * processes live on). The job fails once Kiln's SSH keepalives give up; Kiln cannot remove what it
 * had written then, so the backup is Error (discard_pending) and its partial directory is still on
 * the host. When the link comes back, Kiln discards it without a restart (the discard started at
 * the failure reaches the host once it answers again; the sync task, here every 2 s, and the host
 * coming back Up retry it): the directory, the staging files and the checkpoint are gone and no
 * backup job runs on the domain, while the VM kept running. Before, it stayed until a restart.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, harness, hostKilnPath, kvmBackupZone, kvmHostsOrSkip, type KvmZone, onHost } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('a KVM backup cut short by a lost connection', () => {
  let z: KvmZone;
  let vm = '';
  let cut = false;

  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host1', 'host2']);
  }, 120_000);

  afterAll(async () => {
    if (cut) harness('restore-link', 'host2');
    if (!z) return;
    z.t.engine.backups.stop();
    if (vm) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    if (vm) onHost('host2', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`, `/var/lib/kiln/backups/.staging/${vm}`);
    await z.t.close();
  }, 180_000);

  it('fails the job, and discards the partial backup when the connection is back', { timeout: 300_000 }, async () => {
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    // Not an HA offering: nothing restarts the VM elsewhere while its host is cut off.
    const plain = ((await ok('createServiceOffering', { name: 'no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
    vm = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: plain, networkids: z.network, name: 'bk-link-cut', hostid: z.hostIds['host2']!, rootdisksize: '1' }))['virtualmachine'] as { id: string }).id;
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: offering });
    // 400 MiB of data (written on the host while the VM is stopped), so the backup is still running when the link goes.
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
    const disk = onHost('host2', 'virsh', 'domblklist', '--domain', internal).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'vda')![1]!;
    onHost('host2', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 2M 400M', disk);
    await job('startVirtualMachine', { id: vm });

    const started = await ok('createBackup', { virtualmachineid: vm, name: 'cut-off' });
    const backupId = String(started['id']);
    const dir = hostKilnPath('host2', `/var/lib/kiln/backups/${vm}/${backupId}`);
    for (let i = 0; i < 3000 && !existsSync(`${dir}/0.qcow2.part`); i++) await sleep(10);
    expect(existsSync(`${dir}/0.qcow2.part`)).toBe(true);
    harness('cut-link', 'host2');
    cut = true;

    // The job fails (the keepalives give up); the partial directory cannot be removed while the host is away.
    const done = await z.t.engine.jobs.wait(String(started['jobid']), 120_000);
    expect(done['jobstatus']).toBe(2);
    const row = () => z.t.engine.db.prepare('SELECT status, note, discard_pending FROM backups WHERE uuid=?').get(backupId) as { status: string; note: string; discard_pending: number };
    expect(row()).toMatchObject({ status: 'Error', discard_pending: 1 });
    expect(existsSync(dir)).toBe(true);

    // The sync task runs every 2 s from now on, as in a running Kiln.
    await ok('updateConfiguration', { name: 'backup.framework.sync.interval', value: '2' });
    z.t.engine.backups.start();
    await sleep(6_000);
    expect(existsSync(dir)).toBe(true);

    harness('restore-link', 'host2');
    cut = false;
    const back = Date.now();
    while (existsSync(dir) && Date.now() - back < 90_000) await sleep(500);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(hostKilnPath('host2', `/var/lib/kiln/backups/.staging/${vm}`))).toBe(false);
    expect(row()).toMatchObject({ status: 'Error', discard_pending: 0 });
    expect(onHost('host2', 'virsh', 'domjobinfo', '--domain', internal)).toMatch(/Job type:\s+None/);
    expect(onHost('host2', 'virsh', 'checkpoint-list', '--domain', internal, '--name')).not.toContain(`kiln-${backupId}`);
    expect(onHost('host2', 'virsh', 'domstate', '--domain', internal).trim()).toBe('running');
    // The user sees the failed backup with its reason.
    const listed = ((await ok('listBackups', { virtualmachineid: vm }))['backup'] as Record<string, unknown>[]).find((b) => b['id'] === backupId);
    expect(listed).toMatchObject({ status: 'Error', note: expect.stringMatching(/^the backup failed: /) });
  });
});
