/**
 * A `kill -9` of `kiln serve` while restoreVolumeFromBackupAndAttachToVM copies a backed-up volume
 * onto its host: a watcher on the pool's directory kills the process as soon as the copy beside
 * the new disk (.kiln-restore-<disk>.part) appears, so the copy is caught in progress. The copy's
 * record (backup_volume_restores) is owned by the dead process; the next `kiln serve` on the same
 * data dir settles it at its start: the job is failed saying Kiln stopped, no Restored- volume row
 * exists and no volume is in a transient state, the backup is BackedUp, the new disk, its copy
 * and the restore's work directory are gone from the host (the pool is as before), and an event
 * says what was removed. kvm-backup-volume-restore-link-cut.real covers the host cut off instead.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listedVm, ok, okJob } from '../helpers/crash-rounds.js';
import { fillDisk } from '../helpers/disk-patterns.js';
import { domainDisks, killRound, restoreLeftovers, sleep } from '../helpers/kill-rounds.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { deployServed, servedKvmZone } from '../helpers/served-kvm-zone.js';

const hosts = kvmHostsOrSkip();
const run = killRound('kiln-volume-restore-kill-', 'V');
const fromDb = run.fromDb;
let made: string[] = [];

describe.skipIf(!hosts)('a kill -9 of kiln serve during a KVM volume restore', () => {
  const pool = () => readdirSync(hosts!.storagePath).sort();
  const restoreWork = () => onHost('host1', 'sh', '-c', 'ls -A /var/lib/kiln/backups 2>/dev/null; true').split('\n').filter((f) => f.startsWith('.restore-'));

  afterAll(async () => {
    await run.cleanup();
    // What a failed run left of the restore (the disk, its copy): nothing else is touched.
    for (const f of made) rmSync(join(hosts!.storagePath, f), { force: true });
    for (const f of made) if (existsSync(join(hosts!.storagePath, f))) onHost('host1', 'rm', '-f', '--', join(hosts!.storagePath, f));
    onHost('host1', 'sh', '-c', 'rm -rf /var/lib/kiln/backups/.restore-*; true');
    onHost('host1', 'sh', '-c', 'virsh pool-refresh kiln >/dev/null 2>&1; true');
  }, 180_000);

  it('fails the job, adds no volume, and removes the disk, its copy and the work directory at the next start', { timeout: 240_000 }, async () => {
    let first = await run.start();
    const z = await servedKvmZone(first, hosts!, { name: 'Volume restore kill', instanceName: run.instanceName });
    const deploy = async (name: string, extra: Record<string, string> = {}) => {
      const { id } = await deployServed(first, z, name, extra);
      run.vms.push(id);
      expect((await okJob(first, 'stopVirtualMachine', { id, forced: 'true' }))['jobstatus']).toBe(1);
      return id;
    };
    // The source: a 1 GiB root disk with 256 MiB of data, so that its copy lasts while the watcher kills.
    const source = await deploy('vk-source', { rootdisksize: '1' });
    const root = ((await ok(first, 'listVolumes', { virtualmachineid: source }))['volume'] as { id: string; type: string }[]).find((v) => v.type === 'ROOT')!.id;
    const internal = (await listedVm(first, source)).instancename;
    const disk = domainDisks('host1', internal, { inactive: true })['vda']!;
    fillDisk('host1', disk, '0x5c', '2M 256M');
    expect((await okJob(first, 'assignVirtualMachineToBackupOffering', { virtualmachineid: source, backupofferingid: z.backupOffering }))['jobstatus']).toBe(1);
    const taken = await okJob(first, 'createBackup', { virtualmachineid: source, name: 'vk-backup' });
    const backup = (taken['jobresult'] as { backup: { id: string } }).backup.id;
    const target = await deploy('vk-target');
    const before = pool();

    // The moment the copy beside the new disk appears: kill -9, from a watcher on the pool's
    // directory (the pool is that directory on the host), every 5 ms.
    const watcher = spawn('sh', ['-c', 'while ! ls "$1"/.kiln-restore-*.part >/dev/null 2>&1; do sleep 0.005; done; kill -9 "$2"', 'sh', hosts!.storagePath, String(first.child.pid)], { stdio: 'ignore' });
    const watched = new Promise<number | null>((resolve) => watcher.on('exit', resolve));
    const exited = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    const started = await ok(first, 'restoreVolumeFromBackupAndAttachToVM', { backupid: backup, volumeid: root, virtualmachineid: target });
    const jobId = String(started['jobid']);
    expect(await watched).toBe(0);
    await exited;
    expect(first.child.signalCode).toBe('SIGKILL');
    made = pool().filter((f) => !before.includes(f));
    // Killed mid-copy: the new disk and its copy are in the pool, the record names them, no volume row does.
    const newDisk = made.find((f) => !f.startsWith('.'))!;
    expect(made).toEqual(expect.arrayContaining([newDisk, `.kiln-restore-${newDisk}.part`]));
    expect(fromDb((db) => db.prepare('SELECT disk FROM backup_volume_restores').pluck().all())).toEqual([newDisk]);
    expect(fromDb((db) => db.prepare(`SELECT COUNT(*) FROM volumes WHERE name LIKE 'Restored-%'`).pluck().get())).toBe(0);
    // Killed, not yet restarted: beside the disk and its copy, the copy's .pids file and the
    // restore's work directory are there. The restore script goes on without Kiln, and nothing of it
    // removes them (no SIGHUP reaches it; its last echo dies of SIGPIPE before its exit trap runs:
    // kill-rounds.ts), so that what is gone below, the restart removed.
    expect(restoreWork()).toEqual([`.restore-${newDisk}`]);
    expect(restoreLeftovers('host1', join(hosts!.storagePath, newDisk))).toEqual({ aside: true, pids: true, work: true });

    first = await run.start();
    const hostName = fromDb((db) => db.prepare('SELECT name FROM hosts WHERE uuid=?').pluck().get(z.host) as string);
    const deadline = Date.now() + 60_000;
    const settled = () => fromDb((db) => db.prepare('SELECT COUNT(*) FROM backup_volume_restores').pluck().get()) === 0;
    while (!(settled() && pool().join() === before.join()) && Date.now() < deadline) await sleep(200);
    expect(fromDb((db) => db.prepare('SELECT disk, note FROM backup_volume_restores').all())).toEqual([]);
    expect(pool()).toEqual(before);
    expect(restoreWork()).toEqual([]);
    // Nor is anything still writing it (the copy went on on the host after the kill); the bracket
    // keeps this look's own command line from matching. (Not looked at before the restart: the
    // copy may end by itself by then, so that this says only that none is left.)
    expect(onHost('host1', 'sh', '-c', 'pgrep -af "$1"; true', 'sh', `[.]kiln-restore-${newDisk}`).trim()).toBe('');

    expect(await ok(first, 'queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: expect.stringMatching(/Kiln stopped while this job was in progress/) }) });
    expect(((await ok(first, 'listVolumes', { listall: 'true' }))['volume'] as { name: string }[]).filter((v) => v.name.startsWith('Restored-'))).toEqual([]);
    expect(((await ok(first, 'listVolumes', { virtualmachineid: target }))['volume'] as { type: string }[]).map((v) => v.type)).toEqual(['ROOT']);
    expect(fromDb((db) => db.prepare(`SELECT COUNT(*) FROM volumes WHERE name LIKE 'Restored-%'`).pluck().get())).toBe(0);
    expect(fromDb((db) => db.prepare(`SELECT COUNT(*) FROM volumes WHERE removed IS NULL AND state NOT IN ('Ready','Allocated')`).pluck().get())).toBe(0);
    for (let i = 0; i < 100 && ((await ok(first, 'listBackups', { id: backup }))['backup'] as { status: string }[])[0]!.status !== 'BackedUp'; i++) await sleep(200);
    expect(((await ok(first, 'listBackups', { id: backup }))['backup'] as { status: string }[])[0]!.status).toBe('BackedUp');
    const events = (((await ok(first, 'listEvents', { type: 'BACKUP.RESTORE', listall: 'true' }))['event'] as { description: string }[] | undefined) ?? []).map((e) => e.description);
    expect(events).toContainEqual(`the restore of volume ${root} from backup vk-backup onto VM vk-target was interrupted by a restart; host ${hostName} answered: the disk ${newDisk} it was writing there and its copy were removed`);
    made = [];
  });
});
