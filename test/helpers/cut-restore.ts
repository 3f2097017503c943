/**
 * What the KVM tests of restores cut off by a lost link share: a backup zone on host2, a stopped
 * two-disk VM (root and a 1 GiB data volume) assigned to the host-store offering, a restoreBackup
 * stopped at a crash point (KILN_TEST_PAUSE_AT) while hosts.sh cuts the host's link and then let
 * go so that it fails, and the clean-up that leaves host2 as it was.
 */
import { pausedAt } from '../../drivers/common/crash-point.js';
import { cleanUp, harness, kvmBackupZone, onHost, type KvmZone } from './kvm-zone.js';
import type { HostsJson } from '../kvm/real-hosts.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CutRestoreZone {
  z: KvmZone;
  /** The VMs made (their backups go at the end). */
  vms: string[];
  /** Whether host2's link is cut now (the clean-up brings it back). */
  cut: boolean;
  offering: string;
  plain: string;
}

export async function cutRestoreZone(hosts: HostsJson): Promise<CutRestoreZone> {
  const z = await kvmBackupZone(hosts, ['host2']);
  const offering = ((await z.t.job('importBackupOffering', { zoneid: z.zoneid, externalid: 'host-store', name: 'Host store', description: 'nas', allowuserdrivenbackups: 'true' }))['backupoffering'] as { id: string }).id;
  // No HA: the host cut off must not get its VMs restarted elsewhere.
  const plain = ((await z.t.ok('createServiceOffering', { name: 'no-ha', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
  return { z, vms: [], cut: false, offering, plain };
}

/** A stopped VM NAME on host2 with a data volume, assigned to the offering; its disks' paths there. */
export async function twoDiskVm(c: CutRestoreZone, name: string): Promise<{ vm: string; volume: string; root: string; data: string }> {
  const { z } = c;
  const vm = ((await z.t.job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: c.plain, networkids: z.network, name, hostid: z.hostIds['host2']! }))['virtualmachine'] as { id: string }).id;
  c.vms.push(vm);
  const custom = (z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
  const volume = ((await z.t.job('createVolume', { zoneid: z.zoneid, diskofferingid: custom, size: '1', name: `${name}-data` }))['volume'] as { id: string }).id;
  await z.t.job('attachVolume', { id: volume, virtualmachineid: vm });
  await z.t.job('assignVirtualMachineToBackupOffering', { virtualmachineid: vm, backupofferingid: c.offering });
  await z.t.job('stopVirtualMachine', { id: vm, forced: 'true' });
  const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
  const disks = Object.fromEntries(onHost('host2', 'virsh', 'domblklist', '--domain', internal).split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => c[0] === 'vda' || c[0] === 'vdb').map((c) => [c[0]!, c[1]!]));
  return { vm, volume, root: disks['vda']!, data: disks['vdb']! };
}

/** Starts restoreBackup of BACKUP and waits until it stops at POINT; returns its job id (still running, paused). */
export async function restorePausedAt(c: CutRestoreZone, backup: string, point: string): Promise<string> {
  process.env['KILN_TEST_PAUSE_AT'] = point;
  pausedAt.delete(point);
  const started = await c.z.t.ok('restoreBackup', { id: backup });
  for (let i = 0; i < 1200 && !pausedAt.has(point); i++) await sleep(100);
  if (!pausedAt.has(point)) throw new Error(`the restore of backup ${backup} never reached ${point}`);
  return String(started['jobid']);
}

/** Cuts host2's link, lets the paused restore go on, and waits for its job to end; returns the job's answer. */
export async function cutAndRelease(c: CutRestoreZone, jobId: string): Promise<Record<string, unknown>> {
  harness('cut-link', 'host2');
  c.cut = true;
  delete process.env['KILN_TEST_PAUSE_AT'];
  return c.z.t.engine.jobs.wait(jobId, 180_000);
}

export function restoreLink(c: CutRestoreZone): void {
  harness('restore-link', 'host2');
  c.cut = false;
}

/** The afterAll: the link back, every VM and its backups gone, the backup store of host2 cleared of them. */
export async function closeCutRestoreZone(c: CutRestoreZone | undefined): Promise<void> {
  delete process.env['KILN_TEST_PAUSE_AT'];
  if (!c) return;
  if (c.cut) restoreLink(c);
  c.z.t.engine.backups.stop();
  for (const vm of c.vms) await c.z.t.run('removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
  await cleanUp(c.z.t);
  for (const vm of c.vms) onHost('host2', 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`);
  await c.z.t.close();
}
