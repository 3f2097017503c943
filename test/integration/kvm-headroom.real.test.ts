/**
 * R14 on the real KVM test hosts: the KVM driver's declared maxguestslimit is listed before any
 * host is asked, a cluster's own cluster.max.guests.per.host makes placement refuse a full host
 * (533 naming the VM limit, and no domain defined on it), and checkClusterHeadroom counts the
 * real VMs against (N−1)·L and names the one that would not fit if its host died.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KVM_CAPABILITIES } from '../../drivers/kvm/index.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;

interface Headroom {
  hasheadroom: boolean; hostcount: number; maxguestsperhost: number; vmcount: number; safevmcount: number; warning: string[];
  hostfailure: { hostname: string; unplaceable: { name: string; reason: string }[] }[];
}

const domains = (host: string) => onHost(host, 'virsh', 'list', '--all', '--name').split('\n').map((s) => s.trim()).filter(Boolean);

describe.skipIf(!hosts)('N−1 headroom on real KVM hosts (R14)', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, undefined, undefined, { sharedPool: true });
  }, 300_000);
  afterAll(async () => {
    if (z) {
      const made = z.t.engine.db.prepare(`SELECT internal_name FROM vm_instances WHERE hypervisor='KVM'`).pluck().all() as string[];
      await cleanUp(z.t);
      // Nothing this test defined is left on the shared hosts.
      for (const host of ['host1', 'host2']) expect(domains(host).filter((d) => made.includes(d))).toEqual([]);
    }
    await z?.t.close();
  }, 300_000);

  it('lists KVM maxguestslimit, refuses a full host, and warns past (N−1)·L with the VM at risk', { timeout: 240_000 }, async () => {
    const caps = (await z.t.call('listHypervisorCapabilities', { hypervisor: 'KVM' })).body['hypervisorCapabilities'] as { maxguestslimit: number }[];
    expect(caps).toMatchObject([{ maxguestslimit: KVM_CAPABILITIES.maxGuestsLimit }]);
    expect((await z.t.call('updateConfiguration', { name: 'cluster.max.guests.per.host', value: '1', clusterid: z.clusterid })).status).toBe(200);
    const deploy = (name: string, host: string) => z.t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds[host]!, name });
    const host1 = hosts!.hosts[0]!.address;

    const first = await deploy('kvm-limit-a', 'host1');
    expect((await z.t.engine.jobs.wait(String(first.body['jobid'])))['jobstatus']).toBe(1);
    const internalA = z.t.engine.db.prepare(`SELECT internal_name FROM vm_instances WHERE hostname='kvm-limit-a'`).pluck().get() as string;
    expect(domains('host1')).toContain(internalA);

    const before = domains('host1');
    const refused = await deploy('kvm-limit-b', 'host1');
    expect(refused.status).toBe(533);
    expect(String(refused.body['errortext'])).toContain(`${host1}: VM limit: runs 1 of at most 1 VMs per host (maxguestslimit)`);
    expect(domains('host1')).toEqual(before);
    expect(z.t.engine.db.prepare(`SELECT COUNT(*) FROM vm_instances WHERE hostname='kvm-limit-b'`).pluck().get()).toBe(0);

    const ok = (await z.t.call('checkClusterHeadroom', { clusterid: z.clusterid })).body['clusterheadroom'] as Headroom;
    expect(ok).toMatchObject({ hasheadroom: true, hostcount: 2, maxguestsperhost: 1, vmcount: 1, safevmcount: 1, warning: [] });

    const second = await deploy('kvm-limit-c', 'host2');
    expect((await z.t.engine.jobs.wait(String(second.body['jobid'])))['jobstatus']).toBe(1);
    const lost = (await z.t.call('checkClusterHeadroom', { clusterid: z.clusterid })).body['clusterheadroom'] as Headroom;
    expect(lost).toMatchObject({ hasheadroom: false, vmcount: 2, safevmcount: 1 });
    expect(lost.warning[0]).toMatch(/runs 2 VMs, more than \(N−1\)·L = \(2−1\)·1 = 1/);
    const strandedA = lost.hostfailure.find((f) => f.hostname === host1)!.unplaceable;
    expect(strandedA.map((u) => u.name)).toEqual(['kvm-limit-a']);
    expect(strandedA[0]!.reason).toMatch(/VM limit: runs 1 of at most 1/);
  });
});
