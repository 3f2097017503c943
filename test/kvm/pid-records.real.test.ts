/**
 * The pid records Kiln keeps on a host name their process exactly (drivers/kvm/pid-record.ts):
 * the isolation watchdog's ($DIR/pid with pid.id) and a restore's .kiln-restore-*.part.pids. After
 * a host reboot a recorded pid may be another process, with the same name even; a check by name
 * alone took such a process for Kiln's own: arming left the host without a watchdog ("running"),
 * disarming or discarding a cut-short restore killed it. Here the "reused pid" is an impostor on
 * host1 whose command line holds kiln-watchdog (or kiln-restore), recorded with the identity of
 * another process (another boot's), as a record from before a reboot would be.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvmSession } from '../../drivers/kvm/index.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { connect, uniqueName } from './real-hosts.js';

const hosts = kvmHostsOrSkip();
const DIR = '/var/lib/libvirt/kiln-watchdog';
const OTHER_BOOT = '00000000-0000-4000-8000-000000000000';
let session: KvmSession;
const impostors: number[] = [];

/** Starts a process on host1 whose command line is NAME…, detached; its pid. */
function impostor(name: string): number {
  const pid = Number(onHost('host1', 'sh', '-c', 'setsid bash -c "exec -a \\"$1\\" sleep 600" sh "$1" </dev/null >/dev/null 2>&1 & echo $!', 'sh', name).trim());
  impostors.push(pid);
  return pid;
}

/** Whether PID is a live (not zombie) process in host1's network namespace. */
function aliveOnHost1(pid: number): boolean {
  try {
    const ns = (hosts!.hosts[0] as unknown as { netns: string }).netns;
    const here = statSync(`/proc/${pid}/ns/net`);
    const there = statSync(`/run/netns/${ns}`);
    return here.ino === there.ino && here.dev === there.dev && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const read = (file: string) => onHost('host1', 'sh', '-c', 'cat "$1" 2>/dev/null || true', 'sh', file).trim();
const write = (file: string, text: string) => onHost('host1', 'sh', '-c', 'printf "%s\\n" "$2" > "$1"', 'sh', file, text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether PID ends within a few seconds (a kill takes effect soon after the command that sent it). */
async function ends(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && aliveOnHost1(pid); i++) await sleep(100);
  return !aliveOnHost1(pid);
}

describe.skipIf(!hosts)('pid records Kiln keeps on a KVM host', () => {
  beforeAll(async () => {
    session = await connect(hosts!, 0);
  }, 60_000);
  afterAll(async () => {
    for (const pid of impostors) onHost('host1', 'sh', '-c', 'kill -9 "$1" 2>/dev/null; true', 'sh', String(pid));
    await session?.isolationFencing.disarm().catch(() => undefined);
    await session?.close();
  }, 60_000);

  it('the isolation watchdog: a recorded pid that is another process of the same name is neither taken for the watchdog nor killed', async () => {
    await session.isolationFencing.arm([]);
    const pid = Number(read(`${DIR}/pid`));
    expect(aliveOnHost1(pid)).toBe(true);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    expect(read(`${DIR}/pid.id`)).toBe(`${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}:${stat[19]}`);
    // Arming again keeps it (its record matches).
    await session.isolationFencing.arm([]);
    expect(Number(read(`${DIR}/pid`))).toBe(pid);

    // As after a reboot: the record names a pid that is now an impostor with kiln-watchdog in its command line.
    await session.isolationFencing.disarm();
    expect(await ends(pid)).toBe(true);
    const other = impostor(`${DIR}/kiln-watchdog.sh`);
    // The version a record of this Kiln's watchdog would carry (disarming removes it).
    await session.isolationFencing.arm([]);
    const armedVersion = read(`${DIR}/version`);
    await session.isolationFencing.disarm();
    write(`${DIR}/pid`, String(other));
    write(`${DIR}/pid.id`, `${OTHER_BOOT}:1`);
    write(`${DIR}/version`, armedVersion);
    await session.isolationFencing.arm([]);
    const started = Number(read(`${DIR}/pid`));
    // A watchdog of its own, started beside the impostor, which it left alone.
    expect(started).not.toBe(other);
    expect(aliveOnHost1(started)).toBe(true);
    expect(readFileSync(`/proc/${started}/cmdline`, 'utf8')).toContain('kiln-watchdog');
    expect(aliveOnHost1(other)).toBe(true);

    // Disarming with the impostor recorded kills nothing.
    await session.isolationFencing.disarm();
    expect(await ends(started)).toBe(true);
    write(`${DIR}/pid`, String(other));
    write(`${DIR}/pid.id`, `${OTHER_BOOT}:1`);
    await session.isolationFencing.disarm();
    await sleep(500);
    expect(aliveOnHost1(other)).toBe(true);
    expect(read(`${DIR}/pid`)).toBe('');
  }, 120_000);

  it('a restore cut short: discarding it kills no process that merely has a recorded pid and kiln-restore in its command line', async () => {
    const name = `${uniqueName('pids')}.qcow2`;
    const aside = `${hosts!.storagePath}/.kiln-restore-${name}.part`;
    const other = impostor(`qemu-img convert ${aside}`);
    expect(readFileSync(`/proc/${other}/cmdline`, 'utf8')).toContain('kiln-restore');
    write(aside, 'half a restored copy');
    write(`${aside}.pids`, `${other} ${OTHER_BOOT}:1`);
    await session.backup.discardRestore([{ name, pool: hosts!.poolName }]);
    expect(read(aside)).toBe('');
    expect(read(`${aside}.pids`)).toBe('');
    await sleep(500);
    expect(aliveOnHost1(other)).toBe(true);
  }, 60_000);
});
