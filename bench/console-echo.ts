/**
 * P7 (issue 16): serial-console keystroke echo through Kiln, against `ssh -tt HOST virsh console`
 * on the same host and guest, in the same run. Kiln's path is the one every transport uses
 * (engine.vms.openConsole: the host's pooled SSH connection, a pty channel running virsh console);
 * the WebSocket or IPC hop in front of it adds a loopback write. One keystroke at a time: write a
 * character, wait until the guest's shell echoes it back, 90 times per path in alternating rounds; the line is cleared
 * (Ctrl-U) between characters so the shell never redraws a long line. Goal: p95 ≤ 1.2×.
 */
import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { loadHosts } from '../test/kvm/real-hosts.js';
import { cleanUp, kvmZone } from '../test/helpers/kvm-zone.js';
import { median, type BenchResult } from './stats.js';

const KEYS = 30;

interface Line {
  write(text: string): void;
  /** Resolves when output after this call contains `text`. */
  waitFor(text: string, ms?: number): Promise<void>;
}

function lineOf(write: (text: string) => void, onData: (listener: (chunk: Buffer) => void) => void): Line {
  let seen = '';
  let waiter: { text: string; resolve: () => void } | undefined;
  onData((chunk) => {
    seen += chunk.toString('latin1');
    if (waiter && seen.includes(waiter.text)) {
      const w = waiter;
      waiter = undefined;
      w.resolve();
    }
  });
  return {
    write,
    waitFor(text, ms = 20_000) {
      seen = '';
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(text)} on the console within ${ms} ms`)), ms);
        waiter = { text, resolve: () => (clearTimeout(timer), resolve()) };
      });
    },
  };
}

/** Echo latencies (ms) of KEYS single keystrokes on a shell prompt. */
async function echoes(line: Line): Promise<number[]> {
  // Wake the shell (the guest may still be booting) and wait for its prompt before timing anything.
  const ready = line.waitFor('# ', 120_000);
  const nudge = setInterval(() => line.write('\r'), 2_000);
  line.write('\r');
  try {
    await ready;
  } finally {
    clearInterval(nudge);
  }
  await new Promise((r) => setTimeout(r, 500));
  const out: number[] = [];
  for (let i = 0; i < KEYS; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    const echoed = line.waitFor(key);
    const t0 = performance.now();
    line.write(key);
    await echoed;
    out.push(performance.now() - t0);
    line.write('\x15');
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

const p95 = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length * 0.95)]!;

export async function benchConsoleEcho(): Promise<BenchResult[]> {
  const hosts = loadHosts();
  if (!hosts) {
    console.log('bench console-echo: no hosts.json (test/kvm-hosts/hosts.sh setup); P7 skipped');
    return [];
  }
  const z = await kvmZone(hosts, ['host1']);
  const { t } = z;
  try {
    const job = await t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'p7-echo' });
    const vmId = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const internal = t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vmId) as string;

    const host = hosts.hosts[0]!;
    const viaKiln = async () => {
      const serial: Duplex = await t.engine.vms.openConsole(t.admin, vmId);
      try {
        return await echoes(lineOf((s) => serial.write(s), (l) => serial.on('data', l)));
      } finally {
        serial.destroy();
      }
    };
    const viaSsh = async () => {
      const ssh = spawn('ssh', [
        '-tt', '-i', host.privateKeyPath, '-p', String(host.port), '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${(hosts as typeof hosts & { knownHostsPath: string }).knownHostsPath}`,
        '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `${host.username}@${host.address}`, 'virsh', 'console', '--force', internal,
      ], { stdio: ['pipe', 'pipe', 'inherit'] });
      try {
        return await echoes(lineOf((s) => ssh.stdin.write(s), (l) => ssh.stdout.on('data', l)));
      } finally {
        ssh.kill();
      }
    };
    // Alternating rounds, so that a change in the machine's load falls on both paths alike.
    const kiln: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < 3; round++) {
      kiln.push(...(await viaKiln()));
      raw.push(...(await viaSsh()));
    }
    const value = p95(kiln);
    return [{
      name: 'P7 serial console keystroke echo p95', value, unit: 'ms', baseline: p95(raw), baselineName: 'ssh -tt host virsh console',
      goal: 'p95 ≤ 1.2× the baseline', met: value <= 1.2 * p95(raw),
      note: `${kiln.length} keystrokes per path in 3 alternating rounds on one busybox guest (TCG); medians ${median(kiln).toFixed(1)} ms through Kiln, ${median(raw).toFixed(1)} ms over ssh`,
    }];
  } finally {
    await cleanUp(t).catch(() => undefined);
    await t.close();
  }
}
