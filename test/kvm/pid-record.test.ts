/**
 * The pid records Kiln keeps on hosts (drivers/kvm/pid-record.ts, used by the isolation watchdog
 * and a restore's .pids file), run here with sh: a record names its process by pid plus boot and
 * start time, so a process that merely has the pid (and the name) of the recorded one, as after a
 * host reboot, never matches, and neither does one that is gone.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PID_RECORD } from '../../drivers/kvm/pid-record.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-pid-record-'));
const started: number[] = [];

/** Runs BODY after the record's functions, with ARGS as $1…, under the host's sh. */
function sh(body: string, ...args: string[]): { out: string; code: number } {
  try {
    return { out: execFileSync('sh', ['-c', `${PID_RECORD}\n${body}`, 'sh', ...args], { encoding: 'utf8' }).trim(), code: 0 };
  } catch (error) {
    return { out: String((error as { stdout?: string }).stdout ?? '').trim(), code: (error as { status: number }).status };
  }
}

/** A process to name, optionally run under another command name (its comm, from the file it runs). */
function sleeper(name?: string): number {
  let file = 'sleep';
  if (name) {
    file = join(dir, name);
    symlinkSync(execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(), file);
  }
  const child = spawn(file, ['600'], { stdio: 'ignore', detached: true });
  child.unref();
  started.push(child.pid!);
  return child.pid!;
}

function stop(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  return new Promise((resolve) => {
    const check = () => {
      try {
        // Gone once /proc/PID no longer says it is ours (a zombie still reads as state Z).
        if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return resolve();
      } catch {
        return resolve();
      }
      setTimeout(check, 20);
    };
    check();
  });
}

const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const startOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[19];

afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('pid records on a host', () => {
  it('record a process as its pid’s boot and start time (field 22 of /proc/PID/stat), and match it while it runs', () => {
    const pid = sleeper();
    const id = sh('kiln_pid_id "$1"', String(pid)).out;
    expect(id).toBe(`${bootId}:${startOf(pid)}`);
    expect(sh('kiln_pid_is "$1" "$2"', String(pid), id).code).toBe(0);
  });

  it('count the fields after the command name’s last ")", whatever the name holds', () => {
    const pid = sleeper('a) b ) c');
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toContain('(a) b ) c)');
    expect(sh('kiln_pid_id "$1"', String(pid)).out).toBe(`${bootId}:${startOf(pid)}`);
  });

  it('do not match the same pid with another start time or boot (a pid reused after a reboot), a gone process, or a bad record', async () => {
    const pid = sleeper();
    const start = startOf(pid)!;
    const is = (...args: string[]) => sh('kiln_pid_is "$1" "$2"', ...args).code;
    expect(is(String(pid), `${bootId}:${Number(start) + 1}`)).not.toBe(0);
    expect(is(String(pid), `00000000-0000-0000-0000-000000000000:${start}`)).not.toBe(0);
    expect(is(String(pid), 'gone')).not.toBe(0);
    expect(is(String(pid), '')).not.toBe(0);
    expect(sh('kiln_pid_id "$1"', 'x1').out).toBe('gone');
    expect(sh('kiln_pid_id "$1"', '').out).toBe('gone');
    const id = sh('kiln_pid_id "$1"', String(pid)).out;
    await stop(pid);
    // A zombie still has /proc/PID until reaped; node reaps it, then the pid names nothing.
    for (let i = 0; i < 100 && sh('kiln_pid_id "$1"', String(pid)).out !== 'gone'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sh('kiln_pid_id "$1"', String(pid)).out).toBe('gone');
    expect(is(String(pid), id)).not.toBe(0);
  });

  it('work under set -e, as the scripts that include them run', () => {
    expect(sh('set -e; a=$(kiln_pid_id 999999999); kiln_pid_is 999999999 "$a" || echo no-match; echo still-here').out).toBe('no-match\nstill-here');
  });
});
