/**
 * Kiln's engine on real KVM hosts: a VM's moves between the two hosts (live migration, scaling
 * that migrates first, storage the pool keeps shared), its disks (destroy with volumeids and the
 * expunge sweeper, restore) and its VM snapshots across a migration, and anti-affinity.
 * (kvm-engine.real has a VM's life on one host, kvm-engine-ha.real HA.)
 */
import { describe, expect, it } from 'vitest';
import { dbFingerprint } from '../helpers/engine.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { engineVms, engineZoneHooks } from '../helpers/kvm-engine-vms.js';

const hosts = kvmHostsOrSkip();

describe.skipIf(!hosts)('the engine on real KVM hosts: migration, disks, snapshots, anti-affinity', () => {
  const z = engineZoneHooks(hosts!);
  const { deploy, row, consoleOf } = engineVms(z);

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
});
