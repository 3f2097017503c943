/**
 * A `kill -9` of `kiln serve` in the middle of a two-disk restoreBackup's renames, the step where
 * the restored copies (written beside the VM's disks) replace them one by one. The process is held
 * just before the second rename (KILN_TEST_PAUSE_AT=backup-restore-rename-2: a window of
 * milliseconds otherwise), where the root disk is the restored one and the data disk still the
 * old: the mix a restart must not leave. Kiln records the renames' plan before the first one, so
 * the next start finishes them: both disks hold the backup's bytes (read on the host with qemu-io),
 * no restored copy or work directory is left, the VM is Stopped and starts, the backup is
 * BackedUp with a note saying the restore was finished, and the job ends done, saying so. Before,
 * the restart removed the second disk's copy and left the VM with one restored disk and one old.
 *
 * Then a `kill -9` while a full backup of the running VM waits to commit its snapshot overlay
 * (KILN_TEST_PAUSE_AT=backup-commit), after the guest wrote a marker into it; the guest is shut
 * down while Kiln is dead. At the next start the interrupted backup is discarded (Error, with the
 * reason), but the overlay is committed into the disk first: no overlay or staging directory is
 * left, the definition names the disk, and the VM started through Kiln reads the marker. Before,
 * the discard removed the overlay of a stopped VM, and the marker with it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { listedVm, ok, okJob, pollBackup } from '../helpers/crash-rounds.js';
import { domainDisks, killRound, sleep } from '../helpers/kill-rounds.js';
import { hostKilnPath, kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { diskHolds, fillDisk } from '../helpers/disk-patterns.js';
import { guestShell } from '../helpers/guest-marks.js';
import { deployServed, servedKvmZone } from '../helpers/served-kvm-zone.js';
import { connect, ConsoleTap } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
const run = killRound('kiln-restore-kill-', 'R');
let vmUuid: string | undefined;

describe.skipIf(!hosts)('a kill -9 of kiln serve between the renames of a two-disk KVM restore', () => {
  afterAll(() => run.cleanup(), 180_000);

  it('finishes the renames at the next start: every disk is the restored one, nothing is left beside them', { timeout: 300_000 }, async () => {
    let first = await run.start({ pauseAt: 'backup-restore-rename-2' });
    const z = await servedKvmZone(first, hosts!, { name: 'Restore kill', instanceName: run.instanceName });
    vmUuid = (await deployServed(first, z, 'rk-vm')).id;
    run.vms.push(vmUuid);
    const vm = vmUuid;
    const custom = ((await ok(first, 'listDiskOfferings', { name: 'Custom' }))['diskoffering'] as { id: string; name: string }[]).find((d) => d.name === 'Custom')!.id;
    const volume = ((await okJob(first, 'createVolume', { zoneid: z.zone, diskofferingid: custom, size: '1', name: 'rk-data' }))['jobresult'] as { volume: { id: string } }).volume.id;
    expect((await okJob(first, 'attachVolume', { id: volume, virtualmachineid: vm }))['jobstatus']).toBe(1);
    expect((await okJob(first, 'assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: z.backupOffering }))['jobstatus']).toBe(1);
    expect((await okJob(first, 'stopVirtualMachine', { id: vm, forced: 'true' }))['jobstatus']).toBe(1);
    const internal = (await listedVm(first, vm)).instancename;
    const disks = domainDisks('host1', internal);
    const root = disks['vda']!;
    const data = disks['vdb']!;
    expect(root && data).toBeTruthy();

    // The backup holds 0x5a on the root disk and 0x6b on the data disk; then both are overwritten.
    fillDisk('host1', root, '0x5a', '2M 16M');
    fillDisk('host1', data, '0x6b', '0 16M');
    const taken = await okJob(first, 'createBackup', { virtualmachineid: vm, name: 'two-disks' });
    expect(taken['jobresult']).toMatchObject({ backup: expect.objectContaining({ status: 'BackedUp' }) });
    const backupId = (taken['jobresult'] as { backup: { id: string } }).backup.id;
    fillDisk('host1', root, '0x77', '2M 16M');
    fillDisk('host1', data, '0x78', '0 16M');

    const started = await ok(first, 'restoreBackup', { id: backupId });
    const jobId = String(started['jobid']);
    await run.paused('backup-restore-rename-2');
    // Held before the second rename: the root disk is the restored one, the data disk the old one, its copy aside.
    expect(diskHolds('host1', root, '0x5a', '2M 16M')).toBe(true);
    expect(diskHolds('host1', data, '0x78', '0 16M')).toBe(true);
    expect(readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'))).toEqual([`.kiln-restore-${data.split('/').pop()!}.part`]);
    // The restores' work directories (.restore-<disk>) are not there at this step: each restore
    // script removed its own (its exit trap) when it ended, before its copy came back to Kiln, so
    // the look after the restart below says only that none is left, not that Kiln removed one.
    const restoreWork = () => readdirSync(hostKilnPath('host1', '/var/lib/kiln/backups')).filter((f) => f.startsWith('.restore-'));
    expect(restoreWork()).toEqual([]);
    await run.kill();
    // Killed: nothing runs on the host at this step (Kiln was held between two renames), and the
    // data disk's copy is still aside: its being gone below is the restart's doing.
    expect(readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'))).toEqual([`.kiln-restore-${data.split('/').pop()!}.part`]);

    first = await run.start();
    const backup = await pollBackup(first, backupId, (b) => b?.['status'] === 'BackedUp' && Boolean(b['note']), 150);
    // Both disks hold the backup's bytes, whole; nothing of the restore is left beside them.
    expect(diskHolds('host1', root, '0x5a', '2M 16M')).toBe(true);
    expect(diskHolds('host1', data, '0x6b', '0 16M')).toBe(true);
    expect(backup).toMatchObject({ status: 'BackedUp', note: 'a restore from this backup was cut short while it put the restored disks in place; Kiln finished it: every disk of VM rk-vm is the restored one' });
    onHost('host1', 'qemu-img', 'check', '-q', '-f', 'qcow2', root);
    onHost('host1', 'qemu-img', 'check', '-q', '-f', 'qcow2', data);
    expect(readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'))).toEqual([]);
    expect(onHost('host1', 'sh', '-c', 'ls -1a /var/lib/kiln/backups; true').split('\n').filter((f) => f.startsWith('.restore-'))).toEqual([]);
    // The job a dead process left ends done, saying how; the VM is Stopped, settled, and starts.
    expect(await ok(first, 'queryAsyncJobResult', { jobid: jobId })).toMatchObject({ jobstatus: 1, jobresult: expect.objectContaining({ success: true, note: expect.stringMatching(/Kiln finished it/) }) });
    expect((await listedVm(first, vm)).state).toBe('Stopped');
    const events = (await ok(first, 'listEvents', { type: 'BACKUP.RESTORE', listall: 'true' }))['event'] as { description: string }[] | undefined;
    expect((events ?? []).map((e) => e.description)).toContainEqual(expect.stringMatching(/^VM rk-vm restored from backup two-disks: .*Kiln finished it/));
    expect((await okJob(first, 'startVirtualMachine', { id: vm }))['jobstatus']).toBe(1);
  });

  it('a kill -9 before a backup commits its overlay, and the guest shut down before the restart: the next start commits it, the guest finds what it wrote', { timeout: 300_000 }, async () => {
    expect(run.kiln && vmUuid).toBeTruthy();
    const vm = vmUuid!;
    await run.kiln!.stop();
    let first = await run.start({ pauseAt: 'backup-commit' });
    const internal = (await listedVm(first, vm)).instancename;
    const root = domainDisks('host1', internal, { inactive: true })['vda']!;
    // The guest's console straight from the host (this test's own connection: Kiln is killed below).
    const session = await connect(hosts!, 0);
    const { mark, read: readMarker } = guestShell();
    try {
      let tap = new ConsoleTap(await session.openConsole(internal));
      await mark(tap, 'A');
      const started = await ok(first, 'createBackup', { virtualmachineid: vm, name: 'overlay-left' });
      const backupId = String(started['id']);
      const overlay = `/var/lib/kiln/backups/.staging/${vm}/${backupId}/0.overlay.qcow2`;
      await run.paused('backup-commit');
      await mark(tap, 'D');
      expect(await readMarker(tap)).toBe('D');
      tap.close();
      await run.kill();
      // While Kiln is down, the guest powers off on the overlay, which its definition still names.
      onHost('host1', 'virsh', 'shutdown', '--domain', internal);
      for (let i = 0; i < 600 && onHost('host1', 'virsh', 'domstate', '--domain', internal).trim() !== 'shut off'; i++) await sleep(100);
      expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', internal)).toContain(overlay);
      // Before the restart the overlay and its staging directory are on the host (no host script
      // removes them; only Kiln): their being gone below is the restart's doing.
      expect(existsSync(hostKilnPath('host1', overlay))).toBe(true);
      expect(existsSync(hostKilnPath('host1', `/var/lib/kiln/backups/.staging/${vm}`))).toBe(true);

      first = await run.start();
      const backup = await pollBackup(first, backupId, (b) => b?.['status'] === 'Error', 150);
      expect(backup).toMatchObject({ status: 'Error', note: expect.stringMatching(/^interrupted: Kiln stopped during the backup; what it had written was discarded/) });
      // The overlay went into the disk before the staging directory went: the definition names the disk again.
      expect(existsSync(hostKilnPath('host1', overlay))).toBe(false);
      expect(existsSync(hostKilnPath('host1', `/var/lib/kiln/backups/.staging/${vm}`))).toBe(false);
      const definition = onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', internal);
      expect(definition).toContain(`file='${root}'`);
      expect(definition).not.toContain('.staging');
      for (let i = 0; i < 100 && (await listedVm(first, vm)).state !== 'Stopped'; i++) await sleep(200);
      expect((await listedVm(first, vm)).state).toBe('Stopped');
      expect((await okJob(first, 'startVirtualMachine', { id: vm }))['jobstatus']).toBe(1);
      tap = new ConsoleTap(await session.openConsole(internal));
      expect(await readMarker(tap)).toBe('D');
      tap.close();
    } finally {
      await session.close();
    }
  });
});
