/**
 * Backups of a real KVM guest with the `nas` provider (drivers/kvm/backup.ts): a marker written in
 * the guest's disk comes back after a restore, an incremental after a small change is a small
 * fraction of the full and restores right (its chain rebuilt), a backed-up volume restored onto
 * another VM appears there as its data disk, and a base an incremental builds on is not deleted
 * unless forced (then merged into it), and the sync task marks a backup whose files left the store
 * Removed. Everything made here is removed again: backups, domains,
 * volumes and the VM's directory in the host's backup store.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootedConsole, guestShell } from '../helpers/guest-marks.js';
import { cleanUp, kvmBackupZone, kvmHostsOrSkip, type KvmZone, onHost } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();

type Obj = Record<string, unknown>;

describe.skipIf(!hosts)('KVM backups (nas provider) on real hosts', () => {
  let z: KvmZone;
  const vms: string[] = [];

  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);
  const backups = async (vm: string) => ((await ok('listBackups', { virtualmachineid: vm }))['backup'] as Obj[] | undefined) ?? [];
  const { run: guest, mark, read: readMarker } = guestShell();
  const boot = (vm: string) => bootedConsole(z, vm);
  /** VM stopped (forced), restored from BACKUP, started again: its console once booted. */
  const restored = async (vm: string, backup: string) => {
    await job('stopVirtualMachine', { id: vm, forced: 'true' });
    await job('restoreBackup', { id: backup });
    await job('startVirtualMachine', { id: vm });
    return boot(vm);
  };

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host1']);
  }, 120_000);

  afterAll(async () => {
    if (!z) return;
    for (const vm of vms) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    for (const vm of vms) onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`);
    await z.t.close();
  }, 180_000);

  it('marker backed up, overwritten, restored; an incremental is small and restores right; a base is kept until forced', { timeout: 420_000 }, async () => {
    // The template every linked clone shares must come out of all this untouched (a full backup of a running VM snapshots its disk and commits the overlay back).
    const template = createHash('sha256').update(readFileSync(hosts!.templateImage)).digest('hex');
    const offered = (await ok('listBackupProviderOfferings', { zoneid: z.zoneid }))['backupoffering'] as Obj[];
    expect(offered).toEqual([expect.objectContaining({ externalid: 'host-store', provider: 'nas' })]);
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    const deployed = await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-backup-a', hostid: z.hostIds['host1']! });
    const vm = (deployed['virtualmachine'] as { id: string }).id;
    vms.push(vm);
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: offering });

    let tap = await boot(vm);
    // 8 MiB of data, so the full backup has something to carry, then the marker.
    await guest(tap, 'dd if=/dev/urandom of=/dev/vda bs=1048576 seek=16 count=8 2>/dev/null; sync');
    await mark(tap, 'A');
    const full = (await job('createBackup', { virtualmachineid: vm, name: 'full-a' }))['backup'] as Obj;
    expect(full).toMatchObject({ status: 'BackedUp', type: 'FULL' });
    expect(full['size'] as number).toBeGreaterThan(8 * 1024 * 1024);
    // The VM kept running through the backup (libvirt's backup job, not a stop).
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Obj[])[0]!['state']).toBe('Running');
    // On the host: the verified file, no partial one, and the manifest.
    const listing = onHost('host1', 'ls', '-1', `/var/lib/kiln/backups/${vm}/${full['id'] as string}`);
    expect(listing.split('\n').filter(Boolean).sort()).toEqual(['0.qcow2', 'COMPLETE']);

    await mark(tap, 'B');
    // quiescevm needs a guest agent, which this guest has not: refused, saying so, and nothing kept.
    const quiesced = await z.t.run('createBackup', { virtualmachineid: vm, name: 'quiesced', quiescevm: 'true' });
    expect(quiesced['jobresult']).toMatchObject({ errortext: expect.stringMatching(/^quiescevm needs the QEMU guest agent running in the guest/) });
    const failed = (await backups(vm)).find((b) => b['name'] === 'quiesced')!;
    expect(failed).toMatchObject({ status: 'Error' });
    expect(onHost('host1', 'ls', '-1', `/var/lib/kiln/backups/${vm}`).split('\n').filter(Boolean)).toEqual([full['id']]);
    await job('deleteBackup', { id: failed['id'] as string });
    const incremental = (await job('createBackup', { virtualmachineid: vm, name: 'inc-b' }))['backup'] as Obj;
    expect(incremental).toMatchObject({ status: 'BackedUp', type: 'INCREMENTAL', parentid: full['id'] });
    expect(incremental['size'] as number).toBeLessThan((full['size'] as number) / 8);

    // A base an incremental builds on is refused (431); forced merges it (tested at the end).
    const refused = await z.t.call('deleteBackup', { id: full['id'] as string });
    expect(refused.status).toBe(431);
    expect(refused.body['errortext']).toMatch(/is the base of the incremental backup inc-b/);

    await mark(tap, 'X');
    expect(await readMarker(tap)).toBe('X');
    const running = await z.t.call('restoreBackup', { id: incremental['id'] as string });
    expect(running.status).toBe(431);
    expect(running.body['errortext']).toMatch(/is Running; stop it before restoring/);
    tap.close();

    tap = await restored(vm, incremental['id'] as string);
    expect(await readMarker(tap)).toBe('B');
    tap.close();

    tap = await restored(vm, full['id'] as string);
    expect(await readMarker(tap)).toBe('A');
    // What the template gave the disk (its backing file's first bytes) is in the full backup too.
    await tap.runPatiently('head -c 16 /dev/vda; echo', /KILN-TEMPLATE-V1/);
    tap.close();

    // A backed-up volume onto another (stopped) VM without backups: it is that VM's data disk.
    const other = (await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-backup-b', hostid: z.hostIds['host1']!, startvm: 'false' }))['virtualmachine'] as { id: string };
    vms.push(other.id);
    const root = (JSON.parse(incremental['volumes'] as string) as { uuid: string }[])[0]!.uuid;
    await job('restoreVolumeFromBackupAndAttachToVM', { backupid: incremental['id'] as string, volumeid: root, virtualmachineid: other.id });
    const volumes = (await ok('listVolumes', { virtualmachineid: other.id }))['volume'] as Obj[];
    expect(volumes.map((v) => v['type']).sort()).toEqual(['DATADISK', 'ROOT']);
    await job('startVirtualMachine', { id: other.id });
    tap = await boot(other.id);
    expect(await readMarker(tap, 'vdb')).toBe('B');
    tap.close();

    // Forced: the full goes, the incremental takes in its data and stands alone, and still restores.
    await job('deleteBackup', { id: full['id'] as string, forced: 'true' });
    const left = await backups(vm);
    expect(left).toEqual([expect.objectContaining({ id: incremental['id'], type: 'FULL' })]);
    expect(left[0]!['parentid']).toBeUndefined();
    tap = await restored(vm, incremental['id'] as string);
    expect(await readMarker(tap)).toBe('B');
    tap.close();

    // The sync task (R58) reconciles with the store: a backup whose files are gone from it is Removed, with the reason.
    onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}/${incremental['id'] as string}`);
    await z.t.engine.backups.sync();
    expect(await backups(vm)).toEqual([]);
    const row = z.t.engine.db.prepare('SELECT status, note FROM backups WHERE uuid=?').get(incremental['id']) as { status: string; note: string };
    expect(row).toEqual({ status: 'Removed', note: 'removed by the sync task: the backup store no longer has it' });
    expect(createHash('sha256').update(readFileSync(hosts!.templateImage)).digest('hex')).toBe(template);
  });
});
