/**
 * Many deploys onto one real KVM host at once (issue 10, item 9). Each deploy creates its root
 * disk as a linked clone in the host's `kiln` pool, and a lookup that misses refreshes that pool.
 * libvirt refuses `pool-refresh` while another volume of the pool is being built ("pool 'kiln'
 * has asynchronous jobs running"), so without a per-host storage queue in the driver some of the
 * deploys failed. All of them must succeed, and every domain must be on the host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const COUNT = 8;

describe.skipIf(!hosts)('concurrent deploys on one KVM host', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1']);
  });
  afterAll(async () => {
    // cleanUp stops each Running VM forced before its destroy (a booting guest would hold a graceful one for its ACPI answer).
    if (z) await cleanUp(z.t);
    await z?.t.close();
  }, 300_000);

  it(`deploys ${COUNT} VMs onto one host at the same time, all Running and all defined there`, { timeout: 240_000 }, async () => {
    const started = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        z.t.call('deployVirtualMachine', {
          zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network,
          hostid: z.hostIds['host1']!, name: `kvm-burst-${i}`, startvm: 'true',
        }),
      ),
    );
    for (const res of started) expect(res.status, JSON.stringify(res.body)).toBe(200);
    const jobs = await Promise.all(started.map((res) => z.t.engine.jobs.wait(String(res.body['jobid']))));
    const failures = jobs.filter((job) => job['jobstatus'] !== 1).map((job) => (job['jobresult'] as { errortext?: string }).errortext);
    expect(failures).toEqual([]);
    const names = jobs.map((job) => (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine);
    expect(names.map((vm) => vm.state)).toEqual(Array(COUNT).fill('Running'));
    const running = onHost('host1', 'virsh', 'list', '--name').split('\n');
    for (const vm of names) {
      const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm.id) as string;
      expect(running).toContain(internal);
    }
  });
});
