/**
 * Primary storage on real KVM hosts (issue 13): listStoragePools shows the libvirt pools the hosts
 * report (the harness's `kiln` pool on each host, and a second dir pool this test defines on the
 * first host only), updateStoragePool tags that pool, and a data disk whose disk offering carries
 * the tag is made in that pool (its file in the pool's directory, the domain's disk pointing
 * there), while a VM on the other host, which reaches no pool with the tag, is refused 533 with
 * nothing made. deleteVolume removes the disk from that pool. R48 on import: a hand-made domain
 * whose disk is in the untagged pool is refused (431 naming offering, tag and pool) for an offering
 * with the tag unless migrateallowed (the move itself: kvm-volume-move.real.test.ts); the same domain
 * shape with its disk in the tagged pool imports. The host set comes from
 * KILN_KVM_WORK (the default set otherwise); every domain, volume and the pool are removed after.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { WORK } from '../kvm/real-hosts.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';
import { kvmZoneWithDirPool } from '../helpers/kvm-dir-pool.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const POOL = `kiln-tag-${process.pid}`;
const POOL_DIR = path.join(WORK, `tagpool-${process.pid}`);
const DOMAINS = { untagged: `st-plain-${process.pid}`, tagged: `st-fast-${process.pid}` };
const mac = (i: number) => `52:54:00:5e:${(process.pid % 256).toString(16).padStart(2, '0')}:0${i}`;

interface Pool { id: string; name: string; scope: string; type: string; state: string; hostname?: string; tags?: string; disksizetotal: number; hypervisor: string }

async function job(command: string, params: Record<string, string>): Promise<{ status: number; text: string; result: Record<string, unknown> }> {
  const done = await z.t.run(command, params);
  const result = done['jobresult'] as Record<string, unknown>;
  return done['jobstatus'] === 1 ? { status: 200, text: '', result } : { status: Number(result['errorcode']), text: String(result['errortext']), result };
}

async function pools(params: Record<string, string> = {}): Promise<Pool[]> {
  return ((await z.t.ok('listStoragePools', params))['storagepool'] as Pool[] | undefined) ?? [];
}

function removeDomains(): void {
  onHost('host1', 'sh', '-c', Object.values(DOMAINS).map((n) => `virsh destroy ${n} >/dev/null 2>&1; virsh undefine ${n} >/dev/null 2>&1;`).join(' ') + ` virsh vol-delete --pool kiln ${DOMAINS.untagged}.qcow2 >/dev/null 2>&1; true`);
}

describe.skipIf(!hosts)('storage pools and storage tags on real KVM hosts', () => {
  z = kvmZoneWithDirPool(hosts!, { name: POOL, dir: POOL_DIR }, removeDomains);

  it("lists each host's libvirt pools: kiln on both hosts, the second pool on host1 only", async () => {
    const all = await pools({ clusterid: z.clusterid });
    const host1 = hosts!.hosts.find((h) => h.name === 'host1')!.address;
    const kiln = all.filter((p) => p.name === hosts!.poolName);
    expect(kiln).toHaveLength(2);
    for (const p of kiln) expect(p).toMatchObject({ scope: 'HOST', type: 'Filesystem', state: 'Up', hypervisor: 'KVM' });
    const tagged = all.filter((p) => p.name === POOL);
    expect(tagged).toHaveLength(1);
    expect(tagged[0]).toMatchObject({ scope: 'HOST', type: 'Filesystem', state: 'Up', hostname: host1 });
    expect(tagged[0]!.disksizetotal).toBeGreaterThan(0);
    expect((await pools({ hostid: z.hostIds['host2']! })).map((p) => p.name)).toEqual([hosts!.poolName]);
  });

  it('makes a tagged data disk in the pool with the tag, refuses it (533) on the host without one, and deletes it from that pool', async () => {
    const pool = (await pools({ name: POOL }))[0]!;
    expect(((await z.t.ok('updateStoragePool', { id: pool.id, tags: 'fast' }))['storagepool'] as Pool).tags).toBe('fast');
    const fast = ((await z.t.ok('createDiskOffering', { name: 'fast-1g', disksize: '1', tags: 'fast' }))['diskoffering'] as { id: string }).id;

    const vm1 = (await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host1']!, name: 'tag-vm1' })).result['virtualmachine'] as { id: string };
    const volume = (await job('createVolume', { zoneid: z.zoneid, diskofferingid: fast, name: 'fast-data' })).result['volume'] as { id: string };
    const attached = await job('attachVolume', { id: volume.id, virtualmachineid: vm1.id });
    expect(attached.status, attached.text).toBe(200);
    const file = path.join(POOL_DIR, `${volume.id}.qcow2`);
    expect(existsSync(file)).toBe(true);
    expect(existsSync(path.join(hosts!.storagePath, `${volume.id}.qcow2`))).toBe(false);
    expect(onHost('host1', 'virsh', 'vol-list', POOL)).toContain(`${volume.id}.qcow2`);
    const domain = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm1.id) as string;
    expect(onHost('host1', 'virsh', 'domblklist', domain)).toMatch(new RegExp(`vdb\\s+${file.replace(/[.]/g, '\\.')}`));
    expect((await pools({ name: POOL }))[0]).toMatchObject({ tags: 'fast' });

    // host2 reaches only its kiln pool, which has no tag.
    const vm2 = (await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host2']!, name: 'tag-vm2' })).result['virtualmachine'] as { id: string };
    const other = (await job('createVolume', { zoneid: z.zoneid, diskofferingid: fast, name: 'fast-other' })).result['volume'] as { id: string };
    const refused = await job('attachVolume', { id: other.id, virtualmachineid: vm2.id });
    expect(refused.status).toBe(533);
    expect(refused.text).toContain('volume fast-other needs storage tag fast (disk offering fast-1g)');
    expect(refused.text).toContain(`${hosts!.poolName} (no tags)`);
    expect(existsSync(path.join(hosts!.storagePath, `${other.id}.qcow2`))).toBe(false);
    expect(z.t.engine.db.prepare('SELECT state, vm_id, pool FROM volumes WHERE uuid=?').get(other.id)).toEqual({ state: 'Allocated', vm_id: null, pool: null });
    expect((await z.t.call('deleteVolume', { id: other.id })).status).toBe(200);

    // Detached (from the stopped VM: the test guest is not asked to let a disk go live) and deleted, the disk leaves the tagged pool.
    expect((await job('stopVirtualMachine', { id: vm1.id, forced: 'true' })).status).toBe(200);
    const detached = await job('detachVolume', { id: volume.id });
    expect(detached.status, detached.text).toBe(200);
    const deleted = await z.t.call('deleteVolume', { id: volume.id });
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    await z.t.engine.jobs.drain();
    expect(existsSync(file)).toBe(false);
  }, 240_000);

  it('R48 on import: a disk on a pool without the offering\'s storage tag is refused without migrateallowed; on the tagged pool it imports', async () => {
    const fastRoot = ((await z.t.ok('createServiceOffering', { name: 'kvm-tiny-fast', cpunumber: '1', cpuspeed: '100', memory: '128', tags: 'fast' }))['serviceoffering'] as { id: string }).id;
    const xmlDir = path.join(POOL_DIR, 'xml');
    mkdirSync(xmlDir, { recursive: true });
    onHost('host1', 'virsh', 'vol-create-as', hosts!.poolName, `${DOMAINS.untagged}.qcow2`, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
    onHost('host1', 'virsh', 'vol-create-as', POOL, `${DOMAINS.tagged}.qcow2`, '64M', '--format', 'qcow2');
    writeFileSync(path.join(xmlDir, 'plain.xml'), handMadeDomainXml(hosts!, DOMAINS.untagged, [`${hosts!.storagePath}/${DOMAINS.untagged}.qcow2`], [mac(1)]));
    writeFileSync(path.join(xmlDir, 'fast.xml'), handMadeDomainXml(hosts!, DOMAINS.tagged, [`${POOL_DIR}/${DOMAINS.tagged}.qcow2`], [mac(2)]));
    onHost('host1', 'virsh', 'define', path.join(xmlDir, 'plain.xml'));
    onHost('host1', 'virsh', 'define', path.join(xmlDir, 'fast.xml'));
    const params = (name: string) => ({ clusterid: z.clusterid, name, serviceofferingid: fastRoot, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network });

    const refused = await z.t.call('importUnmanagedInstance', params(DOMAINS.untagged));
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(new RegExp(`^serviceofferingid: service offering kvm-tiny-fast needs storage tag fast, which pool ${hosts!.poolName} holding disk \\S+ of VM ${DOMAINS.untagged} lacks; pass migrateallowed=true`));
    expect(z.t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances WHERE instance_name=?').pluck().get(DOMAINS.untagged)).toBe(0);

    const imported = await job('importUnmanagedInstance', params(DOMAINS.tagged));
    expect(imported.status, imported.text).toBe(200);
    // Its root volume is on the tagged pool's record (mapped from the disk's pool at the next read).
    await z.t.ok('listStoragePools');
    expect(z.t.engine.db.prepare(`SELECT p.name FROM volumes v JOIN vm_instances m ON m.id=v.vm_id JOIN storage_pools p ON p.id=v.pool_id WHERE m.instance_name=? AND v.volume_type='ROOT'`).pluck().get(DOMAINS.tagged)).toBe(POOL);
  }, 240_000);
});
