/**
 * P10 (issue 16): the inventory refresh (the HA and reconcile pass: connect, list every domain,
 * compare with Kiln's records) across many KVM hosts at once. The hosts are a third, separate set
 * from the test harness (default /tmp/kk20/hosts.json, made with
 * `KILN_KVM_WORK=/tmp/kk20 KILN_KVM_NET=10.97.0 KILN_KVM_BRIDGE=kilnbr2 KILN_KVM_NS_PREFIX=c- test/kvm-hosts/hosts.sh setup 20`),
 * each given three domains by bench/p10-fixture.sh. The baseline, in the same run, is the same
 * pass one host at a time (host.check.concurrency=1), cold and warm.
 *
 * Cold: every pooled connection closed first, so the pass connects to every host (SSH handshake,
 * the virsh shell and event stream, capacity, the isolation watchdog) as at start. Warm: the
 * connections are open; the pass lists power states through each host's virsh shell. The pass is
 * measured at several concurrency bounds (KILN_P10_CONCURRENCY, default 4,8,12,20); the figures
 * reported are the default bound's. A full inventory of every host (listInstances and inventory(),
 * the details the pass does not need) is reported beside it, so the pass's figure is not read as that.
 * All 20 hosts share this machine's CPUs with their running guests: the load (uptime) is in the note.
 * Run alone: `npm run bench -- p10` (or `many-hosts`).
 * Anchors from the issue: webvirtcloud ~2 min for ~90 hosts, mist.io >30 s for 270 VMs on 20 hosts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import type { HostsJson } from '../test/kvm/real-hosts.js';
import { cleanUp, kvmZone } from '../test/helpers/kvm-zone.js';
import { median, type BenchResult } from './stats.js';

const now = () => performance.now();
const ROUNDS = 5;

/** Waits (up to 5 minutes) until every host's running fixture guest has printed its ready marker. */
async function guestsReady(hosts: HostsJson): Promise<void> {
  const log = (h: HostsJson['hosts'][number]) => join(h.stateDir, 'log', 'qemu', `p10-${h.name}-1-serial.log`);
  const ready = (h: HostsJson['hosts'][number]) => existsSync(log(h)) && readFileSync(log(h), 'utf8').includes(hosts.guestReadyMarker);
  for (const end = Date.now() + 300_000; Date.now() < end; await new Promise((r) => setTimeout(r, 2_000))) {
    if (hosts.hosts.every(ready)) return;
  }
  console.log(`bench many-hosts: not every fixture guest printed ${hosts.guestReadyMarker} within 5 minutes; measuring anyway`);
}

export async function benchManyHosts(): Promise<BenchResult[]> {
  const file = process.env['KILN_P10_HOSTS'] ?? '/tmp/kk20/hosts.json';
  if (!existsSync(file)) {
    console.log(`bench many-hosts: no ${file}; P10 skipped (see bench/many-hosts.ts for how to make the hosts)`);
    return [];
  }
  const hosts = JSON.parse(readFileSync(file, 'utf8')) as HostsJson;
  const bounds = (process.env['KILN_P10_CONCURRENCY'] ?? '4,8,12,20').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const fixture = (verb: 'up' | 'down') => execFileSync('bash', ['bench/p10-fixture.sh', verb], { env: { ...process.env, KILN_KVM_WORK: dirname(file) }, stdio: 'inherit' });
  fixture('up');
  // Twenty guests booting under TCG take the machine's CPUs for a minute: measure once they are up.
  await guestsReady(hosts);
  const z = await kvmZone(hosts, hosts.hosts.map((h) => h.name));
  const { engine } = z.t;
  try {
    const ids = engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='KVM'`).pluck().all() as number[];
    const defaultBound = engine.settings.int('host.check.concurrency');
    const pass = async () => {
      const t0 = now();
      await engine.background.ha.pass();
      return now() - t0;
    };
    const setConcurrency = (n: number) => z.t.call('updateConfiguration', { name: 'host.check.concurrency', value: String(n) });
    /** One cold pass (every connection closed first) and the median of ROUNDS warm ones, at bound N. */
    const measure = async (n: number) => {
      await setConcurrency(n);
      for (const id of ids) await engine.hosts.drop(id);
      const cold = await pass();
      const warm: number[] = [];
      for (let i = 0; i < ROUNDS; i++) warm.push(await pass());
      return { n, cold, warm: median(warm), load: loadavg()[0]! };
    };
    const baseline = await measure(1);
    const sweep = [];
    for (const n of [...new Set([...bounds, defaultBound])]) sweep.push(await measure(n));
    await setConcurrency(defaultBound);
    // Everything the driver reads of every host, side by side (warm connections).
    const full: number[] = [];
    let domains = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = now();
      const listed = await Promise.all(ids.map(async (id) => {
        const session = await engine.hosts.session(id);
        const [instances] = await Promise.all([session.listInstances(), session.inventory()]);
        return instances.length;
      }));
      full.push(now() - t0);
      domains = listed.reduce((a, b) => a + b, 0);
    }
    const chosen = sweep.find((s) => s.n === defaultBound)!;
    const sweepText = sweep.map((s) => `${s.n}: cold ${s.cold.toFixed(0)} / warm ${s.warm.toFixed(0)} ms (load ${s.load.toFixed(1)})`).join('; ');
    const note = `${ids.length} hosts, ${domains} domains, on ${hosts.hosts.length} netns hosts of this machine; by concurrency ${sweepText}; baseline (1 at a time) load ${baseline.load.toFixed(1)}`;
    return [
      { name: `P10 inventory refresh across hosts (warm, concurrency ${defaultBound})`, value: chosen.warm, unit: 'ms', baseline: baseline.warm, baselineName: 'one host at a time', goal: '≤ 2000 ms', met: chosen.warm <= 2000, note },
      { name: `P10 inventory refresh across hosts (cold, connects included, concurrency ${defaultBound})`, value: chosen.cold, unit: 'ms', baseline: baseline.cold, baselineName: 'one host at a time', goal: '≤ 2000 ms', met: chosen.cold <= 2000, note: `${ids.length} hosts; load ${chosen.load.toFixed(1)}` },
      { name: 'P10 full inventory of every host (listInstances + inventory, all at once, warm)', value: median(full), unit: 'ms', goal: 'reported (not the pass: the pass reads power states only)', met: true, note: `${domains} domains` },
    ];
  } finally {
    await cleanUp(z.t).catch(() => undefined);
    await z.t.close();
    fixture('down');
  }
}
