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
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, killHard, ok, pollBackup, waitJob } from '../helpers/crash-rounds.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

const hosts = kvmHostsOrSkip();
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-backup-kill-'));
const instanceName = `K${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
let kiln: KilnProcess | undefined;
let vmUuid: string | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts)('a kill -9 of kiln serve during a KVM backup', () => {
  afterAll(async () => {
    // A Kiln a failed case left killed answers nothing: the host cleanup below still runs.
    if (kiln && vmUuid) {
      const res = await api(kiln, 'destroyVirtualMachine', { id: vmUuid, expunge: 'true' }).catch(() => undefined);
      if (typeof res?.body['jobid'] === 'string') await waitJob(kiln, res.body['jobid']).catch(() => undefined);
    }
    await kiln?.stop();
    if (vmUuid) onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vmUuid}`);
    for (const name of onHost('host1', 'virsh', 'list', '--all', '--name').split('\n').filter((n) => n.endsWith(`-${instanceName}`))) {
      onHost('host1', 'sh', '-c', 'virsh destroy "$1" >/dev/null 2>&1; virsh undefine --checkpoints-metadata "$1" >/dev/null 2>&1; true', 'sh', name);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);

  let first: KilnProcess;
  let disk = '';

  it('leaves no complete-looking backup, and the backup and its job settle at the next start', { timeout: 240_000 }, async () => {
    first = await startKiln({ dataDir, args: ['--no-ui'] });
    kiln = first;
    const zone = ((await ok(first, 'createZone', { name: 'Backup kill' }))['zone'] as { id: string }).id;
    const pod = ((await ok(first, 'createPod', { name: 'BK Pod', zoneid: zone }))['pod'] as { id: string }).id;
    const cluster = ((await ok(first, 'addCluster', { clustername: 'BK Cluster', zoneid: zone, podid: pod, hypervisor: 'KVM' }))['cluster'] as { id: string }).id;
    const h = hosts!.hosts[0]!;
    const host = ((await ok(first, 'addHost', { zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${h.address}:${h.port}`, username: h.username, privatekey: readFileSync(h.privateKeyPath, 'utf8'), 'details[0].pool': hosts!.poolName }))['host'] as { id: string }).id;
    const os = ((await ok(first, 'listOsTypes', { description: 'Other Linux (64-bit)' }))['ostype'] as { id: string }[])[0]!.id;
    await ok(first, 'updateConfiguration', { name: 'kiln.template.local.dir', value: hosts!.storagePath });
    const template = ((await ok(first, 'registerTemplate', {
      name: 'bk guest', format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts!.templateImage, zoneid: zone, ispublic: 'true', size: String(64 * 1024 * 1024),
      'details[0].kernel': hosts!.kernel, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    }))['template'] as { id: string }[])[0]!.id;
    const offering = ((await ok(first, 'createServiceOffering', { name: 'bk-tiny', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
    const network = ((await ok(first, 'createNetwork', { name: 'bk-l2', zoneid: zone, vlan: '202' }))['network'] as { id: string }).id;
    for (const [name, value] of [['instance.name', instanceName], ['vm.stop.timeout', '3']]) await ok(first, 'updateConfiguration', { name: name!, value: value! });
    for (const [name, value] of [['backup.framework.enabled', 'true'], ['backup.framework.provider.plugin', 'nas']]) await ok(first, 'updateConfiguration', { name: name!, value: value!, zoneid: zone });
    const imported = await waitJob(first, String((await ok(first, 'importBackupOffering', { zoneid: zone, externalid: 'host-store', name: 'store', description: 'nas', allowuserdrivenbackups: 'true' }))['jobid']));
    const backupOffering = ((imported['jobresult'] as { backupoffering: { id: string } }).backupoffering).id;

    // A 1 GiB root disk, so that a restore of it (the second test) takes a moment too.
    const deployed = await waitJob(first, String((await ok(first, 'deployVirtualMachine', { zoneid: zone, templateid: template, serviceofferingid: offering, networkids: network, hostid: host, name: 'bk-kill', rootdisksize: '1' }))['jobid']));
    vmUuid = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    expect((await waitJob(first, String((await ok(first, 'assignVirtualMachineToBackupOffering', { virtualmachineid: vmUuid, backupofferingid: backupOffering }))['jobid'])))['jobstatus']).toBe(1);
    // 256 MiB of data in the disk (written on the host while the VM is stopped), so the backup takes a moment
    // (with 60 MiB an idle CI machine finished it between two looks).
    expect((await waitJob(first, String((await ok(first, 'stopVirtualMachine', { id: vmUuid, forced: 'true' }))['jobid'])))['jobstatus']).toBe(1);
    disk = onHost('host1', 'virsh', 'domblklist', '--domain', (((await ok(first, 'listVirtualMachines', { id: vmUuid }))['virtualmachine'] as { instancename: string }[])[0]!).instancename).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'vda')![1]!;
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 2M 256M', disk);
    expect((await waitJob(first, String((await ok(first, 'startVirtualMachine', { id: vmUuid }))['jobid'])))['jobstatus']).toBe(1);

    const started = await ok(first, 'createBackup', { virtualmachineid: vmUuid, name: 'cut-short' });
    const backupId = String(started['id']);
    const jobId = String(started['jobid']);
    const dir = `/var/lib/kiln/backups/${vmUuid}/${backupId}`;
    // The moment libvirt has begun writing the file: kill -9. The host watches for it itself, every
    // 5 ms (a look from here costs a host command each), and answers what the directory held then.
    const seen = onHost('host1', 'sh', '-c', 'for i in $(seq 2400); do if [ -e "$1/0.qcow2.part" ] || [ -e "$1/COMPLETE" ]; then break; fi; sleep 0.005; done; ls -1 "$1" 2>/dev/null; true', 'sh', dir);
    await killHard(first);
    expect(seen).toContain('0.qcow2.part');
    expect(seen).not.toContain('COMPLETE');

    first = await startKiln({ dataDir, args: ['--no-ui'] });
    kiln = first;
    const backup = await pollBackup(first, backupId, (b) => b?.['status'] === 'Error', 100);
    expect(backup).toMatchObject({ status: 'Error', note: expect.stringMatching(/^interrupted: Kiln stopped during the backup; what it had written was discarded/) });
    expect(onHost('host1', 'sh', '-c', 'ls -1 "$1" 2>&1; true', 'sh', dir)).toMatch(/No such file/);
    const internal = (((await ok(first, 'listVirtualMachines', { id: vmUuid }))['virtualmachine'] as { instancename: string; state: string }[])[0]!);
    expect(internal.state).toBe('Running');
    expect(onHost('host1', 'virsh', 'checkpoint-list', '--domain', internal.instancename, '--name')).not.toContain(`kiln-${backupId}`);
    expect(onHost('host1', 'virsh', 'domjobinfo', '--domain', internal.instancename)).toMatch(/Job type:\s+None/);
    expect(await ok(first, 'queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: expect.stringMatching(/Kiln stopped while this job was in progress/) }) });
    // The VM backs up again afterwards, whole.
    const again = await waitJob(first, String((await ok(first, 'createBackup', { virtualmachineid: vmUuid }))['jobid']));
    expect(again['jobresult']).toMatchObject({ backup: expect.objectContaining({ status: 'BackedUp', type: 'FULL' }) });
  });

  it('an interrupted restore leaves the VM Stopped with its old disk, whole, and settles the backup and the job', { timeout: 300_000 }, async () => {
    // After seconds of work on the host, the client's idle keep-alive socket may be one the server
    // is closing (fetch: "other side closed"): a throwaway request lets the next one use a new one.
    const fresh = () => api(first, 'listZones').catch(() => undefined);
    expect(vmUuid && disk).toBeTruthy();
    const vm = vmUuid!;
    // The backup holds 0x5a at 2M..202M (written while the VM is stopped, backed up stopped: qemu-img convert).
    expect((await waitJob(first, String((await ok(first, 'stopVirtualMachine', { id: vm, forced: 'true' }))['jobid'])))['jobstatus']).toBe(1);
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 2M 200M', disk);
    await fresh();
    const taken = await waitJob(first, String((await ok(first, 'createBackup', { virtualmachineid: vm, name: 'to-restore' }))['jobid']));
    const backupId = (taken['jobresult'] as { backup: { id: string; status: string } }).backup.id;
    // The VM's disk now holds 0x77 there: the "old disk" a cut-short restore must leave.
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x77 2M 200M', disk);

    const aside = join(dirname(disk), `.kiln-restore-${basename(disk)}.part`);
    await fresh();
    const started = await ok(first, 'restoreBackup', { id: backupId });
    const jobId = String(started['jobid']);
    // The moment the restored copy is being written beside the disk: kill -9.
    for (let i = 0; i < 3000 && !existsSync(aside); i++) await sleep(10);
    await killHard(first);
    expect(existsSync(aside)).toBe(true);

    // What went on on the host without Kiln (the restore script) has time to finish before the restart.
    await sleep(5_000);
    first = await startKiln({ dataDir, args: ['--no-ui'] });
    kiln = first;
    const backup = await pollBackup(first, backupId, (b) => b?.['status'] === 'BackedUp' && Boolean(b['note']), 100);
    expect(backup).toMatchObject({ status: 'BackedUp', note: 'a restore from this backup was interrupted by a restart; the VM kept its disks as they were' });
    expect(await ok(first, 'queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: expect.stringMatching(/Kiln stopped while this job was in progress/) }) });
    expect(((await ok(first, 'listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    // As the note says: the old disk, whole; no restored copy left beside it (nor what wrote it).
    expect(existsSync(aside)).toBe(false);
    expect(existsSync(`${aside}.pids`)).toBe(false);
    expect(existsSync(`/var/lib/kiln/backups/.restore-${basename(disk)}`)).toBe(false);
    onHost('host1', 'qemu-img', 'check', '-q', '-f', 'qcow2', disk);
    expect(onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'read -P 0x77 2M 200M', disk)).toMatch(/read 209715200\/209715200 bytes/);

    // The backup restores whole afterwards.
    await fresh();
    expect((await waitJob(first, String((await ok(first, 'restoreBackup', { id: backupId }))['jobid'])))['jobstatus']).toBe(1);
    expect(onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'read -P 0x5a 2M 200M', disk)).toMatch(/read 209715200\/209715200 bytes/);
    expect(existsSync(aside)).toBe(false);
    expect(existsSync(`/var/lib/kiln/backups/.restore-${basename(disk)}`)).toBe(false);
  });
});
