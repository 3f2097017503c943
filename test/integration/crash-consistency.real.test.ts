/**
 * Crash consistency on real KVM hosts (issue 10): the same rounds as crash-consistency.test.ts,
 * but the `kiln serve` process drives libvirt on the test hosts over SSH. Five rounds of up to 12
 * concurrent lifecycle calls on a few VMs, a `kill -9` at a seeded moment each round, then a
 * restart. Checked each round: the database passes integrity_check; after one sync no VM is in a
 * transient state and every job is finished or failed with a message; and Kiln's states equal
 * `virsh list --all` on the hosts (no orphan domain, no lost VM, nothing running where Kiln does
 * not place it). At the end every VM is expunged through the API and nothing of this run is left
 * on the hosts (domains or disks).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, crashRounds, ok, waitJob, type HostDomain } from '../helpers/crash-rounds.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import Database from 'better-sqlite3';

const hosts = kvmHostsOrSkip();
const SEED = Number(process.env['KILN_CRASH_SEED'] ?? 20261202);
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-crash-kvm-'));
const instanceName = `C${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
let kiln: KilnProcess | undefined;

/** This run's domains on every harness host, named by the host's address as Kiln names hosts. */
function kvmDomains(): Promise<HostDomain[]> {
  const ours = (name: string) => name.endsWith(`-${instanceName}`);
  return Promise.resolve(
    hosts!.hosts.flatMap((h) => {
      const running = new Set(onHost(h.name, 'virsh', 'list', '--name').split('\n').filter(ours));
      return onHost(h.name, 'virsh', 'list', '--all', '--name').split('\n').filter(ours).map((name) => ({ host: h.address, name, running: running.has(name) }));
    }),
  );
}

describe.skipIf(!hosts)('crash consistency on real KVM hosts (kill -9 of kiln serve)', () => {
  afterAll(async () => {
    // Whatever a failure left: expunge through a running Kiln, then remove any domain of this run by hand.
    if (kiln) {
      const left = (await api(kiln, 'listVirtualMachines', { listall: 'true' })).body['virtualmachine'] as { id: string; state: string }[] | undefined;
      for (const vm of left ?? []) {
        const res = await api(kiln, 'destroyVirtualMachine', { id: vm.id, expunge: 'true' });
        if (typeof res.body['jobid'] === 'string') await waitJob(kiln, res.body['jobid']).catch(() => undefined);
      }
      await kiln.stop();
    }
    for (const d of await kvmDomains()) {
      const h = hosts!.hosts.find((x) => x.address === d.host)!.name;
      if (d.running) onHost(h, 'virsh', 'destroy', d.name);
      onHost(h, 'virsh', 'undefine', d.name);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 300_000);

  it(`5 rounds of up to 12 concurrent lifecycle calls on at most 4 VMs with a kill -9 each (seed ${SEED}): sound database, settled VMs and jobs, virsh agrees`, { timeout: 300_000 }, async () => {
    const first = await startKiln({ dataDir, args: ['--no-ui'] });
    // Only KVM VMs here: the demo zone's simulated VMs go, and its hosts take no new ones.
    for (const vm of ((await ok(first, 'listVirtualMachines', { listall: 'true' }))['virtualmachine'] as { id: string }[] | undefined) ?? []) {
      expect((await waitJob(first, String((await ok(first, 'destroyVirtualMachine', { id: vm.id, expunge: 'true' }))['jobid'])))['jobstatus']).toBe(1);
    }
    for (const host of ((await ok(first, 'listHosts', {}))['host'] as { id: string }[] | undefined) ?? []) await ok(first, 'updateHost', { id: host.id, allocationstate: 'Disable' });
    const zone = ((await ok(first, 'createZone', { name: 'Crash KVM' }))['zone'] as { id: string }).id;
    const pod = ((await ok(first, 'createPod', { name: 'Crash Pod', zoneid: zone }))['pod'] as { id: string }).id;
    const cluster = ((await ok(first, 'addCluster', { clustername: 'Crash Cluster', zoneid: zone, podid: pod, hypervisor: 'KVM' }))['cluster'] as { id: string }).id;
    for (const h of hosts!.hosts.slice(0, 2)) {
      await ok(first, 'addHost', {
        zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${h.address}:${h.port}`, username: h.username,
        privatekey: readFileSync(h.privateKeyPath, 'utf8'), 'details[0].pool': hosts!.poolName,
      });
    }
    const os = ((await ok(first, 'listOsTypes', { description: 'Other Linux (64-bit)' }))['ostype'] as { id: string }[])[0]!.id;
    await ok(first, 'updateConfiguration', { name: 'kiln.template.local.dir', value: hosts!.storagePath });
    const template = ((await ok(first, 'registerTemplate', {
      name: 'crash guest', format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts!.templateImage, zoneid: zone, ispublic: 'true', size: String(64 * 1024 * 1024),
      'details[0].kernel': hosts!.kernel, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    }))['template'] as { id: string }[])[0]!.id;
    const offering = ((await ok(first, 'createServiceOffering', { name: 'crash-tiny', cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
    const network = ((await ok(first, 'createNetwork', { name: 'crash-l2', zoneid: zone, vlan: '201' }))['network'] as { id: string }).id;
    for (const [name, value] of [['instance.name', instanceName], ['vm.stop.timeout', '3'], ['ha.monitor.interval', '1']]) {
      await ok(first, 'updateConfiguration', { name: name!, value: value! });
    }
    await first.stop();

    const result = await crashRounds(dataDir, {
      seed: SEED, rounds: 5, operations: 12, killWindowMs: 2_500, maxVms: 4, settleMs: 45_000,
      deploy: { zoneid: zone, templateid: template, serviceofferingid: offering, networkids: network },
      hostDomains: kvmDomains,
    });
    kiln = result.kiln;
    console.log(`crash-consistency (KVM, seed ${SEED}):\n${result.reports.map((r) => JSON.stringify(r)).join('\n')}`);
    expect(result.findings).toEqual({ integrity: [], transient: [], unfinishedJobs: [], jobsWithoutMessage: [], orphanDomains: [], lostVms: [], runningTwiceOrElsewhere: [] });

    // Expunged through the API, nothing of this run stays on the hosts: no domain, no disk.
    const disks = new Database(join(dataDir, 'kiln.db'), { readonly: true }).prepare(`SELECT DISTINCT path FROM volumes WHERE path IS NOT NULL`).pluck().all() as string[];
    const left = ((await ok(kiln, 'listVirtualMachines', { listall: 'true' }))['virtualmachine'] as { id: string; state: string }[] | undefined) ?? [];
    for (const vm of left) {
      const res = vm.state === 'Destroyed' ? await api(kiln, 'expungeVirtualMachine', { id: vm.id }) : await api(kiln, 'destroyVirtualMachine', { id: vm.id, expunge: 'true' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((await waitJob(kiln, String(res.body['jobid'])))['jobstatus'], vm.id).toBe(1);
    }
    expect(await kvmDomains()).toEqual([]);
    expect(disks.filter((path) => existsSync(join(hosts!.storagePath, path)))).toEqual([]);
  });
});
