/**
 * KVM storage motion of a running VM, and of a stopped one to another host (issue 13's R48 "live
 * if running", migrateVolume livemigrate=true, migrateVirtualMachineWithVolume), on real hosts.
 * Four pools of the test's own besides the harness's `kiln`: on host1 a dir pool (A) and a 2 MiB
 * tmpfs (tiny1), on host2 a dir pool (B) and a 2 MiB tmpfs (tiny2); each is defined on its one host
 * only, so Kiln sees it as that host's local storage. A tmpfs is mounted inside its host's libvirtd
 * mount namespace (the harness's hosts have private ones), so copying a disk that holds 6 MiB of
 * the guest's data into it fails part way with "No space left on device".
 *
 * One Kiln VM, whose guest wrote a marker to its disk and another one into its RAM (/tmp of the
 * busybox initramfs, which a reboot would lose), is moved:
 *  1. live to A on its host (block copy): it keeps running (its RAM marker still there, no second
 *     boot banner), its disk is A's file with the marker, the old file is gone, the DB's row names A;
 *  2. live to tiny1: the copy fails, the job says so, the guest keeps running on A's file, tiny1 holds nothing;
 *  3. live to host2 with its disk into tiny2 (migrateVirtualMachineWithVolume, copy-storage): the
 *     copy fills it, libvirt cancels the migration, the guest runs on on host1 and tiny2 holds nothing;
 *     into B: the same checks as in 1, on host2;
 *  4. stopped, to tiny1 (another host's pool: the disk streamed through Kiln) fails part way and
 *     leaves nothing there, the VM still on host2; to A it moves, the VM with it, and starts there.
 *  5. stopped, with migrateVirtualMachineWithVolume to B: the VM goes to host2 with it.
 * Every domain, volume, pool and mount is removed after. KILN_KVM_WORK selects the host set.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKvmZone, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { defineDirPool, removeDirPool } from '../helpers/kvm-dir-pool.js';
import { ConsoleTap, WORK } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
/** Kiln names the harness's hosts by their addresses. */
const [H1, H2] = [hosts?.hosts[0]?.address, hosts?.hosts[1]?.address];
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const POOLS = {
  a: { host: 'host1', name: `kiln-lsm-a-${tag}`, dir: path.join(WORK, `lsm-a-${tag}`), tmpfs: false },
  tiny1: { host: 'host1', name: `kiln-lsm-t1-${tag}`, dir: path.join(WORK, `lsm-t1-${tag}`), tmpfs: true },
  b: { host: 'host2', name: `kiln-lsm-b-${tag}`, dir: path.join(WORK, `lsm-b-${tag}`), tmpfs: false },
  tiny2: { host: 'host2', name: `kiln-lsm-t2-${tag}`, dir: path.join(WORK, `lsm-t2-${tag}`), tmpfs: true },
};
type PoolKey = keyof typeof POOLS;

/** Runs COMMAND in the mount namespace of HOST's libvirtd (where its qemus run too). */
function inLibvirtd(host: string, ...command: string[]): void {
  execFileSync('nsenter', ['-t', libvirtdPid(host), '-m', '--', ...command], { stdio: 'ignore' });
}

function libvirtdPid(host: string): string {
  return readFileSync(path.join(WORK, 'hosts', host, 'pids', 'libvirtd.pid'), 'utf8').trim();
}

function definePools(): void {
  for (const pool of Object.values(POOLS)) {
    mkdirSync(pool.dir, { recursive: true });
    if (pool.tmpfs) inLibvirtd(pool.host, 'mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', pool.dir);
    defineDirPool(pool.host, pool.name, pool.dir);
  }
}

function removePools(): void {
  for (const pool of Object.values(POOLS)) {
    for (const step of ['pool-destroy', 'pool-undefine']) {
      try {
        onHost(pool.host, 'virsh', step, pool.name);
      } catch {
        // not running / not defined
      }
    }
    if (pool.tmpfs) {
      try {
        inLibvirtd(pool.host, 'umount', pool.dir);
      } catch {
        // never mounted
      }
    }
    removeDirPool(pool.host, pool.name, pool.dir);
  }
}

/** What a tmpfs pool's directory holds, as its host's libvirtd sees it. */
function tmpfsListing(key: PoolKey): string {
  const pool = POOLS[key];
  return execFileSync('nsenter', ['-t', libvirtdPid(pool.host), '-m', '--', 'ls', '-A', pool.dir], { encoding: 'utf8' }).trim();
}

async function job(command: string, params: Record<string, string>): Promise<{ status: number; text: string; result: Record<string, unknown> }> {
  const done = await z.t.run(command, params);
  const result = done['jobresult'] as Record<string, unknown>;
  return done['jobstatus'] === 1 ? { status: 200, text: '', result } : { status: Number(result['errorcode']), text: String(result['errortext']), result };
}

async function poolId(key: PoolKey): Promise<string> {
  const listed = ((await z.t.ok('listStoragePools', { name: POOLS[key].name }))['storagepool'] as { id: string }[] | undefined) ?? [];
  expect(listed).toHaveLength(1);
  return listed[0]!.id;
}

/** The first guest bytes of a disk image, read on the host (qemu-img follows any backing chain). */
function firstBytes(host: string, file: string, count = 10): string {
  return onHost(host, 'sh', '-c', 't=$(mktemp) && qemu-img dd -U -O raw bs=$2 count=1 if="$1" of="$t" && head -c $2 "$t"; r=$?; rm -f "$t"; exit $r', 'sh', file, String(count));
}

describe.skipIf(!hosts)('KVM: a running VM\'s disk moves live (block copy; with the VM to another host), a stopped one\'s to another host\'s pool', () => {
  let vm: string;
  let root: string;
  let disk: string;
  let domain: string;
  let tap: ConsoleTap;

  const state = () => z.t.engine.db.prepare(`SELECT m.state, h.name AS host, lh.name AS lasthost, v.pool, p.name AS record FROM vm_instances m LEFT JOIN hosts h ON h.id=m.host_id LEFT JOIN hosts lh ON lh.id=m.last_host_id JOIN volumes v ON v.vm_id=m.id AND v.volume_type='ROOT' AND v.removed IS NULL LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE m.uuid=?`).get(vm);
  const openConsole = async () => {
    tap?.close();
    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm));
    return tap;
  };
  /** The guest still runs the boot it wrote its RAM marker in, and reads its disk marker. */
  const sameBoot = async () => {
    const console = await openConsole();
    await console.runPatiently('cat /tmp/boot-marker; head -c 10 /dev/vda; echo; echo checked-$((40+2))', /SAMEBOOT-77\nKILNLIVE01\nchecked-42/);
    expect(console.text).not.toMatch(/KILN-GUEST-READY/);
  };
  const blk = (host: string) => onHost(host, 'virsh', 'domblklist', domain);

  beforeAll(async () => {
    definePools();
    z = await kvmZone(hosts!, ['host1', 'host2']);
    const deployed = await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host1']!, name: `lsm-${tag}` });
    expect(deployed.status, deployed.text).toBe(200);
    vm = (deployed.result['virtualmachine'] as { id: string }).id;
    root = ((await z.t.ok('listVolumes', { virtualmachineid: vm, type: 'ROOT' }))['volume'] as { id: string }[])[0]!.id;
    disk = z.t.engine.db.prepare('SELECT path FROM volumes WHERE uuid=?').pluck().get(root) as string;
    domain = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm) as string;
    const console = await openConsole();
    await console.waitFor(/KILN-GUEST-READY/, 120_000);
    // 6 MiB of random data past the marker: more than a tiny pool holds.
    await console.runPatiently('echo SAMEBOOT-77 > /tmp/boot-marker; echo KILNLIVE01 > /dev/vda; dd if=/dev/urandom of=/dev/vda bs=1M count=6 seek=1 2>/dev/null; sync; echo wrote-$((3+4))', /wrote-7/, 120_000);
  }, 300_000);

  afterAll(async () => {
    tap?.close();
    await closeKvmZone(z);
    removePools();
  }, 300_000);

  it('migrateVolume livemigrate=true: the running guest\'s disk is copied to pool A of its host and switched over; it keeps running, the old file is gone, the row names A', async () => {
    const source = path.join(hosts!.storagePath, disk);
    const copy = path.join(POOLS.a.dir, disk);
    expect(blk('host1')).toContain(source);
    const refused = await z.t.call('migrateVolume', { volumeid: root, storageid: await poolId('a') });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toContain('is Running; stop it first, or pass livemigrate=true');

    const moved = await job('migrateVolume', { volumeid: root, storageid: await poolId('a'), livemigrate: 'true' });
    expect(moved.status, moved.text).toBe(200);
    expect((moved.result['volume'] as { storage: string }).storage).toBe(POOLS.a.name);
    expect(state()).toEqual({ state: 'Running', host: H1, lasthost: H1, pool: POOLS.a.name, record: POOLS.a.name });
    expect(onHost('host1', 'virsh', 'domstate', domain).trim()).toBe('running');
    expect(blk('host1')).toContain(copy);
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', domain)).toContain(`file='${copy}'`);
    expect(existsSync(source)).toBe(false);
    expect(onHost('host1', 'qemu-img', 'info', '-U', copy)).not.toContain('backing file');
    expect(firstBytes('host1', copy)).toBe('KILNLIVE01');
    await sameBoot();
  }, 300_000);

  it('a live copy that fails part way (tiny1 fills up) is aborted: the guest runs on in pool A, nothing is left in tiny1, the row is unchanged', async () => {
    const failed = await job('migrateVolume', { volumeid: root, storageid: await poolId('tiny1'), livemigrate: 'true' });
    expect(failed.status).toBe(530);
    expect(failed.text).toContain(`cannot copy the disks of running domain ${domain}`);
    expect(failed.text).toContain('it keeps running on its old disks');
    expect(onHost('host1', 'virsh', 'domstate', domain).trim()).toBe('running');
    expect(blk('host1')).toContain(path.join(POOLS.a.dir, disk));
    expect(onHost('host1', 'virsh', 'blockjob', '--domain', domain, '--path', 'vda', '--info')).toMatch(/No current block job/i);
    expect(tmpfsListing('tiny1')).toBe('');
    expect(onHost('host1', 'virsh', 'vol-list', POOLS.tiny1.name)).not.toContain(disk);
    expect(state()).toEqual({ state: 'Running', host: H1, lasthost: H1, pool: POOLS.a.name, record: POOLS.a.name });
    await sameBoot();
  }, 300_000);

  it('migrateVirtualMachineWithVolume into host2\'s tmpfs: the copy fails part way, the guest runs on on host1 from pool A, nothing is left on host2', async () => {
    const failed = await job('migrateVirtualMachineWithVolume', { virtualmachineid: vm, hostid: z.hostIds['host2']!, 'migrateto[0].volume': root, 'migrateto[0].pool': POOLS.tiny2.name });
    // A full pool is a capacity error.
    expect(failed.status).toBe(533);
    expect(failed.text).toContain('migration of disk vda failed: No space left on device');
    expect(onHost('host1', 'virsh', 'domstate', domain).trim()).toBe('running');
    expect(blk('host1')).toContain(path.join(POOLS.a.dir, disk));
    expect(onHost('host2', 'virsh', 'list', '--all', '--name')).not.toContain(domain);
    expect(tmpfsListing('tiny2')).toBe('');
    expect(state()).toEqual({ state: 'Running', host: H1, lasthost: H1, pool: POOLS.a.name, record: POOLS.a.name });
    await sameBoot();
  }, 300_000);

  it('migrateVirtualMachineWithVolume: the running VM goes live to host2 with its disk copied into host2\'s pool B', async () => {
    const source = path.join(POOLS.a.dir, disk);
    const copy = path.join(POOLS.b.dir, disk);
    const moved = await job('migrateVirtualMachineWithVolume', { virtualmachineid: vm, hostid: z.hostIds['host2']!, 'migrateto[0].volume': root, 'migrateto[0].pool': POOLS.b.name });
    expect(moved.status, moved.text).toBe(200);
    expect((moved.result['virtualmachine'] as { hostname: string }).hostname).toBe(H2);
    expect(state()).toEqual({ state: 'Running', host: H2, lasthost: H2, pool: POOLS.b.name, record: POOLS.b.name });
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(domain);
    expect(onHost('host2', 'virsh', 'domstate', domain).trim()).toBe('running');
    expect(blk('host2')).toContain(copy);
    expect(onHost('host2', 'virsh', 'dumpxml', '--inactive', domain)).toContain(`file='${copy}'`);
    expect(existsSync(source)).toBe(false);
    expect(firstBytes('host2', copy)).toBe('KILNLIVE01');
    await sameBoot();
  }, 300_000);

  it('stopped: a copy to another host\'s pool that fails part way leaves nothing there; to host1\'s pool A the disk is streamed over and the VM goes with it, and starts there', async () => {
    tap.close();
    expect((await job('stopVirtualMachine', { id: vm, forced: 'true' })).status).toBe(200);
    const onB = path.join(POOLS.b.dir, disk);

    const options = ((await z.t.ok('findStoragePoolsForMigration', { id: root }))['storagepool'] as { name: string; suitableformigration: boolean }[]);
    expect(options.find((p) => p.name === POOLS.a.name)?.suitableformigration).toBe(true);

    const failed = await job('migrateVolume', { volumeid: root, storageid: await poolId('tiny1') });
    // A full pool is a capacity error.
    expect(failed.status).toBe(533);
    expect(failed.text).toContain(`cannot copy disk ${disk} of ${domain} to pool ${POOLS.tiny1.name} of host`);
    expect(failed.text).toMatch(/No space left on device/);
    expect(tmpfsListing('tiny1')).toBe('');
    expect(onHost('host2', 'virsh', 'domstate', domain).trim()).toBe('shut off');
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(domain);
    expect(existsSync(onB)).toBe(true);
    expect(state()).toEqual({ state: 'Stopped', host: null, lasthost: H2, pool: POOLS.b.name, record: POOLS.b.name });

    // The serial log of its runs on host2 goes with the move, as after any migration.
    const serialLog = path.join(WORK, 'hosts', 'host2', 'log', 'qemu', `${domain}-serial.log`);
    expect(existsSync(serialLog)).toBe(true);
    const moved = await job('migrateVolume', { volumeid: root, storageid: await poolId('a') });
    expect(moved.status, moved.text).toBe(200);
    expect(existsSync(serialLog)).toBe(false);
    const onA = path.join(POOLS.a.dir, disk);
    expect(state()).toEqual({ state: 'Stopped', host: null, lasthost: H1, pool: POOLS.a.name, record: POOLS.a.name });
    expect(onHost('host2', 'virsh', 'list', '--all', '--name')).not.toContain(domain);
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', domain)).toContain(`file='${onA}'`);
    expect(existsSync(onB)).toBe(false);
    expect(firstBytes('host1', onA)).toBe('KILNLIVE01');

    const started = await job('startVirtualMachine', { id: vm });
    expect(started.status, started.text).toBe(200);
    expect(state()).toMatchObject({ state: 'Running', host: H1, pool: POOLS.a.name });
    expect(blk('host1')).toContain(onA);
    const console = await openConsole();
    // Its shell first (typing into a guest still booting waits out runPatiently's first half).
    await console.waitFor(/KILN-GUEST-READY/, 30_000).catch(() => undefined);
    await console.runPatiently('head -c 10 /dev/vda; echo; echo read-$((5+5))', /KILNLIVE01\nread-10/, 120_000);
  }, 400_000);

  it('stopped: migrateVirtualMachineWithVolume takes the VM to the host of the named local pool (B on host2)', async () => {
    tap.close();
    expect((await job('stopVirtualMachine', { id: vm, forced: 'true' })).status).toBe(200);
    const moved = await job('migrateVirtualMachineWithVolume', { virtualmachineid: vm, 'migrateto[0].volume': root, 'migrateto[0].pool': await poolId('b') });
    expect(moved.status, moved.text).toBe(200);
    const onB = path.join(POOLS.b.dir, disk);
    expect(state()).toEqual({ state: 'Stopped', host: null, lasthost: H2, pool: POOLS.b.name, record: POOLS.b.name });
    expect(onHost('host2', 'virsh', 'dumpxml', '--inactive', domain)).toContain(`file='${onB}'`);
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(domain);
    expect(existsSync(path.join(POOLS.a.dir, disk))).toBe(false);
    expect(firstBytes('host2', onB)).toBe('KILNLIVE01');
  }, 300_000);
});
