/**
 * P10 (issue 16): the inventory refresh (the HA and reconcile pass: connect, list every domain,
 * compare with Kiln's records) across many KVM hosts at once. The hosts are a third, separate set
 * from the test harness (default /tmp/kk20/hosts.json, made with
 * `KILN_KVM_WORK=/tmp/kk20 KILN_KVM_NET=10.97.0 KILN_KVM_BRIDGE=kilnbr2 KILN_KVM_NS_PREFIX=c- test/kvm-hosts/hosts.sh setup 20`),
 * each given three domains by bench/p10-fixture.sh. The baseline, in the same run, is the same
 * pass one host at a time (host.check.concurrency=1), which is how Kiln checked hosts before.
 * Anchors from the issue: webvirtcloud ~2 min for ~90 hosts, mist.io >30 s for 270 VMs on 20 hosts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HostsJson } from '../test/kvm/real-hosts.js';
import { cleanUp, kvmZone } from '../test/helpers/kvm-zone.js';
import { median, type BenchResult } from './stats.js';

const now = () => performance.now();

export async function benchManyHosts(): Promise<BenchResult[]> {
  const file = process.env['KILN_P10_HOSTS'] ?? '/tmp/kk20/hosts.json';
  if (!existsSync(file)) {
    console.log(`bench many-hosts: no ${file}; P10 skipped (see bench/many-hosts.ts for how to make the hosts)`);
    return [];
  }
  const hosts = JSON.parse(readFileSync(file, 'utf8')) as HostsJson;
  const fixture = (verb: 'up' | 'down') => execFileSync('bash', ['bench/p10-fixture.sh', verb], { env: { ...process.env, KILN_KVM_WORK: dirname(file) }, stdio: 'inherit' });
  fixture('up');
  const z = await kvmZone(hosts, hosts.hosts.map((h) => h.name));
  const { engine } = z.t;
  try {
    const ids = engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='KVM'`).pluck().all() as number[];
    const domains = async () => {
      let n = 0;
      for (const id of ids) n += (await (await engine.hosts.session(id)).listInstances()).length;
      return n;
    };
    const pass = async () => {
      const t0 = now();
      await engine.background.ha.pass();
      return now() - t0;
    };
    const setConcurrency = (n: number) => z.t.call('updateConfiguration', { name: 'host.check.concurrency', value: String(n) });
    // Cold: every pooled connection closed first, so the pass connects to every host as at start.
    for (const id of ids) await engine.hosts.drop(id);
    const cold = await pass();
    const rounds = 5;
    const parallel: number[] = [];
    const serial: number[] = [];
    for (let i = 0; i < rounds; i++) parallel.push(await pass());
    await setConcurrency(1);
    for (let i = 0; i < rounds; i++) serial.push(await pass());
    await setConcurrency(8);
    const seen = await domains();
    const warm = median(parallel);
    const note = `${ids.length} hosts, ${seen} domains; cold pass (connecting to every host) ${cold.toFixed(0)} ms`;
    return [
      { name: 'P10 inventory refresh across hosts (warm, concurrency 8)', value: warm, unit: 'ms', baseline: median(serial), baselineName: 'one host at a time', goal: '≤ 2000 ms', met: warm <= 2000, note },
      { name: 'P10 inventory refresh across hosts (cold, connects included)', value: cold, unit: 'ms', goal: '≤ 2000 ms', met: cold <= 2000, note: `${ids.length} hosts` },
    ];
  } finally {
    await cleanUp(z.t).catch(() => undefined);
    await z.t.close();
    fixture('down');
  }
}
