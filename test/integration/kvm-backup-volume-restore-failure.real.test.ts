/**
 * restoreVolumeFromBackupAndAttachToVM that fails leaves nothing behind, on a real KVM host:
 *
 * - the attach is refused after the volume was copied (the target VM runs with
 *   dataDiskController=sata, a bus qemu cannot hot-plug): the job fails saying so, and neither the
 *   restored volume's row nor its disk is left (before: a detached Ready volume, its file in the pool);
 * - the copy fails after its new disk was made (a backup file that no longer matches its
 *   checksum): the job fails saying so, and the empty disk made for it is gone too (before: an
 *   orphan qcow2 in the pool that no volume names).
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmBackupZone, kvmHostsOrSkip, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();

describe.skipIf(!hosts)('a KVM volume restore that fails', () => {
  let z: KvmZone;
  const vms: string[] = [];
  const ok = (command: string, params: Record<string, string>) => z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => z.t.job(command, params);
  const pool = () => readdirSync(hosts!.storagePath).sort();
  const liveVolumes = () => z.t.engine.db.prepare('SELECT uuid FROM volumes WHERE removed IS NULL ORDER BY id').pluck().all() as string[];

  let backup = '';
  let root = '';
  let target = '';

  beforeAll(async () => {
    z = await kvmBackupZone(hosts!, ['host1']);
    const offering = ((await job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
    const source = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'vr-source', hostid: z.hostIds['host1']! }))['virtualmachine'] as { id: string }).id;
    vms.push(source);
    await job('stopVirtualMachine', { id: source, forced: 'true' });
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: source, backupofferingid: offering });
    const made = (await job('createBackup', { virtualmachineid: source, name: 'vr-backup' }))['backup'] as { id: string; volumes: string };
    backup = made.id;
    root = (JSON.parse(made.volumes) as { uuid: string }[])[0]!.uuid;
    // The target runs, with its data disks on SATA: qemu adds SATA disks only at start.
    target = ((await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'vr-target', hostid: z.hostIds['host1']!, 'details[0].dataDiskController': 'sata' }))['virtualmachine'] as { id: string }).id;
    vms.push(target);
  }, 240_000);

  afterAll(async () => {
    if (!z) return;
    if (vms[0]) await z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vms[0], forced: 'true' }).catch(() => undefined);
    await cleanUp(z.t);
    for (const vm of vms) onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`);
    await z.t.close();
  }, 180_000);

  it('an attach refused after the copy leaves no volume and no disk', { timeout: 240_000 }, async () => {
    const [filesBefore, volumesBefore] = [pool(), liveVolumes()];
    const failed = await z.t.run('restoreVolumeFromBackupAndAttachToVM', { backupid: backup, volumeid: root, virtualmachineid: target });
    expect(failed).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: expect.stringMatching(/SATA disk cannot be hot-plugged into running domain/) }) });
    expect(((await ok('listVolumes', { virtualmachineid: target }))['volume'] as { type: string }[]).map((v) => v.type)).toEqual(['ROOT']);
    expect(liveVolumes()).toEqual(volumesBefore);
    expect(((await ok('listVolumes', { listall: 'true' }))['volume'] as { name: string }[]).map((v) => v.name).filter((n) => n.startsWith('Restored-'))).toEqual([]);
    expect(pool()).toEqual(filesBefore);
    expect(((await ok('listVirtualMachines', { id: target }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Running');
    expect(((await ok('listBackups', { id: backup }))['backup'] as { status: string }[])[0]!.status).toBe('BackedUp');
  });

  it('a copy that fails after its disk was made leaves no disk', { timeout: 240_000 }, async () => {
    // The backup's file no longer matches the checksum recorded for it.
    const file = `/var/lib/kiln/backups/${vms[0]}/${backup}/0.qcow2`;
    onHost('host1', 'sh', '-c', 'printf x >> "$1"', 'sh', file);
    const [filesBefore, volumesBefore] = [pool(), liveVolumes()];
    const failed = await z.t.run('restoreVolumeFromBackupAndAttachToVM', { backupid: backup, volumeid: root, virtualmachineid: target });
    expect(failed).toMatchObject({ jobstatus: 2, jobresult: expect.objectContaining({ errortext: expect.stringMatching(/does not match its checksum/) }) });
    expect(liveVolumes()).toEqual(volumesBefore);
    expect(pool()).toEqual(filesBefore);
    expect(onHost('host1', 'ls', '-A', '/var/lib/kiln/backups').split('\n').filter((f) => f.startsWith('.restore-'))).toEqual([]);
    expect(((await ok('listBackups', { id: backup }))['backup'] as { status: string }[])[0]!.status).toBe('BackedUp');
  });
});
