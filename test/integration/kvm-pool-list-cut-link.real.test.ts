/**
 * "listStoragePools waits on open-session hosts", on real KVM hosts: host1's link is cut
 * (hosts.sh cut-link: its sshd lives on, Kiln's open SSH connection to it hangs). listStoragePools
 * answers at once from what the hosts' last refresh recorded (their sessions' opening), host1's
 * pool included, and so does the periodic refresh (each host under host.check.timeout). The link
 * is restored after. The host set comes from KILN_KVM_WORK (the default set otherwise).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKvmZone, harness, kvmHostsOrSkip, kvmZone, type KvmZone } from '../helpers/kvm-zone.js';
import { refreshOpenPools } from '../../main/engine/storage/pool-sync.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let cut = false;

/** The call's answer, or 'no answer' if none came within MS (a hang, not a timing: the list answers in milliseconds or waits on the host). */
const within = <T>(ms: number, promise: Promise<T>) => Promise.race([promise, new Promise<'no answer'>((r) => setTimeout(() => r('no answer'), ms))]);

describe.skipIf(!hosts)('storage pools of a KVM host whose link is cut', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1', 'host2']);
  }, 120_000);
  afterAll(async () => {
    if (cut) harness('restore-link', 'host1');
    await closeKvmZone(z);
  }, 120_000);

  it('lists at once, host1 included, from the records of their sessions\' opening', async () => {
    const host1 = hosts!.hosts.find((h) => h.name === 'host1')!.address;
    const host2 = hosts!.hosts.find((h) => h.name === 'host2')!.address;
    const listed = async () => {
      const answer = await within(10_000, z.t.call('listStoragePools', { clusterid: z.clusterid }));
      expect(answer, 'listStoragePools answered').not.toBe('no answer');
      return (((answer as { body: Record<string, unknown> }).body['storagepool'] ?? []) as { name: string; hostname?: string; state: string }[]).map((p) => `${p.name} ${p.hostname} ${p.state}`).sort();
    };
    const before = await listed();
    expect(before).toEqual([`${hosts!.poolName} ${host1} Up`, `${hosts!.poolName} ${host2} Up`].sort());

    harness('cut-link', 'host1');
    cut = true;
    expect(await listed()).toEqual(before);
    expect((await within(10_000, z.t.call('listStoragePools', { hostid: z.hostIds['host1']! }))) === 'no answer', 'listStoragePools hostid=host1 answered').toBe(false);

    // The periodic refresh gives host1 host.check.timeout (2 s here), records host2, and keeps host1's pool as last read.
    await z.t.ok('updateConfiguration', { name: 'host.check.timeout', value: '2' });
    expect(await within(30_000, refreshOpenPools(z.t.engine)), 'refreshOpenPools finished').not.toBe('no answer');
    expect(await listed()).toEqual(before);

    harness('restore-link', 'host1');
    cut = false;
  }, 120_000);
});
