/**
 * Kiln's engine on real KVM hosts (libvirt + qemu behind sshd, test/kvm-hosts): everything a
 * user does through the API must happen on the hypervisor.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap, currentFingerprint } from '../kvm/real-hosts.js';
import { dbFingerprint, testEngine } from '../helpers/engine.js';
import { KvmDriver } from '../../drivers/kvm/index.js';
import { cleanUp, harness, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;

async function deploy(params: Record<string, string> = {}) {
  const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, ...params });
  if (job['jobstatus'] !== 1) throw new Error(JSON.stringify(job['jobresult']));
  return (job['jobresult'] as { virtualmachine: Record<string, string> }).virtualmachine;
}

function row(id: string) {
  return z.t.engine.db.prepare('SELECT v.internal_name, v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { internal_name: string; state: string; host: string | null };
}

async function consoleOf(id: string): Promise<ConsoleTap> {
  return new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, id));
}

describe.skipIf(!hosts)('the engine on real KVM hosts', () => {
  beforeAll(async () => {
    // The pool is shared (one directory on every host), so HA and headroom may restart a VM on the other host.
    z = await kvmZone(hosts!, undefined, undefined, { sharedPool: true });
  });
  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
  }, 300_000);

  it('adds hosts by trust on first use, with capacity from the host', async () => {
    const listed = (await z.t.call('listHosts', { zoneid: z.zoneid })).body['host'] as { name: string; state: string; hostkeyfingerprint: string; memorytotal: number; memorywithoverprovisioning: string; cpunumber: number }[];
    expect(listed.map((h) => h.state)).toEqual(['Up', 'Up']);
    for (const h of listed) {
      expect(h.hostkeyfingerprint).toMatch(/^SHA256:/);
      expect(h.cpunumber).toBeGreaterThan(0);
      expect(h.memorytotal).toBeGreaterThan(0);
      // The cluster's mem.overprovisioning.factor is 1 here: the capacity after it is the host's own.
      expect(Number(h.memorywithoverprovisioning)).toBe(h.memorytotal);
    }
  });

  it('shows a host key before trusting it, and refuses a host whose key is not the one confirmed', async () => {
    const h1 = hosts!.hosts[0]!;
    const probe = await z.t.call('probeHostKey', { url: `ssh://${h1.address}:${h1.port}` });
    expect(probe.body['hostkey']).toMatchObject({ fingerprint: currentFingerprint(h1) });
    // A second Kiln (its own database) adding host1 must see exactly the key its admin confirmed.
    const other = await testEngine({ drivers: [new KvmDriver()] });
    try {
      const zone = ((await other.call('createZone', { name: 'Z' })).body['zone'] as { id: string }).id;
      const pod = ((await other.call('createPod', { name: 'P', zoneid: zone })).body['pod'] as { id: string }).id;
      const cluster = ((await other.call('addCluster', { clustername: 'C', zoneid: zone, podid: pod, hypervisor: 'KVM' })).body['cluster'] as { id: string }).id;
      const add = (fingerprint: string) => other.call('addHost', {
        zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${h1.address}:${h1.port}`, username: h1.username,
        privatekey: readFileSync(h1.privateKeyPath, 'utf8'), hostkeyfingerprint: fingerprint,
      });
      const wrong = await add('SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      expect(wrong.status).toBe(534);
      expect(String(wrong.body['errortext'])).toMatch(/host key/i);
      expect(other.engine.db.prepare(`SELECT COUNT(*) AS n FROM hosts WHERE hypervisor='KVM'`).get()).toEqual({ n: 0 });
      const right = await add(currentFingerprint(h1));
      expect(right.body['host']).toMatchObject({ state: 'Up', hostkeyfingerprint: currentFingerprint(h1) });
    } finally {
      await other.close();
    }
  });

  it('deploys until Running, shows the domain in virsh list, and gives a console with the banner and echo', async () => {
    const vm = await deploy({ name: 'kvm-first' });
    expect(vm['state']).toBe('Running');
    const { internal_name, host } = row(vm['id']!);
    expect(internal_name).toMatch(/^i-\d+-\d+-T[0-9a-z]+$/);
    expect(onHost(host!, 'virsh', 'list', '--name')).toContain(internal_name);
    const tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('echo typed-$((6*7))', /typed-42/);
    tap.close();
  });

  it('stops gracefully on ACPI, and forces a guest that ignores ACPI after vm.stop.timeout', async () => {
    const vm = await deploy({ name: 'kvm-acpi' });
    const tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    const stopped = await z.t.run('stopVirtualMachine', { id: vm['id']! });
    expect(stopped['jobresult']).toMatchObject({ virtualmachine: { state: 'Stopped' } });
    await tap.waitFor(/KILN-GUEST-POWEROFF/);
    tap.close();
    const { internal_name } = row(vm['id']!);
    const host = (z.t.engine.db.prepare('SELECT h.name FROM vm_instances v JOIN hosts h ON h.id=v.last_host_id WHERE v.uuid=?').get(vm['id']) as { name: string }).name;
    expect(onHost(host, 'virsh', 'domstate', internal_name)).toMatch(/shut off/);

    await z.t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '4' });
    const deaf = await deploy({ name: 'kvm-deaf', templateid: z.noAcpiTemplateid });
    const deafTap = await consoleOf(deaf['id']!);
    await deafTap.waitFor(/KILN-GUEST-READY/);
    const forced = await z.t.run('stopVirtualMachine', { id: deaf['id']! });
    expect(forced['jobresult']).toMatchObject({ virtualmachine: { state: 'Stopped' } });
    expect(deafTap.text).not.toMatch(/KILN-GUEST-POWEROFF/);
    deafTap.close();
    await z.t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '20' });
  });

  it('reboots, and destroy with expunge removes the domain and its disk from the host', async () => {
    const vm = await deploy({ name: 'kvm-reboot' });
    const tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    const mark = tap.mark();
    expect((await z.t.run('rebootVirtualMachine', { id: vm['id']! }))['jobresult']).toMatchObject({ virtualmachine: { state: 'Running' } });
    await tap.waitFor(/KILN-GUEST-READY/, 60_000, mark);
    tap.close();
    const { internal_name, host } = row(vm['id']!);
    const disk = (z.t.engine.db.prepare(`SELECT path FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND volume_type='ROOT'`).get(vm['id']) as { path: string }).path;
    expect(existsSync(`${hosts!.storagePath}/${disk}`)).toBe(true);
    expect((await z.t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobresult']).toEqual({ success: true });
    expect(onHost(host!, 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
    expect(existsSync(`${hosts!.storagePath}/${disk}`)).toBe(false);
  });

  it('starts a stopped VM on the host an admin names, and undefines the copy on its old host (R10)', async () => {
    const vm = await deploy({ name: 'kvm-r10', hostid: z.hostIds['host1']! });
    const { internal_name } = row(vm['id']!);
    await z.t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).toContain(internal_name);
    const started = await z.t.run('startVirtualMachine', { id: vm['id']!, hostid: z.hostIds['host2']! });
    expect(started['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostid: z.hostIds['host2'] } });
    expect(onHost('host2', 'virsh', 'list', '--name')).toContain(internal_name);
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
  });

  it('rebuilds the domain from the database on start but not on reboot (R9)', async () => {
    const vm = await deploy({ name: 'kvm-r9' });
    // The definition libvirt holds (--inactive): what Kiln defined. The busybox guest has no balloon
    // driver, so the live figure stays at the maximum whatever the definition says.
    const dominfo = () => { const { internal_name, host } = row(vm['id']!); return onHost(host!, 'virsh', 'dumpxml', '--inactive', internal_name); };
    expect(dominfo()).toMatch(/<currentMemory unit='KiB'>131072</);
    await z.t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    const bigger = ((await z.t.call('createServiceOffering', { name: 'kvm-192', cpunumber: '1', cpuspeed: '100', memory: '192' })).body['serviceoffering'] as { id: string }).id;
    expect((await z.t.call('changeServiceForVirtualMachine', { id: vm['id']!, serviceofferingid: bigger })).status).toBe(200);
    await z.t.run('startVirtualMachine', { id: vm['id']! });
    expect(dominfo()).toMatch(/<currentMemory unit='KiB'>196608</);
    z.t.engine.db.prepare('UPDATE vm_instances SET memory=256 WHERE uuid=?').run(vm['id']);
    await z.t.run('rebootVirtualMachine', { id: vm['id']! });
    expect(dominfo()).toMatch(/<currentMemory unit='KiB'>196608</);
    z.t.engine.db.prepare('UPDATE vm_instances SET memory=192 WHERE uuid=?').run(vm['id']);
  });

  it('gives a fresh root disk on every reboot with a volatile offering (R19)', async () => {
    const volatile = ((await z.t.call('createServiceOffering', { name: 'kvm-volatile', cpunumber: '1', cpuspeed: '100', memory: '128', isvolatile: 'true' })).body['serviceoffering'] as { id: string }).id;
    const vm = await deploy({ name: 'kvm-volatile', serviceofferingid: volatile });
    let tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    // The root disk is raw to the busybox guest: write a marker at its start and read it back.
    await tap.run('echo KILNMARK42 > /dev/vda; sync; head -c 10 /dev/vda | grep -c KILNMARK42', /^1$/m);
    tap.close();
    await z.t.run('rebootVirtualMachine', { id: vm['id']! });
    tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('head -c 10 /dev/vda | grep -c KILNMARK42; echo done-$((1+1))', /^0\ndone-2$/m);
    tap.close();
  });

  it('scales vCPUs and memory up live (R16)', async () => {
    await z.t.call('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: z.zoneid });
    const vm = await deploy({ name: 'kvm-scale' });
    const larger = ((await z.t.call('createServiceOffering', { name: 'kvm-2x256', cpunumber: '2', cpuspeed: '100', memory: '256' })).body['serviceoffering'] as { id: string }).id;
    const job = await z.t.run('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: larger });
    expect(job['jobresult']).toMatchObject({ virtualmachine: { cpunumber: 2, memory: 256, state: 'Running' } });
    const { internal_name, host } = row(vm['id']!);
    expect(onHost(host!, 'virsh', 'dominfo', internal_name)).toMatch(/CPU\(s\):\s+2/);
    expect(onHost(host!, 'virsh', 'dumpxml', '--inactive', internal_name)).toMatch(/<currentMemory unit='KiB'>262144</);
  });

  it('scales a running VM whose host is full by first migrating it live to a host in the cluster that has room (R17)', async () => {
    await z.t.call('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: z.zoneid });
    const used = (host: string) => (z.t.engine.db.prepare('SELECT u.memory FROM host_usage u JOIN hosts h ON h.id=u.host_id WHERE h.uuid=?').pluck().get(z.hostIds[host]) as number | undefined) ?? 0;
    const vm = await deploy({ name: 'kvm-r17', hostid: z.hostIds['host1']! });
    // A real filler VM on host1 so that host1 holds at least 384 MB more than host2.
    const fillerMemory = Math.max(128, used('host2') - used('host1') + 384);
    const fillerOffering = ((await z.t.call('createServiceOffering', { name: 'kvm-filler', cpunumber: '1', cpuspeed: '100', memory: String(fillerMemory) })).body['serviceoffering'] as { id: string }).id;
    const filler = await deploy({ name: 'kvm-filler', hostid: z.hostIds['host1']!, serviceofferingid: fillerOffering });
    // Shrink the cluster's memory capacity (mem.overprovisioning.factor) so host2 has 384 MB free and host1 cannot grow the VM by 128 MB.
    // (256 MB is as far as the tiny offering's VM can grow live: twice what it booted with.)
    const total = z.t.engine.db.prepare('SELECT memory_total FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host1']) as number;
    const capacity = used('host2') + 384;
    expect(used('host1') - 128 + 256).toBeGreaterThan(capacity);
    await z.t.call('updateConfiguration', { name: 'mem.overprovisioning.factor', value: ((capacity + 0.5) / total).toFixed(8), clusterid: z.clusterid });
    try {
      const larger = ((await z.t.call('createServiceOffering', { name: 'kvm-1x256', cpunumber: '1', cpuspeed: '100', memory: '256' })).body['serviceoffering'] as { id: string }).id;
      const job = await z.t.run('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: larger });
      expect(job['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', memory: 256, hostid: z.hostIds['host2'] } });
      const { internal_name } = row(vm['id']!);
      expect(onHost('host2', 'virsh', 'list', '--name')).toContain(internal_name);
      expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
      expect(onHost('host2', 'virsh', 'dumpxml', '--inactive', internal_name)).toMatch(/<currentMemory unit='KiB'>262144</);
    } finally {
      await z.t.call('updateConfiguration', { name: 'mem.overprovisioning.factor', value: '1', clusterid: z.clusterid });
      // Forced first: a guest still booting misses the ACPI button, and the graceful stop would wait out vm.stop.timeout.
      await z.t.run('stopVirtualMachine', { id: filler['id']!, forced: 'true' });
      await z.t.run('destroyVirtualMachine', { id: filler['id']!, expunge: 'true' });
    }
  });

  it('destroy with volumeids deletes that data disk on the host at once; the sweeper expunges the rest after expunge.delay (R11)', async () => {
    const small = z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Small'`).pluck().get() as string;
    const vm = await deploy({ name: 'kvm-datadisk', diskofferingid: small });
    const { host } = row(vm['id']!);
    const harnessHost = host === hosts!.hosts[0]!.address ? 'host1' : 'host2';
    const volumes = (await z.t.call('listVolumes', { virtualmachineid: vm['id']! })).body['volume'] as { id: string; type: string; path: string }[];
    const [root, data] = [volumes.find((v) => v.type === 'ROOT')!, volumes.find((v) => v.type === 'DATADISK')!];
    const pool = () => onHost(harnessHost, 'virsh', 'vol-list', '--pool', hosts!.poolName);
    expect(pool()).toContain(root.path);
    expect(pool()).toContain(data.path);
    await z.t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    await z.t.run('destroyVirtualMachine', { id: vm['id']!, volumeids: data.id });
    onHost(harnessHost, 'virsh', 'pool-refresh', hosts!.poolName);
    expect(pool()).not.toContain(data.path);
    expect(pool()).toContain(root.path);
    await z.t.call('updateConfiguration', { name: 'expunge.delay', value: '0' });
    try {
      expect(await z.t.engine.vms.sweepExpunge()).toBeGreaterThanOrEqual(1);
    } finally {
      await z.t.call('updateConfiguration', { name: 'expunge.delay', value: '86400' });
    }
    expect(z.t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(vm['id'])).toBe('Expunged');
    onHost(harnessHost, 'virsh', 'pool-refresh', hosts!.poolName);
    expect(pool()).not.toContain(root.path);
  });

  it('migrates live between hosts: the domain runs on B and is gone from A (R20)', async () => {
    const vm = await deploy({ name: 'kvm-migrate', hostid: z.hostIds['host1']! });
    const { internal_name } = row(vm['id']!);
    const job = await z.t.run('migrateVirtualMachine', { virtualmachineid: vm['id']!, hostid: z.hostIds['host2']! });
    expect(job['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostid: z.hostIds['host2'] } });
    expect(onHost('host2', 'virsh', 'list', '--name')).toContain(internal_name);
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
    // Back with its volume named on the pool kiln, the harness's shared directory: host1 sees the disk's file
    // already, so nothing is copied (kvm-live-storage-motion.real moves one between pools).
    const root = (z.t.engine.db.prepare(`SELECT uuid FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND volume_type='ROOT'`).get(vm['id']) as { uuid: string }).uuid;
    const file = z.t.engine.db.prepare('SELECT path FROM volumes WHERE uuid=?').pluck().get(root) as string;
    const back = await z.t.run('migrateVirtualMachineWithVolume', { virtualmachineid: vm['id']!, hostid: z.hostIds['host1']!, 'migrateto[0].volume': root, 'migrateto[0].pool': hosts!.poolName });
    expect(back['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostid: z.hostIds['host1'] } });
    expect(onHost('host1', 'virsh', 'domblklist', internal_name)).toContain(`${hosts!.storagePath}/${file}`);
    expect(onHost('host2', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
    // The zone declares the pool shared (kvmZone sharedPool), so the row names the cluster's pool, on no one host.
    expect(z.t.engine.db.prepare('SELECT p.name, p.scope, p.host_id AS host FROM volumes v JOIN storage_pools p ON p.id=v.pool_id WHERE v.uuid=?').get(root)).toEqual({ name: hosts!.poolName, scope: 'CLUSTER', host: null });
  });

  it('recreates the root disk from the template on restore (R29)', async () => {
    const vm = await deploy({ name: 'kvm-restore' });
    let tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('echo KILNMARK77 > /dev/vda; sync; head -c 10 /dev/vda | grep -c KILNMARK77', /^1$/m);
    tap.close();
    const restored = await z.t.run('restoreVirtualMachine', { virtualmachineid: vm['id']! });
    expect(restored['jobresult']).toMatchObject({ virtualmachine: { state: 'Running' } });
    tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('head -c 10 /dev/vda | grep -c KILNMARK77; echo done-$((2+2))', /^0\ndone-4$/m);
    tap.close();
  });

  it('takes VM snapshots with memory, takes them along on a live migration, reverts to one there (later guest state gone), refuses what KVM cannot do, and deletes them with the VM (R32–R36)', async () => {
    const vm = await deploy({ name: 'kvm-snap', hostid: z.hostIds['host1']! });
    const { internal_name } = row(vm['id']!);
    let tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('echo state-A > /tmp/marker; echo WROTE-A', /^WROTE-A$/m);
    const a = await z.t.run('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'A', snapshotmemory: 'true' });
    expect(a['jobresult']).toMatchObject({ vmsnapshot: { displayname: 'A', type: 'DiskAndMemory', current: true, state: 'Ready' } });
    const aId = (a['jobresult'] as { vmsnapshot: { id: string; name: string } }).vmsnapshot;
    await tap.run('echo state-B > /tmp/marker; echo WROTE-B', /^WROTE-B$/m);
    const b = await z.t.run('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'B', snapshotmemory: 'true' });
    expect(b['jobresult']).toMatchObject({ vmsnapshot: { parent: aId.id, current: true } });
    expect(onHost('host1', 'virsh', 'snapshot-list', '--domain', internal_name, '--name')).toContain(aId.name);

    // KVM cannot take a disk-only snapshot of a running VM.
    const before = dbFingerprint(z.t.engine);
    const diskOnly = await z.t.call('createVMSnapshot', { virtualmachineid: vm['id']! });
    expect(diskOnly.status).toBe(431);
    expect(String(diskOnly.body['errortext'])).toMatch(/^snapshotmemory: KVM takes a disk-only snapshot only of a stopped VM/);
    expect(dbFingerprint(z.t.engine)).toBe(before);
    // The snapshots go with a live migration (libvirt will not carry their records; Kiln moves them).
    const migrate = await z.t.run('migrateVirtualMachine', { virtualmachineid: vm['id']!, hostid: z.hostIds['host2']! });
    expect(migrate['jobstatus']).toBe(1);
    expect(onHost('host2', 'virsh', 'snapshot-list', '--domain', internal_name, '--name')).toContain(aId.name);
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);

    const reverted = await z.t.run('revertToVMSnapshot', { vmsnapshotid: aId.id });
    expect(reverted['jobresult']).toMatchObject({ virtualmachine: { state: 'Running' } });
    tap.close();
    tap = await consoleOf(vm['id']!);
    await tap.runPatiently('cat /tmp/marker', /^state-A$/m);
    tap.close();
    expect(onHost('host2', 'virsh', 'snapshot-current', '--domain', internal_name, '--name').trim()).toBe(aId.name);

    // A stopped VM takes a disk-only snapshot, a child of the current one, and reverts to it staying stopped.
    await z.t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    const c = await z.t.run('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'C' });
    expect(c['jobresult']).toMatchObject({ vmsnapshot: { type: 'Disk', parent: aId.id, current: true } });
    const back = await z.t.run('revertToVMSnapshot', { vmsnapshotid: (c['jobresult'] as { vmsnapshot: { id: string } }).vmsnapshot.id });
    expect(back['jobresult']).toMatchObject({ virtualmachine: { state: 'Stopped' } });
    expect(onHost('host2', 'virsh', 'domstate', internal_name).trim()).toBe('shut off');

    // Started on another host, the VM takes its snapshots' records along; the old copy goes.
    await z.t.run('startVirtualMachine', { id: vm['id']!, hostid: z.hostIds['host1']! });
    expect(onHost('host1', 'virsh', 'snapshot-list', '--domain', internal_name, '--name')).toContain(aId.name);
    expect(onHost('host2', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);

    await z.t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    await z.t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    expect((await z.t.call('listVMSnapshot', { virtualmachineid: vm['id']! })).body['vmSnapshot']).toBeUndefined();
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
  });

  it('keeps an anti-affinity pair on two hosts, refuses a third with 533 and the reasons, and refuses a breaking migration', async () => {
    await z.t.run('createAffinityGroup', { name: 'kvm-spread', type: 'host anti-affinity' });
    const a = await deploy({ name: 'kvm-aa-1', affinitygroupnames: 'kvm-spread' });
    const b = await deploy({ name: 'kvm-aa-2', affinitygroupnames: 'kvm-spread' });
    expect(row(a['id']!).host).not.toBe(row(b['id']!).host);
    const third = await z.t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-aa-3', affinitygroupnames: 'kvm-spread' });
    expect(third.status).toBe(533);
    expect(String(third.body['errortext'])).toMatch(/anti-affinity \(kvm-spread\): VM kvm-aa-\d already on this host/);
    const bHost = Object.entries(z.hostIds).find(([name]) => onHost(name, 'virsh', 'list', '--name').includes(row(b['id']!).internal_name))![1];
    const refused = await z.t.call('migrateVirtualMachine', { virtualmachineid: a['id']!, hostid: bHost });
    expect(refused.status).toBe(533);
  });

  it('never passes hostile names to a shell', async () => {
    rmSync('/tmp/kiln-pwned', { force: true });
    const os = (z.t.engine.db.prepare(`SELECT uuid FROM guest_os LIMIT 1`).get() as { uuid: string }).uuid;
    const hostile = await z.t.call('registerTemplate', {
      name: "tpl $(touch /tmp/kiln-pwned) `touch /tmp/kiln-pwned`; touch /tmp/kiln-pwned", format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts!.templateImage, zoneid: z.zoneid, size: String(64 * 1024 * 1024),
      'details[0].kernel': hosts!.kernel, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    });
    const templateid = (hostile.body['template'] as { id: string }[])[0]!.id;
    const vm = await deploy({ templateid, displayname: `x$(touch /tmp/kiln-pwned)';"` });
    expect(vm['state']).toBe('Running');
    const { internal_name, host } = row(vm['id']!);
    expect(onHost(host!, 'virsh', 'dumpxml', internal_name)).toContain('x$(touch /tmp/kiln-pwned)&apos;;&quot;');
    expect(existsSync('/tmp/kiln-pwned')).toBe(false);
    expect(onHost(host!, 'sh', '-c', 'test -e /tmp/kiln-pwned && echo PWNED || echo clean')).toContain('clean');
  });

  describe('HA (R13)', () => {
    beforeAll(async () => {
      await z.t.call('updateConfiguration', { name: 'ha.monitor.interval', value: '2' });
      z.t.engine.background.ha.start();
    });
    afterAll(() => z.t.engine.background.ha.stop());

    async function until(what: string, check: () => boolean, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) {
          const recent = z.t.engine.db.prepare('SELECT type, level, description FROM events ORDER BY id DESC LIMIT 12').all();
          const jobs = z.t.engine.db.prepare('SELECT cmd, status, result FROM async_jobs ORDER BY id DESC LIMIT 3').all();
          throw new Error(`timed out waiting for ${what}; recent events ${JSON.stringify(recent)}; jobs ${JSON.stringify(jobs)}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      await z.t.engine.jobs.drain();
    }
    const haRestarts = (id: string) => (z.t.engine.db.prepare(`SELECT COUNT(*) AS n FROM events WHERE type='HA.RESTART' AND resource_uuid=?`).get(id) as { n: number }).n;
    const runningOn = (name: string, internal: string) => onHost(name, 'virsh', 'list', '--name').split('\n').includes(internal);

    it('restarts a VM whose qemu was killed, and one the guest powered off', { timeout: 240_000 }, async () => {
      const vm = await deploy({ name: 'kvm-ha' });
      const { internal_name, host } = row(vm['id']!);
      harness('kill-qemu', host!, internal_name);
      await until('HA restart after the crash', () => haRestarts(vm['id']!) === 1 && row(vm['id']!).state === 'Running');
      expect(runningOn(row(vm['id']!).host!, internal_name)).toBe(true);
      const tap = await consoleOf(vm['id']!);
      await tap.waitFor(/KILN-GUEST-READY/);
      tap.type('poweroff -f');
      await until('HA restart after the guest shut down', () => haRestarts(vm['id']!) === 2 && row(vm['id']!).state === 'Running');
      tap.close();
    });

    it('leaves a VM stopped through Kiln, and a crashed VM with HA off, stopped', async () => {
      const vm = await deploy({ name: 'kvm-ha-off' });
      await z.t.run('stopVirtualMachine', { id: vm['id']! });
      await new Promise((r) => setTimeout(r, 5000));
      expect(row(vm['id']!).state).toBe('Stopped');
      const other = await deploy({ name: 'kvm-ha-disabled' });
      await z.t.call('updateVirtualMachine', { id: other['id']!, haenable: 'false' });
      const { internal_name, host } = row(other['id']!);
      harness('kill-qemu', host!, internal_name);
      await until('the crash to be noticed', () => row(other['id']!).state === 'Stopped');
      await new Promise((r) => setTimeout(r, 4000));
      expect(row(other['id']!).state).toBe('Stopped');
      expect(haRestarts(other['id']!)).toBe(0);
    });

    it('marks an unreachable host Disconnected, refuses VM operations there without a DB change, then restarts its HA VMs elsewhere, never twice', { timeout: 300_000 }, async () => {
      // The anti-affinity pair from an earlier test would make any host's loss unabsorbable; drop the group.
      await z.t.run('deleteAffinityGroup', { name: 'kvm-spread' });
      const before = (await z.t.call('checkClusterHeadroom', { clusterid: z.clusterid })).body['clusterheadroom'] as { hasheadroom: boolean };
      expect(before.hasheadroom, JSON.stringify(before)).toBe(true);
      const ha = await deploy({ name: 'kvm-ha-host', hostid: z.hostIds['host2']! });
      const plain = await deploy({ name: 'kvm-plain-host', hostid: z.hostIds['host2']! });
      await z.t.call('updateVirtualMachine', { id: plain['id']!, haenable: 'false' });
      const haInternal = row(ha['id']!).internal_name;
      harness('stop-host', 'host2', '--keep-link');
      try {
        await until('host2 to be Disconnected', () => (z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').get(z.hostIds['host2']) as { state: string }).state !== 'Up', 30_000);
        const before = dbFingerprint(z.t.engine);
        const refused = await z.t.call('stopVirtualMachine', { id: plain['id']! });
        expect(refused.status).toBe(534);
        expect(String(refused.body['errortext'])).toMatch(/host \S+ of VM kvm-plain-host is (Disconnected|Down)/);
        expect(dbFingerprint(z.t.engine).replace(/^events:.*$/m, '')).toBe(before.replace(/^events:.*$/m, ''));
        await until('the HA VM to run on host1', () => row(ha['id']!).state === 'Running' && row(ha['id']!).host === hosts!.hosts[0]!.address, 120_000);
        expect(runningOn('host1', haInternal)).toBe(true);
        // The restart's job explains the placement: host2 refused because it is down.
        const restart = z.t.engine.db.prepare(`SELECT uuid FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=? ORDER BY id DESC LIMIT 1`).pluck().get(ha['id']) as string;
        const explained = (await z.t.call('queryAsyncJobResult', { jobid: restart })).body as { jobresult: { virtualmachine: { placement: { hosts: { hostName: string; suitable: boolean; reason: string }[] } } } };
        expect(explained.jobresult.virtualmachine.placement.hosts.find((h) => h.hostName === hosts!.hosts[1]!.address)).toMatchObject({ suitable: false, reason: expect.stringMatching(/^host is (Down|Disconnected)$/) });
        // KVM hosts fence themselves when isolated (isolationFencing), and only their HA VMs: a
        // plain VM on a host Kiln cannot reach may still run there, so it is not called Stopped
        // while the host is away (CloudStack shows such a VM as it last knew it).
        expect(row(plain['id']!).state).toBe('Running');
        // With one of two hosts down, losing host1 would strand its VMs: the N-1 answer changes (R14).
        const headroom = (await z.t.call('checkClusterHeadroom', { clusterid: z.clusterid })).body['clusterheadroom'] as { hasheadroom: boolean; hostfailure: { hostname: string; unplaceable: { reason: string }[] }[] };
        expect(headroom.hasheadroom).toBe(false);
        expect(headroom.hostfailure.find((f) => f.hostname === hosts!.hosts[0]!.address)!.unplaceable[0]!.reason).toMatch(/host is Down/);
      } finally {
        harness('start-host', 'host2');
      }
      await until('host2 to be Up again', () => (z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').get(z.hostIds['host2']) as { state: string }).state === 'Up', 60_000);
      expect(runningOn('host2', haInternal)).toBe(false);
      // host2 lost power (stop-host): once it answers again, the plain VM is settled on what it reports.
      await until('the plain VM to be Stopped as host2 reports', () => row(plain['id']!).state === 'Stopped', 60_000);
      // The shut-off copy host2 kept is undefined too: one definition per VM, on host1.
      await until('the stale copy on host2 to be undefined', () => !onHost('host2', 'virsh', 'list', '--all', '--name').includes(haInternal), 60_000);
      expect(onHost('host1', 'virsh', 'list', '--name')).toContain(haInternal);
    });
  });

  it('refuses a host whose SSH key changed, with a clear error, until an admin accepts the new key', async () => {
    harness('rekey-host', 'host2');
    await z.t.engine.hosts.drop((z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').get(z.hostIds['host2']) as { id: number }).id);
    const vm = await z.t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host2']! });
    const job = await z.t.engine.jobs.wait(String(vm.body['jobid']));
    expect(job).toMatchObject({ jobstatus: 2, jobresultcode: 534 });
    expect(String((job['jobresult'] as { errortext: string }).errortext)).toMatch(/host key/i);
    const host = ((await z.t.call('listHosts', { id: z.hostIds['host2']! })).body['host'] as { state: string; details: { lasterror: string } }[])[0]!;
    expect(host.state).toBe('Alert');
    expect(host.details.lasterror).toMatch(/SHA256:/);
    const fingerprint = currentFingerprint(hosts!.hosts.find((h) => h.name === 'host2')!);
    const accepted = await z.t.call('acceptHostKey', { id: z.hostIds['host2']!, fingerprint });
    expect(accepted.body['host']).toMatchObject({ state: 'Up', hostkeyfingerprint: fingerprint });
  });
});
