/**
 * KVM storage motion of a VM with two disks (issue 13, R48: "with migrateallowed the VM and its
 * volumes move to compatible hosts and pools, live if running"), on real hosts. Two dir pools of
 * the test's own besides the harness's shared `kiln`: A on host1, B on host2, both tagged; each is
 * defined on its one host only, so Kiln sees it as that host's local storage.
 *
 * A hand-made domain on host1 with a root disk (a qcow2 over the harness's template) and a data
 * disk (a qcow2 whose first bytes the host wrote), both in `kiln`, runs; the guest writes a marker
 * into its RAM and one onto each disk. It is imported with migrateallowed=true for a service
 * offering and a disk offering that both need A's tag, so the job moves both disks live into A
 * (one block copy each, switched over together): the same qemu runs on (same domain id, its RAM
 * marker still there), it reads both disks' markers, both disks are A's files in the live and the
 * persistent definition, the old files are gone from `kiln`, and both rows name A.
 * Then, stopped, both disks go cold to B on host2 with migrateVirtualMachineWithVolume (streamed
 * through Kiln, SHA-256 checked): the VM is defined on host2 only, both disks are B's files with
 * the guest's bytes, nothing is left in A, both rows name B, and the VM starts there and reads both
 * markers. Every domain, volume and pool is removed after. KILN_KVM_WORK selects the host set.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { defineDirPool, removeDirPool } from '../helpers/kvm-dir-pool.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';
import { ConsoleTap, WORK } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const [H1, H2] = [hosts?.hosts[0]?.address, hosts?.hosts[1]?.address];
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const POOLS = {
  a: { host: 'host1', name: `kiln-mda-${tag}`, dir: path.join(WORK, `mda-${tag}`) },
  b: { host: 'host2', name: `kiln-mdb-${tag}`, dir: path.join(WORK, `mdb-${tag}`) },
};
const NAME = `vm-2disk-${tag}`;
const DISKS = { root: `${NAME}-root.qcow2`, data: `${NAME}-data.qcow2` };
const MAC = `52:54:00:6c:${(process.pid % 256).toString(16).padStart(2, '0')}:01`;

async function job(command: string, params: Record<string, string>): Promise<{ status: number; text: string; result: Record<string, unknown> }> {
  const done = await z.t.run(command, params);
  const result = done['jobresult'] as Record<string, unknown>;
  return done['jobstatus'] === 1 ? { status: 200, text: '', result } : { status: Number(result['errorcode']), text: String(result['errortext']), result };
}

async function poolId(name: string): Promise<string> {
  const listed = ((await z.t.ok('listStoragePools', { name }))['storagepool'] as { id: string }[] | undefined) ?? [];
  expect(listed).toHaveLength(1);
  return listed[0]!.id;
}

/** The first guest bytes of a disk image, read on HOST (qemu-img follows any backing chain). */
function firstBytes(host: string, file: string, count = 10): string {
  return onHost(host, 'sh', '-c', 't=$(mktemp) && qemu-img dd -U -O raw bs=$2 count=1 if="$1" of="$t" && head -c $2 "$t"; r=$?; rm -f "$t"; exit $r', 'sh', file, String(count));
}

/** The volumes of pool POOL on HOST, refreshed. */
function volumesOf(host: string, pool: string): string {
  return onHost(host, 'sh', '-c', 'virsh pool-refresh "$1" >/dev/null && virsh vol-list "$1"', 'sh', pool);
}

function removeEverything(): void {
  for (const host of ['host1', 'host2']) {
    onHost(host, 'sh', '-c', `virsh destroy ${NAME} >/dev/null 2>&1; virsh undefine ${NAME} >/dev/null 2>&1; for v in ${Object.values(DISKS).join(' ')}; do virsh vol-delete --pool kiln $v >/dev/null 2>&1; done; true`);
  }
  for (const pool of Object.values(POOLS)) removeDirPool(pool.host, pool.name, pool.dir);
}

describe.skipIf(!hosts)('KVM: a VM with a root and a data disk moves both, live to another pool of its host and cold to another host\'s pool', () => {
  let vm: string;
  let tap: ConsoleTap | undefined;
  const virsh = (host: string, ...args: string[]) => onHost(host, 'virsh', ...args);
  const rows = () => z.t.engine.db.prepare(`SELECT v.volume_type AS type, v.pool, p.name AS record FROM volumes v JOIN vm_instances m ON m.id=v.vm_id LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE m.uuid=? AND v.removed IS NULL ORDER BY v.device_id`).all(vm);
  const where = () => z.t.engine.db.prepare(`SELECT m.state, h.name AS host, lh.name AS lasthost FROM vm_instances m LEFT JOIN hosts h ON h.id=m.host_id LEFT JOIN hosts lh ON lh.id=m.last_host_id WHERE m.uuid=?`).get(vm);
  const openConsole = async () => {
    tap?.close();
    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm));
    return tap;
  };
  /** Both disks' markers, as the guest reads them. */
  const readsBoth = async (marker: string) => {
    const console = await openConsole();
    await console.runPatiently('head -c 10 /dev/vda; echo; head -c 10 /dev/vdb; echo; echo read-$((6+6))', new RegExp(`KILNROOT${marker}\\nKILNDATA${marker}\\nread-12`), 120_000);
    return console;
  };

  beforeAll(async () => {
    for (const pool of Object.values(POOLS)) defineDirPool(pool.host, pool.name, pool.dir);
    virsh('host1', 'vol-create-as', hosts!.poolName, DISKS.root, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
    // The data disk's first bytes come from the host, before the guest ever runs.
    onHost('host1', 'sh', '-c', 't=$(mktemp) && printf KILNDATA00 > "$t" && truncate -s 32M "$t" && qemu-img convert -f raw -O qcow2 "$t" "$1" && rm -f "$t" && virsh pool-refresh "$2" >/dev/null', 'sh', path.join(hosts!.storagePath, DISKS.data), hosts!.poolName);
    const file = path.join(POOLS.a.dir, `${NAME}.xml`);
    writeFileSync(file, handMadeDomainXml(hosts!, NAME, [DISKS.root, DISKS.data].map((d) => path.join(hosts!.storagePath, d)), [MAC]));
    virsh('host1', 'define', file);
    rmSync(file);
    z = await kvmZone(hosts!, ['host1', 'host2']);
    // Both pools have the tag the offerings ask for (the rows' pools must keep satisfying them).
    for (const pool of Object.values(POOLS)) await z.t.ok('updateStoragePool', { id: await poolId(pool.name), tags: `two${tag}` });
  }, 180_000);

  afterAll(async () => {
    tap?.close();
    if (z) {
      await cleanUp(z.t);
      // Destroy keeps a data volume (detached, as CloudStack does): it goes by deleteVolume.
      for (const id of z.t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id IS NULL AND removed IS NULL`).pluck().all() as string[]) await z.t.call('deleteVolume', { id });
      await z.t.close();
    }
    removeEverything();
  }, 180_000);

  it('imported running with migrateallowed: both disks are copied live into pool A and switched over; the same guest reads both, nothing is left in kiln, both rows name A', async () => {
    expect(firstBytes('host1', path.join(hosts!.storagePath, DISKS.data))).toBe('KILNDATA00');
    virsh('host1', 'start', NAME);
    const id = virsh('host1', 'domid', NAME).trim();
    const offering = ((await z.t.ok('createServiceOffering', { name: `two-root-${tag}`, cpunumber: '1', cpuspeed: '100', memory: '128', tags: `two${tag}` }))['serviceoffering'] as { id: string }).id;
    const diskOffering = ((await z.t.ok('createDiskOffering', { name: `two-data-${tag}`, customized: 'true', tags: `two${tag}` }))['diskoffering'] as { id: string }).id;
    const imported = await job('importUnmanagedInstance', {
      clusterid: z.clusterid, name: NAME, serviceofferingid: offering, migrateallowed: 'true',
      'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network,
      'datadiskofferinglist[0].disk': 'vdb', 'datadiskofferinglist[0].diskOffering': diskOffering,
    });
    expect(imported.status, imported.text).toBe(200);
    vm = (imported.result['virtualmachine'] as { id: string }).id;
    expect(where()).toEqual({ state: 'Running', host: H1, lasthost: H1 });
    // The same qemu (a restart gives a new id), on both copies, live and in its definition.
    expect(virsh('host1', 'domid', NAME).trim()).toBe(id);
    const onA = Object.values(DISKS).map((d) => path.join(POOLS.a.dir, d));
    const blk = virsh('host1', 'domblklist', NAME);
    expect(blk).toMatch(new RegExp(`vda\\s+${onA[0]!.replace(/[.]/g, '\\.')}`));
    expect(blk).toMatch(new RegExp(`vdb\\s+${onA[1]!.replace(/[.]/g, '\\.')}`));
    const persistent = virsh('host1', 'dumpxml', '--inactive', NAME);
    for (const file of onA) expect(persistent).toContain(`file='${file}'`);
    for (const d of Object.values(DISKS)) expect(existsSync(path.join(hosts!.storagePath, d))).toBe(false);
    expect(volumesOf('host1', hosts!.poolName)).not.toContain(NAME);
    expect(rows()).toEqual([{ type: 'ROOT', pool: POOLS.a.name, record: POOLS.a.name }, { type: 'DATADISK', pool: POOLS.a.name, record: POOLS.a.name }]);
    // Self-contained copies: the template's bytes in the root one, the host's in the data one.
    expect(onHost('host1', 'qemu-img', 'info', '-U', onA[0]!)).not.toContain('backing file');
    expect(firstBytes('host1', onA[0]!, 16)).toBe('KILN-TEMPLATE-V1');
    expect(firstBytes('host1', onA[1]!)).toBe('KILNDATA00');

    // The guest, still in the same boot, reads the moved disks and writes its own markers on both.
    const console = await openConsole();
    await console.waitFor(/KILN-GUEST-READY/, 30_000).catch(() => undefined);
    await console.runPatiently('head -c 10 /dev/vdb; echo; echo KILNROOT01 > /dev/vda; echo KILNDATA01 > /dev/vdb; sync; echo wrote-$((4+5))', /KILNDATA00\nwrote-9/, 120_000);
    await readsBoth('01');
    expect(firstBytes('host1', onA[0]!)).toBe('KILNROOT01');
    expect(firstBytes('host1', onA[1]!)).toBe('KILNDATA01');
  }, 300_000);

  it('stopped, migrateVirtualMachineWithVolume takes both disks cold to pool B on host2, the VM with them: nothing is left in A, both rows name B, it starts there and reads both', async () => {
    tap?.close();
    expect((await job('stopVirtualMachine', { id: vm, forced: 'true' })).status).toBe(200);
    const [root, data] = ((await z.t.ok('listVolumes', { virtualmachineid: vm }))['volume'] as { id: string; type: string }[]).sort((x, y) => (x.type === 'ROOT' ? -1 : y.type === 'ROOT' ? 1 : 0));
    const b = await poolId(POOLS.b.name);
    const moved = await job('migrateVirtualMachineWithVolume', { virtualmachineid: vm, 'migrateto[0].volume': root!.id, 'migrateto[0].pool': b, 'migrateto[1].volume': data!.id, 'migrateto[1].pool': b });
    expect(moved.status, moved.text).toBe(200);
    expect(where()).toEqual({ state: 'Stopped', host: null, lasthost: H2 });
    expect(rows()).toEqual([{ type: 'ROOT', pool: POOLS.b.name, record: POOLS.b.name }, { type: 'DATADISK', pool: POOLS.b.name, record: POOLS.b.name }]);
    expect(virsh('host1', 'list', '--all', '--name')).not.toContain(NAME);
    const onB = Object.values(DISKS).map((d) => path.join(POOLS.b.dir, d));
    const persistent = virsh('host2', 'dumpxml', '--inactive', NAME);
    for (const file of onB) expect(persistent).toContain(`file='${file}'`);
    for (const d of Object.values(DISKS)) expect(existsSync(path.join(POOLS.a.dir, d))).toBe(false);
    expect(volumesOf('host1', POOLS.a.name)).not.toContain(NAME);
    expect(firstBytes('host2', onB[0]!)).toBe('KILNROOT01');
    expect(firstBytes('host2', onB[1]!)).toBe('KILNDATA01');

    const started = await job('startVirtualMachine', { id: vm });
    expect(started.status, started.text).toBe(200);
    expect(where()).toEqual({ state: 'Running', host: H2, lasthost: H2 });
    const blk = virsh('host2', 'domblklist', NAME);
    for (const file of onB) expect(blk).toContain(file);
    const console = await openConsole();
    await console.waitFor(/KILN-GUEST-READY/, 60_000).catch(() => undefined);
    await readsBoth('01');
  }, 400_000);
});
