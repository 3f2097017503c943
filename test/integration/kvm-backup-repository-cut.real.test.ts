/**
 * The link to a backup repository lost in the middle of the work (hosts.sh cut-link on the
 * repository's host, the harness's last host: it is not a host of the zone). The VM's host
 * streams into the repository through an sshfs mount that Kiln relays over its SSH connection to
 * the repository; once Kiln's keepalives give up, the relay ends and the work fails.
 *
 * - A backup of a running VM: the job fails with a reason naming the repository; the VM runs on
 *   its own disk again (the snapshot overlay committed), with no checkpoint, staging directory or
 *   mount left on its host; the backup is listed Error with that reason, never BackedUp. Its
 *   partial file stays on the repository while it cannot be reached, and goes once the link is
 *   back (the sync task's discard).
 * - A restore from it into the stopped VM: the job fails naming the repository, the VM is Stopped
 *   with its disk as it was (the restored copy was being written beside it, and is removed), and
 *   the backup is BackedUp again.
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cleanUp, harness, kvmHostsOrSkip, kvmBackupZone, onHost, onHostOverSsh, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const repoHost = hosts?.hosts[hosts.hosts.length - 1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('a backup repository whose link is lost mid-backup and mid-restore', () => {
  let z: KvmZone;
  let vm = '';
  let cut = false;

  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);
  const ls = (host: string, dir: string) => onHost(host, 'sh', '-c', 'ls -1A "$1" 2>&1; true', 'sh', dir).split('\n').filter(Boolean);
  const cutLink = () => {
    harness('cut-link', repoHost!.name);
    cut = true;
  };
  const restoreLink = () => {
    harness('restore-link', repoHost!.name);
    cut = false;
  };
  // Where Kiln's sessions mount the repository (a fresh `hosts.sh exec` would never see it).
  const mounts = () => onHostOverSsh('host1', 'sh', '-c', 'grep -c sshfs /proc/mounts; true').trim();

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host1']);
  }, 120_000);

  afterAll(async () => {
    if (cut) restoreLink();
    if (!z) return;
    z.t.engine.backups.stop();
    if (vm) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    if (vm) {
      onHost(repoHost!.name, 'rm', '-rf', '--', `/root/kiln-backups/${vm}`);
      onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`, `/var/lib/kiln/backups/.staging/${vm}`);
    }
    await z.t.close();
  }, 180_000);

  it('fails the backup and the restore naming the repository, leaves the VM as it was, and cleans the partial backup when the link is back', { timeout: 600_000 }, async () => {
    const repo = (await ok('addBackupRepository', { zoneid: z.zoneid, name: 'Backup host', address: `ssh://${repoHost!.address}`, username: 'root', privatekey: readFileSync(repoHost!.privateKeyPath, 'utf8') }))['backuprepository'] as { id: string };
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: repo.id, name: 'To the backup host', description: 'repository', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    // Not an HA offering; a 1 GiB root disk holding 400 MiB, so the copy through the relay takes a while.
    const plain = ((await ok('createServiceOffering', { name: 'no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
    vm = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: plain, networkids: z.network, name: 'bk-repo-cut', hostid: z.hostIds['host1']!, rootdisksize: '1' }))['virtualmachine'] as { id: string }).id;
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: offering });
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
    const disk = onHost('host1', 'virsh', 'domblklist', '--domain', internal).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'vda')![1]!;
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 2M 400M', disk);
    // A whole backup to restore from later (the VM stopped: converted straight into the mount).
    const good = (await job('createBackup', { virtualmachineid: vm, name: 'good' }))['backup'] as { id: string; status: string };
    expect(good.status).toBe('BackedUp');
    await job('startVirtualMachine', { id: vm });

    // ---- mid-backup
    const started = await ok('createBackup', { virtualmachineid: vm, name: 'cut-off' });
    const backupId = String(started['id']);
    const dir = `/root/kiln-backups/${vm}/${backupId}`;
    for (let i = 0; i < 3000 && !ls(repoHost!.name, dir).includes('0.qcow2.part'); i++) await sleep(20);
    expect(ls(repoHost!.name, dir)).toContain('0.qcow2.part');
    cutLink();
    const done = await z.t.engine.jobs.wait(String(started['jobid']), 180_000);
    expect(done['jobstatus']).toBe(2);
    const reason = String((done['jobresult'] as { errortext: string }).errortext);
    expect(reason).toMatch(/backup repository "Backup host" \(root@/);
    // The VM as it was: running on its own disk, nothing of the backup left on its host.
    expect(onHost('host1', 'virsh', 'domstate', '--domain', internal).trim()).toBe('running');
    expect(onHost('host1', 'virsh', 'domblklist', '--domain', internal)).toMatch(new RegExp(`vda\\s+${disk}`));
    expect(onHost('host1', 'virsh', 'checkpoint-list', '--domain', internal, '--name')).not.toContain(`kiln-${backupId}`);
    expect(ls('host1', `/var/lib/kiln/backups/.staging/${vm}`).join(' ')).toMatch(/No such file/);
    expect(mounts()).toBe('0');
    // Listed as failed, with the reason; the only BackedUp backup is the whole one.
    const listed = (await ok('listBackups', { virtualmachineid: vm }))['backup'] as { id: string; status: string; note?: string }[];
    expect(listed.find((b) => b.id === backupId)).toMatchObject({ status: 'Error', note: expect.stringContaining('backup repository "Backup host"') });
    expect(listed.filter((b) => b.status === 'BackedUp').map((b) => b.id)).toEqual([good.id]);
    // The partial file is still on the repository, out of reach; it goes when the link is back.
    expect(ls(repoHost!.name, dir)).toContain('0.qcow2.part');
    await ok('updateConfiguration', { name: 'backup.framework.sync.interval', value: '2' });
    z.t.engine.backups.start();
    await sleep(5_000);
    expect(ls(repoHost!.name, dir)).toContain('0.qcow2.part');
    restoreLink();
    const back = Date.now();
    while (!ls(repoHost!.name, dir).join(' ').includes('No such file') && Date.now() - back < 120_000) await sleep(500);
    expect(ls(repoHost!.name, dir).join(' ')).toMatch(/No such file/);
    expect(z.t.engine.db.prepare('SELECT discard_pending FROM backups WHERE uuid=?').pluck().get(backupId)).toBe(0);
    expect(ls(repoHost!.name, `/root/kiln-backups/${vm}`)).toEqual([good.id]);

    // ---- mid-restore
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'write -P 0x77 2M 400M', disk);
    const aside = `${disk.slice(0, disk.lastIndexOf('/'))}/.kiln-restore-${disk.slice(disk.lastIndexOf('/') + 1)}.part`;
    const restoring = await ok('restoreBackup', { id: good.id });
    // The restore script has begun on the host (it writes its pid first, then reads the backup
    // file through the mount to check its sum): the link goes while it reads.
    for (let i = 0; i < 6000 && !existsSync(`${aside}.pids`); i++) await sleep(10);
    expect(existsSync(`${aside}.pids`)).toBe(true);
    cutLink();
    const failed = await z.t.engine.jobs.wait(String(restoring['jobid']), 180_000);
    expect(failed['jobstatus']).toBe(2);
    expect(String((failed['jobresult'] as { errortext: string }).errortext)).toMatch(/backup repository "Backup host" \(root@/);
    restoreLink();
    // The VM as it was: Stopped, its disk whole with what it held; no restored copy beside it.
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    onHost('host1', 'qemu-img', 'check', '-q', '-f', 'qcow2', disk);
    expect(onHost('host1', 'qemu-io', '-f', 'qcow2', '-c', 'read -P 0x77 2M 400M', disk)).toMatch(/read 419430400\/419430400 bytes/);
    expect(readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'))).toEqual([]);
    expect(ls('host1', '/var/lib/kiln/backups').filter((f) => f.startsWith('.restore-'))).toEqual([]);
    expect(mounts()).toBe('0');
    expect(((await ok('listBackups', { id: good.id }))['backup'] as { status: string }[])[0]!.status).toBe('BackedUp');
  });
});
