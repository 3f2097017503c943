/**
 * A VM still running on a host Kiln cannot reach (its link cut, its qemu alive) holds its disks on
 * the shared storage. Starting the same definition on another host must be refused by the driver
 * with the reason, before any qemu starts there: otherwise qemu starts, fails on the image lock and
 * exits, and for that moment virsh lists the VM as running on two hosts. Once the first copy is
 * off, the start on the other host works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvmSession } from '../../drivers/kvm/index.js';
import { cleanup, connect, guestSpec, loadHosts, uniqueName, type HostsJson } from './real-hosts.js';

const hosts = loadHosts();

describe.skipIf(!hosts)('KVM start refuses a disk another host still uses', () => {
  const h = hosts as HostsJson;
  let s1: KvmSession;
  let s2: KvmSession;
  const name = uniqueName('lock');

  beforeAll(async () => {
    s1 = await connect(h, 0);
    s2 = await connect(h, 1);
  });
  afterAll(async () => {
    await cleanup([s1, s2].filter(Boolean), name);
    await s1?.close();
    await s2?.close();
  });

  it('refuses the start on host2 while host1 runs the VM, lists nothing running on host2, then starts once host1 stopped it', async () => {
    const spec = guestSpec(h, name);
    await s1.define(spec);
    await s1.start(name);
    await s2.define(spec);
    const seen: string[] = [];
    const watch = setInterval(() => void s2.powerState(name).then((state) => seen.push(state), () => undefined), 20);
    try {
      await expect(s2.start(name)).rejects.toThrow(/disk \S+ of kx-lock-\S+ is in use by another process \(the VM may still run on a host Kiln cannot reach\): .*lock/);
    } finally {
      clearInterval(watch);
    }
    expect(await s2.powerState(name)).toBe('Stopped');
    expect(seen).not.toContain('Running');
    await s1.stop(name, { forced: true });
    await s2.start(name);
    expect(await s2.powerState(name)).toBe('Running');
    await s2.stop(name, { forced: true });
    await s1.destroy(name, { removeDisks: [] });
  });
});
