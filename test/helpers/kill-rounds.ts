/**
 * What the `kill -9` real tests (test/integration/*-kill.real.test.ts) share: a data dir and a
 * per-run instance.name, a `kiln serve` on it (held at a step with KILN_TEST_PAUSE_AT when asked),
 * the wait for its 'KILN-TEST-PAUSED <step>', the kill -9, the next `kiln serve` on the same data
 * dir, reads of its database beside it, and an afterAll cleanup that leaves the harness hosts as
 * they were (VMs off their backup offering, destroyed and expunged, volumes deleted, the process
 * stopped, each VM's backups and any domain of this run removed on every host named, its isolation
 * watchdog stopped, the data dir removed). Host files are looked at on the host (onHost, or
 * hostKilnPath for its /var/lib/kiln), never in this machine's /var/lib/kiln.
 *
 * What a kill leaves running on a host: the kill -9 closes Kiln's SSH connection, and sshd signals
 * nothing to the command of an exec channel without a pty (no SIGHUP): a host script (the
 * driver's RESTORE, drivers/kvm/backup.ts) goes on to its end, where its last echo dies of
 * SIGPIPE, so its exit trap (which removes its work directory and its .pids file) never runs. A
 * leftover a test expects gone after the restart is there after the kill, before the restart:
 * a test looks then too, so that gone means Kiln's recovery removed it, not that it never was.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { expect } from 'vitest';
import { api, killHard, waitJob } from './crash-rounds.js';
import { hostKilnPath, onHost } from './kvm-zone.js';
import { connect, loadHosts } from '../kvm/real-hosts.js';
import { startKiln, type KilnProcess } from './server.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a kiln serve is still running (neither exited nor killed). */
export function alive(kiln: KilnProcess): boolean {
  return kiln.child.exitCode === null && kiln.child.signalCode === null;
}

/** Destroys a domain of this run and removes its definition, checkpoints and disks; quiet when it is gone. */
const REMOVE_DOMAIN = 'virsh destroy "$1" >/dev/null 2>&1; virsh undefine --checkpoints-metadata --remove-all-storage "$1" >/dev/null 2>&1 || virsh undefine "$1" >/dev/null 2>&1; true';

/** The disks of DOMAIN on HOST by target (vda, vdb …), as `virsh domblklist` gives them (of its inactive definition with INACTIVE). */
export function domainDisks(host: string, domain: string, options: { inactive?: boolean } = {}): Record<string, string> {
  const listed = onHost(host, 'virsh', 'domblklist', '--domain', domain, ...(options.inactive ? ['--inactive'] : []));
  return Object.fromEntries(listed.split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => /^[hsv]d[a-z]$/.test(c[0] ?? '') && c[1]).map((c) => [c[0]!, c[1]!]));
}

/**
 * What a KVM restore onto DISK (its path in the pool, which this machine shares) has on HOST:
 * the copy written beside it (.kiln-restore-<disk>.part), the list of who writes it (….part.pids)
 * and its work directory in the host's /var/lib/kiln/backups (.restore-<disk>).
 */
export function restoreLeftovers(host: string, disk: string): { aside: boolean; pids: boolean; work: boolean } {
  const aside = join(dirname(disk), `.kiln-restore-${basename(disk)}.part`);
  return { aside: existsSync(aside), pids: existsSync(`${aside}.pids`), work: existsSync(hostKilnPath(host, `/var/lib/kiln/backups/.restore-${basename(disk)}`)) };
}

export interface KillRound {
  readonly dataDir: string;
  /** The instance.name of this run: its domains are named *-<instanceName>. */
  readonly instanceName: string;
  /** The kiln serve started last (undefined before the first start). */
  readonly kiln: KilnProcess | undefined;
  /** The VMs the cleanup destroys and whose backups it removes: a test pushes each it makes. */
  readonly vms: string[];
  /** Starts kiln serve on the data dir (held at PAUSEAT when given); refuses while the last one runs. */
  start(options?: { pauseAt?: string }): Promise<KilnProcess>;
  /** Waits (up to 2 minutes) for the last kiln serve to say it is held at STEP, and expects it did. */
  paused(step: string): Promise<void>;
  /** kill -9 of the last kiln serve; expects it died of that signal. */
  kill(): Promise<void>;
  /** A read of the data dir's database beside the running kiln serve (WAL: readers do not block it). */
  fromDb<T>(read: (db: Database.Database) => T): T;
  /** The domains of this run on HOST (every one, running or not). */
  domains(host: string): string[];
  /** The afterAll cleanup, on each of HOSTS (host1 unless given). */
  cleanup(options?: { hosts?: string[] }): Promise<void>;
}

/**
 * A kill test's run: PREFIX names its data dir (in the temp dir), TAG (a letter) starts its
 * instance.name, which the process id and the time make unique to the run.
 */
export function killRound(prefix: string, tag: string): KillRound {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const instanceName = `${tag}${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const vms: string[] = [];
  let kiln: KilnProcess | undefined;
  const domains = (host: string) => onHost(host, 'virsh', 'list', '--all', '--name').split('\n').filter((n) => n.endsWith(`-${instanceName}`));
  return {
    dataDir,
    instanceName,
    vms,
    get kiln() {
      return kiln;
    },
    async start(options = {}) {
      if (kiln && alive(kiln)) throw new Error('a kiln serve still runs on this data dir: stop or kill it first');
      kiln = await startKiln({ dataDir, args: ['--no-ui'], env: options.pauseAt ? { KILN_TEST_PAUSE_AT: options.pauseAt } : undefined });
      return kiln;
    },
    async paused(step) {
      const held = `KILN-TEST-PAUSED ${step}`;
      for (let i = 0; i < 1200 && !kiln!.output().includes(held); i++) await sleep(100);
      expect(kiln!.output()).toContain(held);
    },
    async kill() {
      await killHard(kiln!);
      expect(kiln!.child.signalCode).toBe('SIGKILL');
    },
    fromDb(read) {
      const db = new Database(join(dataDir, 'kiln.db'), { readonly: true, timeout: 10_000 });
      try {
        return read(db);
      } finally {
        db.close();
      }
    },
    domains,
    async cleanup(options = {}) {
      // A Kiln a failed case left killed answers nothing: the host cleanup below still runs.
      if (kiln && alive(kiln)) {
        const k = kiln;
        for (const vm of vms) {
          await api(k, 'removeVirtualMachineFromBackupOffering', { virtualmachineid: vm, forced: 'true' }).catch(() => undefined);
          const res = await api(k, 'destroyVirtualMachine', { id: vm, expunge: 'true' }).catch(() => undefined);
          if (typeof res?.body['jobid'] === 'string') await waitJob(k, res.body['jobid']).catch(() => undefined);
        }
        // Destroy keeps a VM's data volumes (and a restore may have made one): they go by deleteVolume.
        for (const v of ((await api(k, 'listVolumes', { listall: 'true' }).catch(() => undefined))?.body['volume'] as { id: string }[] | undefined) ?? []) {
          await api(k, 'deleteVolume', { id: v.id }).catch(() => undefined);
        }
      }
      await kiln?.stop();
      for (const host of options.hosts ?? ['host1']) {
        for (const vm of vms) onHost(host, 'rm', '-rf', '--', `/var/lib/kiln/backups/${vm}`);
        for (const name of domains(host)) onHost(host, 'sh', '-c', REMOVE_DOMAIN, 'sh', name);
        await disarmWatchdog(host);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Stops HOST's isolation watchdog, which kiln serve's HA passes armed and which outlives the
 * process (killed or stopped, Kiln fences nothing): left running, with this run's peers and
 * timeout, it would power off a later file's HA VMs when that file cuts the host off.
 */
async function disarmWatchdog(host: string): Promise<void> {
  const hosts = loadHosts();
  const index = hosts?.hosts.findIndex((h) => h.name === host) ?? -1;
  if (!hosts || index < 0) return;
  const session = await connect(hosts, index);
  try {
    await session.isolationFencing.disarm();
  } finally {
    await session.close();
  }
}
