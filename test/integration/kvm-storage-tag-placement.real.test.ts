/**
 * Storage tags steer host placement on real KVM hosts (issue 13, R48): a dir pool this test
 * defines on host1 only is tagged fast; a deploy with an offering whose storage tag is fast and no
 * host given lands on host1 with its root disk in that pool; an offering whose tag no pool has is
 * refused 533 with each host's verdict and nothing written; importVm importsource=local of a disk
 * in host2's untagged kiln pool is a 431 naming offering, tag and pool. The host set comes from
 * KILN_KVM_WORK (the default set otherwise); the VM, the volume and the pool are removed after.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { WORK } from '../kvm/real-hosts.js';
import { kvmZoneWithDirPool } from '../helpers/kvm-dir-pool.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const POOL = `kiln-stp-${process.pid}`;
const POOL_DIR = path.join(WORK, `stp-${process.pid}`);
const LOOSE_DISK = `stp-loose-${process.pid}.qcow2`;

describe.skipIf(!hosts)('storage tags at host placement on real KVM hosts', () => {
  z = kvmZoneWithDirPool(hosts!, { name: POOL, dir: POOL_DIR }, () => {
    onHost('host2', 'sh', '-c', `virsh vol-delete --pool ${hosts!.poolName} ${LOOSE_DISK} >/dev/null 2>&1; true`);
    // The harness's hosts may share the pool's directory: host1's libvirt lists the file until it re-reads it.
    onHost('host1', 'sh', '-c', `virsh pool-refresh ${hosts!.poolName} >/dev/null 2>&1; true`);
  });

  it('places a fast-tagged root disk on the only host with a fast pool, refuses a tag no pool has (533, every verdict, nothing written), and refuses importVm local from an untagged pool (431)', async () => {
    const pools = (await z.t.ok('listStoragePools', { clusterid: z.clusterid }))['storagepool'] as { id: string; name: string }[];
    await z.t.ok('updateStoragePool', { id: pools.find((p) => p.name === POOL)!.id, tags: 'fast' });
    const offering = async (name: string, tags: string) => ((await z.t.ok('createServiceOffering', { name, cpunumber: '1', cpuspeed: '100', memory: '128', tags }))['serviceoffering'] as { id: string }).id;
    const fast = await offering('kvm-stp-fast', 'fast');
    const nvme = await offering('kvm-stp-nvme', 'nvme');

    const done = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: fast, networkids: z.network, name: 'stp-vm' });
    expect(done['jobstatus'], JSON.stringify(done['jobresult'])).toBe(1);
    const vm = (done['jobresult'] as { virtualmachine: { id: string; hostid: string } }).virtualmachine;
    expect(vm.hostid).toBe(z.hostIds['host1']);
    const root = z.t.engine.db.prepare(`SELECT v.path, v.pool FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.uuid=? AND v.volume_type='ROOT'`).get(vm.id) as { path: string; pool: string };
    expect(root.pool).toBe(POOL);
    expect(existsSync(path.join(POOL_DIR, root.path))).toBe(true);

    const count = () => z.t.engine.db.prepare('SELECT (SELECT COUNT(*) FROM vm_instances) || \'/\' || (SELECT COUNT(*) FROM volumes)').pluck().get();
    const before = count();
    const refused = await z.t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: nvme, networkids: z.network, name: 'stp-none' });
    expect(refused.status).toBe(533);
    const verdicts = refused.body['placement'] as { hostName: string; reason: string }[];
    expect(verdicts).toHaveLength(2);
    for (const v of verdicts) expect(v.reason).toMatch(/^no enabled pool with storage tag nvme for volume the root volume \(service offering kvm-stp-nvme; pools: /);
    expect(verdicts.map((v) => v.reason).join(' | ')).toContain(`${POOL} has fast`);
    expect(count()).toBe(before);

    onHost('host2', 'virsh', 'vol-create-as', hosts!.poolName, LOOSE_DISK, '64M', '--format', 'qcow2');
    const imported = await z.t.call('importVm', { zoneid: z.zoneid, importsource: 'local', hostid: z.hostIds['host2']!, serviceofferingid: fast, networkid: z.network, name: 'stp-local', diskpath: LOOSE_DISK });
    expect(imported.status).toBe(431);
    expect(String(imported.body['errortext'])).toBe(`serviceofferingid: service offering kvm-stp-fast needs storage tag fast, which pool ${hosts!.poolName} holding disk ${LOOSE_DISK} of VM stp-local lacks; importVm moves no disk between pools: tag that pool with updateStoragePool, or choose an offering without the tag`);
    expect(count()).toBe(before);
  }, 300_000);
});
