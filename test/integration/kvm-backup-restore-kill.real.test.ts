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
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, killHard, ok, pollBackup, waitJob } from '../helpers/crash-rounds.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { diskHolds, fillDisk } from '../helpers/disk-patterns.js';
import { guestShell } from '../helpers/guest-marks.js';
import { servedKvmZone } from '../helpers/served-kvm-zone.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { connect, ConsoleTap } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-restore-kill-'));
const instanceName = `R${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let kiln: KilnProcess | undefined;
let vmUuid: string | undefined;

/** Whether the disk at PATH holds PATTERN (a byte) over the whole range. */

describe.skipIf(!hosts)('a kill -9 of kiln serve between the renames of a two-disk KVM restore', () => {
  afterAll(async () => {
    if (kiln && vmUuid) {
      await api(kiln, 'removeVirtualMachineFromBackupOffering', { virtualmachineid: vmUuid, forced: 'true' }).catch(() => undefined);
      const res = await api(kiln, 'destroyVirtualMachine', { id: vmUuid, expunge: 'true' }).catch(() => undefined);
      if (typeof res?.body['jobid'] === 'string') await waitJob(kiln, res.body['jobid']).catch(() => undefined);
      for (const v of ((await api(kiln, 'listVolumes', { listall: 'true' }).catch(() => undefined))?.body['volume'] as { id: string }[] | undefined) ?? []) {
        await api(kiln, 'deleteVolume', { id: v.id }).catch(() => undefined);
      }
    }
    await kiln?.stop();
    if (vmUuid) onHost('host1', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vmUuid}`);
    for (const name of onHost('host1', 'virsh', 'list', '--all', '--name').split('\n').filter((n) => n.endsWith(`-${instanceName}`))) {
      onHost('host1', 'sh', '-c', 'virsh destroy "$1" >/dev/null 2>&1; virsh undefine --checkpoints-metadata "$1" >/dev/null 2>&1; true', 'sh', name);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 180_000);

  it('finishes the renames at the next start: every disk is the restored one, nothing is left beside them', { timeout: 300_000 }, async () => {
    let first = await startKiln({ dataDir, args: ['--no-ui'], env: { KILN_TEST_PAUSE_AT: 'backup-restore-rename-2' } });
    kiln = first;
    const z = await servedKvmZone(first, hosts!, { name: 'Restore kill', instanceName });
    const deployed = await waitJob(first, String((await ok(first, 'deployVirtualMachine', { zoneid: z.zone, templateid: z.template, serviceofferingid: z.offering, networkids: z.network, hostid: z.host, name: 'rk-vm' }))['jobid']));
    vmUuid = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const vm = vmUuid;
    const custom = ((await ok(first, 'listDiskOfferings', { name: 'Custom' }))['diskoffering'] as { id: string; name: string }[]).find((d) => d.name === 'Custom')!.id;
    const volume = ((await waitJob(first, String((await ok(first, 'createVolume', { zoneid: z.zone, diskofferingid: custom, size: '1', name: 'rk-data' }))['jobid'])))['jobresult'] as { volume: { id: string } }).volume.id;
    expect((await waitJob(first, String((await ok(first, 'attachVolume', { id: volume, virtualmachineid: vm }))['jobid'])))['jobstatus']).toBe(1);
    expect((await waitJob(first, String((await ok(first, 'assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: z.backupOffering }))['jobid'])))['jobstatus']).toBe(1);
    expect((await waitJob(first, String((await ok(first, 'stopVirtualMachine', { id: vm, forced: 'true' }))['jobid'])))['jobstatus']).toBe(1);
    const internal = (((await ok(first, 'listVirtualMachines', { id: vm }))['virtualmachine'] as { instancename: string }[])[0]!).instancename;
    const disks = Object.fromEntries(onHost('host1', 'virsh', 'domblklist', '--domain', internal).split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => c[0] === 'vda' || c[0] === 'vdb').map((c) => [c[0]!, c[1]!]));
    const root = disks['vda']!;
    const data = disks['vdb']!;
    expect(root && data).toBeTruthy();

    // The backup holds 0x5a on the root disk and 0x6b on the data disk; then both are overwritten.
    fillDisk('host1', root, '0x5a', '2M 16M');
    fillDisk('host1', data, '0x6b', '0 16M');
    const taken = await waitJob(first, String((await ok(first, 'createBackup', { virtualmachineid: vm, name: 'two-disks' }))['jobid']));
    expect(taken['jobresult']).toMatchObject({ backup: expect.objectContaining({ status: 'BackedUp' }) });
    const backupId = (taken['jobresult'] as { backup: { id: string } }).backup.id;
    fillDisk('host1', root, '0x77', '2M 16M');
    fillDisk('host1', data, '0x78', '0 16M');

    const started = await ok(first, 'restoreBackup', { id: backupId });
    const jobId = String(started['jobid']);
    for (let i = 0; i < 1200 && !first.output().includes('KILN-TEST-PAUSED backup-restore-rename-2'); i++) await sleep(100);
    expect(first.output()).toContain('KILN-TEST-PAUSED backup-restore-rename-2');
    // Held before the second rename: the root disk is the restored one, the data disk the old one, its copy aside.
    expect(diskHolds('host1', root, '0x5a', '2M 16M')).toBe(true);
    expect(diskHolds('host1', data, '0x78', '0 16M')).toBe(true);
    expect(readdirSync(hosts!.storagePath).filter((f) => f.startsWith('.kiln-restore-'))).toEqual([`.kiln-restore-${data.split('/').pop()!}.part`]);
    await killHard(first);

    first = await startKiln({ dataDir, args: ['--no-ui'] });
    kiln = first;
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
    expect(((await ok(first, 'listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    const events = (await ok(first, 'listEvents', { type: 'BACKUP.RESTORE', listall: 'true' }))['event'] as { description: string }[] | undefined;
    expect((events ?? []).map((e) => e.description)).toContainEqual(expect.stringMatching(/^VM rk-vm restored from backup two-disks: .*Kiln finished it/));
    expect((await waitJob(first, String((await ok(first, 'startVirtualMachine', { id: vm }))['jobid'])))['jobstatus']).toBe(1);
  });

  it('a kill -9 before a backup commits its overlay, and the guest shut down before the restart: the next start commits it, the guest finds what it wrote', { timeout: 300_000 }, async () => {
    expect(kiln && vmUuid).toBeTruthy();
    const vm = vmUuid!;
    await kiln!.stop();
    let first = await startKiln({ dataDir, args: ['--no-ui'], env: { KILN_TEST_PAUSE_AT: 'backup-commit' } });
    kiln = first;
    const internal = (((await ok(first, 'listVirtualMachines', { id: vm }))['virtualmachine'] as { instancename: string; state: string }[])[0]!).instancename;
    const root = onHost('host1', 'virsh', 'domblklist', '--domain', internal, '--inactive').split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'vda')![1]!;
    // The guest's console straight from the host (this test's own connection: Kiln is killed below).
    const session = await connect(hosts!, 0);
    const { mark, read: readMarker } = guestShell();
    try {
      let tap = new ConsoleTap(await session.openConsole(internal));
      await mark(tap, 'A');
      const started = await ok(first, 'createBackup', { virtualmachineid: vm, name: 'overlay-left' });
      const backupId = String(started['id']);
      const overlay = `/var/lib/kiln/backups/.staging/${vm}/${backupId}/0.overlay.qcow2`;
      for (let i = 0; i < 1200 && !first.output().includes('KILN-TEST-PAUSED backup-commit'); i++) await sleep(100);
      expect(first.output()).toContain('KILN-TEST-PAUSED backup-commit');
      await mark(tap, 'D');
      expect(await readMarker(tap)).toBe('D');
      tap.close();
      await killHard(first);
      // While Kiln is down, the guest powers off on the overlay, which its definition still names.
      onHost('host1', 'virsh', 'shutdown', '--domain', internal);
      for (let i = 0; i < 600 && onHost('host1', 'virsh', 'domstate', '--domain', internal).trim() !== 'shut off'; i++) await sleep(100);
      expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', internal)).toContain(overlay);

      first = await startKiln({ dataDir, args: ['--no-ui'] });
      kiln = first;
      const backup = await pollBackup(first, backupId, (b) => b?.['status'] === 'Error', 150);
      expect(backup).toMatchObject({ status: 'Error', note: expect.stringMatching(/^interrupted: Kiln stopped during the backup; what it had written was discarded/) });
      // The overlay went into the disk before the staging directory went: the definition names the disk again.
      expect(existsSync(overlay)).toBe(false);
      expect(existsSync(`/var/lib/kiln/backups/.staging/${vm}`)).toBe(false);
      const definition = onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', internal);
      expect(definition).toContain(`file='${root}'`);
      expect(definition).not.toContain('.staging');
      for (let i = 0; i < 100 && ((await ok(first, 'listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state !== 'Stopped'; i++) await sleep(200);
      expect(((await ok(first, 'listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
      expect((await waitJob(first, String((await ok(first, 'startVirtualMachine', { id: vm }))['jobid'])))['jobstatus']).toBe(1);
      tap = new ConsoleTap(await session.openConsole(internal));
      expect(await readMarker(tap)).toBe('D');
      tap.close();
    } finally {
      await session.close();
    }
  });
});
