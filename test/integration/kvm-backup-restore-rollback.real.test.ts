/**
 * A two-disk restoreBackup that fails in a running Kiln before its renames, while its host is cut
 * off (hosts.sh cut-link): the first disk's restored copy is written beside it, the link goes
 * just before the second is copied (KILN_TEST_PAUSE_AT=backup-restore-copy-2, released once the
 * link is down). The job fails; the VM keeps its disks as they were, but the copy aside cannot be
 * removed yet: the backup stays Restoring, owned by no process, saying so, and once the link is
 * back the same recovery a restart does (finishCutShortRestores → settleRestore) rolls it back:
 * no copy or work directory left on the host, the backup BackedUp saying why, the disks as they
 * were. Before, the backup was BackedUp at once and the copy stayed in the pool for good.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskHolds, fillDisk } from '../helpers/disk-patterns.js';
import { closeCutRestoreZone, cutAndRelease, cutRestoreZone, restoreLink, restorePausedAt, twoDiskVm, type CutRestoreZone } from '../helpers/cut-restore.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts || hosts.hosts.length < 2)('a KVM restore that fails before its renames while its host is cut off', () => {
  let c: CutRestoreZone | undefined;
  const ok = (command: string, params: Record<string, string>) => c!.z.t.ok(command, params);
  const job = (command: string, params: Record<string, string>) => c!.z.t.job(command, params);
  const asides = () => readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'));

  beforeAll(async () => {
    c = await cutRestoreZone(hosts!);
  }, 120_000);

  afterAll(() => closeCutRestoreZone(c), 180_000);

  it('keeps the rollback to do, and does it when the host answers again', { timeout: 420_000 }, async () => {
    const z = c!.z;
    const { vm, root, data } = await twoDiskVm(c!, 'rb-vm');
    fillDisk('host2', root, '0x5a', '2M 16M');
    fillDisk('host2', data, '0x6b', '0 16M');
    const backup = (await job('createBackup', { virtualmachineid: vm, name: 'two-disks' }))['backup'] as { id: string };
    fillDisk('host2', root, '0x77', '2M 16M');
    fillDisk('host2', data, '0x78', '0 16M');

    const jobId = await restorePausedAt(c!, backup.id, 'backup-restore-copy-2');
    // The root disk's restored copy is beside it; nothing is renamed yet.
    expect(asides()).toEqual([`.kiln-restore-${root.slice(root.lastIndexOf('/') + 1)}.part`]);
    expect((await cutAndRelease(c!, jobId))['jobstatus']).toBe(2);
    const row = () => z.t.engine.db.prepare('SELECT status, owner, restore_plan, note FROM backups WHERE uuid=?').get(backup.id) as { status: string; owner: string | null; restore_plan: string | null; note: string | null };
    expect(row()).toMatchObject({
      status: 'Restoring',
      owner: null,
      restore_plan: null,
      note: expect.stringMatching(/^a restore from this backup failed \(.+\); the VM kept its disks as they were; what it wrote aside is still on the host: removing it failed \(.+\), Kiln removes it when the host answers again$/),
    });
    // The copy could not be removed while the host was away; the VM's disks were not touched.
    expect(asides()).toHaveLength(1);
    expect(diskHolds('host2', root, '0x77', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x78', '0 16M')).toBe(true);
    // No other restore or backup of the VM meanwhile (the rollback would race it).
    expect((await z.t.call('restoreBackup', { id: backup.id })).status).toBe(431);

    await ok('updateConfiguration', { name: 'backup.framework.sync.interval', value: '2' });
    z.t.engine.backups.start();
    restoreLink(c!);
    const back = Date.now();
    while (row().status !== 'BackedUp' && Date.now() - back < 150_000) await sleep(500);
    expect(row()).toMatchObject({ status: 'BackedUp', owner: null, restore_plan: null, note: expect.stringMatching(/^a restore from this backup failed \(.+\); the VM kept its disks as they were$/) });
    expect(asides()).toEqual([]);
    expect(onHost('host2', 'ls', '-A', '/var/lib/kiln/backups').split('\n').filter((f) => f.startsWith('.restore-'))).toEqual([]);
    expect(diskHolds('host2', root, '0x77', '2M 16M')).toBe(true);
    expect(diskHolds('host2', data, '0x78', '0 16M')).toBe(true);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    // The job stays failed: nothing was restored.
    expect(await ok('queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 2 });
  });
});
