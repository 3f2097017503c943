/**
 * A `kill -9` of `kiln serve` while it backs up a running KVM VM (nas provider): the backup's file
 * is there as `.part` when the process dies, and libvirt's job may go on without it. At the next
 * start nothing of it looks complete: the backup is Error with the reason, its directory and its
 * checkpoint are gone from the host, no backup job runs on the domain, and the job is failed.
 *
 * Then a `kill -9` during restoreBackup, while the restored disk is being written beside the
 * VM's: at the next start the VM is Stopped with its old disk, whole (the restored copy is never
 * renamed over it, and is removed), the backup is BackedUp again saying so, the job is failed,
 * and a second restore brings the backup's data back.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, listedVm, ok, okJob, pollBackup, waitJob } from '../helpers/crash-rounds.js';
import { domainDisks, killRound, restoreLeftovers, sleep } from '../helpers/kill-rounds.js';
import { hostKilnPath, kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { deployServed, servedKvmZone } from '../helpers/served-kvm-zone.js';
import type { KilnProcess } from '../helpers/server.js';

const hosts = kvmHostsOrSkip();
const run = killRound('kiln-backup-kill-', 'K');

describe.skipIf(!hosts)('a kill -9 of kiln serve during a KVM backup', () => {
  afterAll(() => run.cleanup(), 180_000);

  let first: KilnProcess;
  let vmUuid: string | undefined;
  let disk = '';

  it('leaves no complete-looking backup, and the backup and its job settle at the next start', { timeout: 240_000 }, async () => {
    first = await run.start();
    const z = await servedKvmZone(first, hosts!, { name: 'Backup kill', instanceName: run.instanceName });

    // A 1 GiB root disk, so that a restore of it (the second test) takes a moment too.
    vmUuid = (await deployServed(first, z, 'bk-kill', { rootdisksize: '1' })).id;
    run.vms.push(vmUuid);
    expect((await okJob(first, 'assignVirtualMachineToBackupOffering', { virtualmachineid: vmUuid, backupofferingid: z.backupOffering }))['jobstatus']).toBe(1);
    // 256 MiB of data in the disk (written on the host while the VM is stopped), so the backup takes a moment
    // (with 60 MiB an idle CI machine finished it between two looks).
    expect((await okJob(first, 'stopVirtualMachine', { id: vmUuid, forced: 'true' }))['jobstatus']).toBe(1);
    const domain = (await listedVm(first, vmUuid)).instancename;
    disk = domainDisks('host1', domain)['vda']!;
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 2M 256M', disk);
    expect((await okJob(first, 'startVirtualMachine', { id: vmUuid }))['jobstatus']).toBe(1);

    const started = await ok(first, 'createBackup', { virtualmachineid: vmUuid, name: 'cut-short' });
    const backupId = String(started['id']);
    const jobId = String(started['jobid']);
    const dir = `/var/lib/kiln/backups/${vmUuid}/${backupId}`;
    // The moment libvirt has begun writing the file: kill -9. The host watches for it itself, every
    // 5 ms (a look from here costs a host command each), and answers what the directory held then.
    const seen = onHost('host1', 'sh', '-c', 'for i in $(seq 2400); do if [ -e "$1/0.qcow2.part" ] || [ -e "$1/COMPLETE" ]; then break; fi; sleep 0.005; done; ls -1 "$1" 2>/dev/null; true', 'sh', dir);
    await run.kill();
    expect(seen).toContain('0.qcow2.part');
    expect(seen).not.toContain('COMPLETE');
    // Killed, not yet restarted: the directory and the backup's checkpoint are on the host (libvirt's
    // job writes the .part and renames nothing; only Kiln removes them), so that their being gone
    // below is the restart's doing. (Whether libvirt's job still runs now is not looked at: it may
    // end by itself before the restart, and the domjobinfo below only says none is left.)
    expect(readdirSync(hostKilnPath('host1', dir))).toContain('0.qcow2.part');
    expect(onHost('host1', 'virsh', 'checkpoint-list', '--domain', domain, '--name')).toContain(`kiln-${backupId}`);

    first = await run.start();
    const backup = await pollBackup(first, backupId, (b) => b?.['status'] === 'Error', 100);
    expect(backup).toMatchObject({ status: 'Error', note: expect.stringMatching(/^interrupted: Kiln stopped during the backup; what it had written was discarded/) });
    expect(onHost('host1', 'sh', '-c', 'ls -1 "$1" 2>&1; true', 'sh', dir)).toMatch(/No such file/);
    const internal = await listedVm(first, vmUuid);
    expect(internal.state).toBe('Running');
    expect(onHost('host1', 'virsh', 'checkpoint-list', '--domain', internal.instancename, '--name')).not.toContain(`kiln-${backupId}`);
    expect(onHost('host1', 'virsh', 'domjobinfo', '--domain', internal.instancename)).toMatch(/Job type:\s+None/);
    expect(await ok(first, 'queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: expect.stringMatching(/Kiln stopped while this job was in progress/) }) });
    // The VM backs up again afterwards, whole.
    const again = await okJob(first, 'createBackup', { virtualmachineid: vmUuid });
    expect(again['jobresult']).toMatchObject({ backup: expect.objectContaining({ status: 'BackedUp', type: 'FULL' }) });
  });

  it('an interrupted restore leaves the VM Stopped with its old disk, whole, and settles the backup and the job', { timeout: 300_000 }, async () => {
    // After seconds of work on the host, the client's idle keep-alive socket may be one the server
    // is closing (fetch: "other side closed"): a throwaway request lets the next one use a new one.
    const fresh = () => api(first, 'listZones').catch(() => undefined);
    expect(vmUuid && disk).toBeTruthy();
    const vm = vmUuid!;
    // The backup holds 0x5a at 2M..202M (written while the VM is stopped, backed up stopped: qemu-img convert).
    expect((await okJob(first, 'stopVirtualMachine', { id: vm, forced: 'true' }))['jobstatus']).toBe(1);
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 2M 200M', disk);
    await fresh();
    const taken = await okJob(first, 'createBackup', { virtualmachineid: vm, name: 'to-restore' });
    const backupId = (taken['jobresult'] as { backup: { id: string; status: string } }).backup.id;
    // The VM's disk now holds 0x77 there: the "old disk" a cut-short restore must leave.
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x77 2M 200M', disk);

    const aside = join(dirname(disk), `.kiln-restore-${basename(disk)}.part`);
    await fresh();
    const started = await ok(first, 'restoreBackup', { id: backupId });
    const jobId = String(started['jobid']);
    // The moment the restored copy is being written beside the disk: kill -9.
    for (let i = 0; i < 3000 && !existsSync(aside); i++) await sleep(10);
    await run.kill();
    expect(existsSync(aside)).toBe(true);
    // With the copy, its .pids file and the restore's work directory (.restore-<disk>, which the script made before the copy).
    expect(restoreLeftovers('host1', disk)).toEqual({ aside: true, pids: true, work: true });

    // What went on on the host without Kiln (the restore script) has time to finish before the restart.
    await sleep(5_000);
    // It left all three: no SIGHUP reached it and its last echo died of SIGPIPE, so its exit trap,
    // which removes the work directory and the .pids file, never ran (kill-rounds.ts). What is gone
    // after the restart, Kiln's recovery removed.
    expect(restoreLeftovers('host1', disk)).toEqual({ aside: true, pids: true, work: true });
    first = await run.start();
    const backup = await pollBackup(first, backupId, (b) => b?.['status'] === 'BackedUp' && Boolean(b['note']), 100);
    expect(backup).toMatchObject({ status: 'BackedUp', note: 'a restore from this backup was interrupted by a restart; the VM kept its disks as they were' });
    expect(await ok(first, 'queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: expect.stringMatching(/Kiln stopped while this job was in progress/) }) });
    expect((await listedVm(first, vm)).state).toBe('Stopped');
    // As the note says: the old disk, whole; no restored copy left beside it (nor what wrote it).
    expect(existsSync(aside)).toBe(false);
    expect(existsSync(`${aside}.pids`)).toBe(false);
    expect(existsSync(hostKilnPath('host1', `/var/lib/kiln/backups/.restore-${basename(disk)}`))).toBe(false);
    onHost('host1', 'qemu-img', 'check', '-q', '-f', 'qcow2', disk);
    expect(onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'read -P 0x77 2M 200M', disk)).toMatch(/read 209715200\/209715200 bytes/);

    // The backup restores whole afterwards.
    await fresh();
    // While it writes the copy, the copy, its .pids file and the work directory are there; gone once it is done.
    const restoring = String((await ok(first, 'restoreBackup', { id: backupId }))['jobid']);
    for (let i = 0; i < 3000 && !existsSync(aside); i++) await sleep(10);
    expect(restoreLeftovers('host1', disk)).toEqual({ aside: true, pids: true, work: true });
    expect((await waitJob(first, restoring))['jobstatus']).toBe(1);
    expect(onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'read -P 0x5a 2M 200M', disk)).toMatch(/read 209715200\/209715200 bytes/);
    expect(existsSync(aside)).toBe(false);
    expect(existsSync(hostKilnPath('host1', `/var/lib/kiln/backups/.restore-${basename(disk)}`))).toBe(false);
  });
});
