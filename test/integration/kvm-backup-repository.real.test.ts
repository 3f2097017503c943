/**
 * Backups into a backup repository (nas provider): the store is on another machine reached over
 * SSH, here the harness's last host, which is not a host of the zone. A running VM on host1 is
 * backed up (full, then incremental) and restored: the files are in the repository's store
 * (kiln-backups in the SSH account's home there) and nowhere on host1, nothing stays mounted on
 * host1 afterwards, and a restore brings the marker back. The repository's host key is pinned
 * when it is added: a different key is refused. Everything made here is removed again.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootedConsole, guestShell } from '../helpers/guest-marks.js';
import { cleanUp, kvmBackupZone, kvmHostsOrSkip, type KvmZone, onHost, onHostOverSsh } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const repoHost = hosts?.hosts[hosts.hosts.length - 1];

type Obj = Record<string, unknown>;

describe.skipIf(!hosts || hosts.hosts.length < 2)('KVM backups into a backup repository over SSH', () => {
  let z: KvmZone;
  let vm = '';

  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);
  const { run: guest, mark, read: readMarker } = guestShell();
  const boot = () => bootedConsole(z, vm);
  const ls = (host: string, dir: string) => onHost(host, 'sh', '-c', 'ls -1A "$1" 2>&1; true', 'sh', dir).split('\n').filter(Boolean);
  const mounts = () => onHostOverSsh('host1', 'sh', '-c', 'grep -c sshfs /proc/mounts; true').trim();

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host1']);
  }, 120_000);

  afterAll(async () => {
    if (!z) return;
    if (vm) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    if (vm) {
      onHost(repoHost!.name, 'rm', '-rf', '--', `/root/kiln-backups/${vm}`);
      onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`);
    }
    await z.t.close();
  }, 180_000);

  it('streams full and incremental backups to the repository, restores from it, and pins its host key', { timeout: 480_000 }, async () => {
    const key = readFileSync(repoHost!.privateKeyPath, 'utf8');
    // The store is Kiln's own: an address with a path is refused, naming the parameter.
    const withPath = await z.t.call('addBackupRepository', { zoneid: z.zoneid, name: 'bad', address: `ssh://${repoHost!.address}/srv/anything`, privatekey: key });
    expect(withPath.status).toBe(431);
    expect(withPath.body['errortext']).toMatch(/^address: no path \(\/srv\/anything\)/);

    const repo = (await ok('addBackupRepository', { zoneid: z.zoneid, name: 'Backup host', address: `ssh://${repoHost!.address}`, username: 'root', privatekey: key }))['backuprepository'] as Obj;
    expect(repo).toMatchObject({ name: 'Backup host', address: `ssh://${repoHost!.address}:22`, type: 'ssh', provider: 'nas', hostkeyfingerprint: repoHost!.sshHostKeyFingerprint });
    expect(JSON.stringify(repo)).not.toContain('PRIVATE KEY');
    expect(((await ok('listBackupRepositories', { zoneid: z.zoneid }))['backuprepository'] as Obj[]).map((r) => r['id'])).toEqual([repo['id']]);
    const offered = (await ok('listBackupProviderOfferings', { zoneid: z.zoneid }))['backupoffering'] as Obj[];
    expect(offered.map((o) => o['externalid'])).toEqual(['host-store', repo['id']]);
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: repo['id'] as string, name: 'To the backup host', description: 'repository', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    // A repository an offering uses is not deleted.
    const inUse = await z.t.call('deleteBackupRepository', { id: repo['id'] as string });
    expect(inUse.status).toBe(431);
    expect(inUse.body['errortext']).toMatch(/is the store of backup offering\(s\) To the backup host/);

    vm = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-backup-repo', hostid: z.hostIds['host1']! }))['virtualmachine'] as { id: string }).id;
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: offering });
    let tap = await boot();
    await guest(tap, 'dd if=/dev/urandom of=/dev/vda bs=1048576 seek=16 count=8 2>/dev/null; sync');
    await mark(tap, 'A');
    const full = (await job('createBackup', { virtualmachineid: vm, name: 'full-a' }))['backup'] as Obj;
    expect(full).toMatchObject({ status: 'BackedUp', type: 'FULL' });
    expect(full['size'] as number).toBeGreaterThan(8 * 1024 * 1024);
    // On the repository: the verified file and the manifest. On host1: nothing, and nothing left mounted.
    expect(ls(repoHost!.name, `/root/kiln-backups/${vm}/${full['id'] as string}`).sort()).toEqual(['0.qcow2', 'COMPLETE']);
    expect(ls('host1', `/var/lib/kiln/backups/${vm}`).join(' ')).toMatch(/No such file/);
    expect(ls('host1', `/root/kiln-backups/${vm}`).join(' ')).toMatch(/No such file/);
    // Looked for where Kiln's sessions mount the repository (a fresh `hosts.sh exec` would never see it).
    expect(mounts()).toBe('0');
    expect(ls('host1', `/var/lib/kiln/backups/.staging/${vm}`).join(' ')).toMatch(/No such file/);

    await mark(tap, 'B');
    const incremental = (await job('createBackup', { virtualmachineid: vm, name: 'inc-b' }))['backup'] as Obj;
    expect(incremental).toMatchObject({ status: 'BackedUp', type: 'INCREMENTAL', parentid: full['id'] });
    expect(incremental['size'] as number).toBeLessThan((full['size'] as number) / 8);
    expect(ls(repoHost!.name, `/root/kiln-backups/${vm}`).sort()).toEqual([full['id'], incremental['id']].sort());
    expect(ls('host1', `/var/lib/kiln/backups/.staging/${vm}`).join(' ')).toMatch(/No such file/);

    await mark(tap, 'X');
    tap.close();
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    await job('restoreBackup', { id: incremental['id'] as string });
    await job('startVirtualMachine', { id: vm });
    tap = await boot();
    expect(await readMarker(tap)).toBe('B');
    tap.close();
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    await job('restoreBackup', { id: full['id'] as string });
    await job('startVirtualMachine', { id: vm });
    tap = await boot();
    expect(await readMarker(tap)).toBe('A');
    tap.close();
    expect(mounts()).toBe('0');

    // The pinned key: a repository presenting another key (as after a rekey) is refused, and nothing is written.
    const pinned = z.t.engine.db.prepare('SELECT trust_fingerprint FROM backup_repositories WHERE uuid=?').pluck().get(repo['id']) as string;
    z.t.engine.db.prepare('UPDATE backup_repositories SET trust_fingerprint=? WHERE uuid=?').run('SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', repo['id']);
    const refused = await z.t.run('createBackup', { virtualmachineid: vm, name: 'wrong-key' });
    expect(refused['jobstatus']).toBe(2);
    expect(JSON.stringify(refused['jobresult'])).toMatch(/host key/i);
    z.t.engine.db.prepare('UPDATE backup_repositories SET trust_fingerprint=? WHERE uuid=?').run(pinned, repo['id']);
    expect(ls(repoHost!.name, `/root/kiln-backups/${vm}`).sort()).toEqual([full['id'], incremental['id']].sort());

    // Deleting a backup removes its files on the repository (forced: the full merges into the incremental first).
    await job('deleteBackup', { id: full['id'] as string, forced: 'true' });
    expect(ls(repoHost!.name, `/root/kiln-backups/${vm}`)).toEqual([incremental['id']]);
  });
});
