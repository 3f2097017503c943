/**
 * Unmanage, discovery and import (R39–R50) on the simulator, through the engine's registry: VMs
 * made on a simulated host outside Kiln are listed with R41's fields and why-not reasons, imported
 * with each offering kind, NIC mapping by VLAN and explicitly, ip4Address=auto, and are then
 * ordinary Kiln VMs whose stop/start keeps their disks, NICs and controllers. Unmanage leaves the
 * VM on the host and lists it again; preserved NICs need forced=true to be re-imported.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { dbFingerprint, demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let sim: SimulatorDriver;
let clusterid: string;
const GiB = 1024 ** 3;

function foreignSpec(name: string, extra: Partial<VmSpec> = {}): VmSpec {
  return {
    internalName: name, displayName: name, uuid: `0000${name.length}-1111-2222-3333-${name.padEnd(12, '0').slice(0, 12).replace(/[^0-9a-f]/g, 'a')}`,
    cpuNumber: 2, cpuSpeedMhz: 2000, memoryMiB: 2048,
    disks: [
      { name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' },
      { name: `${name}-data.qcow2`, sizeBytes: 5 * GiB, device: 'disk', bus: 'virtio' },
    ],
    nics: [
      { macAddress: '52:54:00:aa:00:01', network: 'vlan100', vlan: 100, adapterType: 'e1000' },
      { macAddress: '52:54:00:aa:00:02', network: 'vlan200', vlan: 200, adapterType: 'e1000' },
    ],
    details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    ...extra,
  };
}

async function list(name?: string): Promise<Record<string, unknown>[]> {
  const res = await t.call('listUnmanagedInstances', { clusterid, ...(name ? { name } : {}) });
  expect(res.status).toBe(200);
  return (res.body['unmanagedinstance'] as Record<string, unknown>[] | undefined) ?? [];
}

async function refused(params: Record<string, string>, code = 431): Promise<string> {
  const before = dbFingerprint(t.engine);
  const res = await t.call('importUnmanagedInstance', params);
  expect(res.status).toBe(code);
  expect(dbFingerprint(t.engine)).toBe(before);
  return String(res.body['errortext']);
}

async function sharedNetwork(vlan: string): Promise<string> {
  const res = await t.call('createNetwork', { name: `shared-${vlan}`, zoneid: demoIds(t.engine).zoneid, guestiptype: 'Shared', vlan, gateway: '10.50.0.1', netmask: '255.255.255.0', startip: '10.50.0.10', endip: '10.50.0.20' });
  expect(res.status).toBe(200);
  return (res.body['network'] as { id: string }).id;
}

beforeEach(async () => {
  t = await testEngine();
  sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  clusterid = (t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').get() as { uuid: string }).uuid;
});
afterEach(async () => t.close());

describe('listUnmanagedInstances', () => {
  it("lists the hosts' VMs Kiln did not make, with R41's fields, and says why one cannot be imported", async () => {
    const managed = await deployDemo(t, { name: 'mine' });
    sim.addUnmanagedVm('sim-host-1', foreignSpec('legacy-web'), { power: 'Running', guestIps: [['10.50.0.15'], []] });
    sim.addUnmanagedVm('sim-host-2', foreignSpec('mixed', { nics: [{ macAddress: '52:54:00:bb:00:01', network: 'x', adapterType: 'e1000' }, { macAddress: '52:54:00:bb:00:02', network: 'x', adapterType: 'virtio' }], details: { osDisplayName: 'Plan 9' } }), { foreignStorage: ['mixed-data.qcow2'] });
    sim.addUnmanagedVm('sim-host-2', foreignSpec('golden'), { isTemplate: true });
    const rows = await list();
    expect(rows.map((r) => r['name']).sort()).toEqual(['legacy-web', 'mixed']);
    expect(rows.some((r) => r['name'] === managed['instancename'])).toBe(false);
    const web = rows.find((r) => r['name'] === 'legacy-web')!;
    expect(Object.keys(web).sort()).toEqual(['clusterid', 'cpucorepersocket', 'cpunumber', 'cpuspeed', 'disk', 'hostid', 'importable', 'memory', 'name', 'nic', 'osdisplayname', 'powerstate']);
    expect(web).toMatchObject({ clusterid, powerstate: 'PowerOn', cpunumber: 2, memory: 2048, osdisplayname: 'Debian GNU/Linux 12 (64-bit)', importable: true });
    expect(web['disk']).toEqual([
      { id: 'legacy-web-root.qcow2', capacity: 10 * GiB, controller: 'virtio', controllerunit: 0, imagepath: 'legacy-web-root.qcow2', position: 0 },
      { id: 'legacy-web-data.qcow2', capacity: 5 * GiB, controller: 'virtio', controllerunit: 1, imagepath: 'legacy-web-data.qcow2', position: 1 },
    ]);
    expect(web['nic']).toEqual([
      { id: 'nic0', macaddress: '52:54:00:aa:00:01', networkname: 'vlan100', vlanid: 100, pcislot: '0x03', adaptertype: 'e1000', ipaddress: ['10.50.0.15'] },
      { id: 'nic1', macaddress: '52:54:00:aa:00:02', networkname: 'vlan200', vlanid: 200, pcislot: '0x04', adaptertype: 'e1000' },
    ]);
    const mixed = rows.find((r) => r['name'] === 'mixed')!;
    expect(mixed['importable']).toBe(false);
    const reasons = (mixed['notimportablereason'] as string[]).join('\n');
    expect(reasons).toContain('NICs of mixed adapter types (e1000, virtio)');
    expect(reasons).toContain('disk mixed-data.qcow2 of VM mixed is on storage foreign-nfs, which host sim-host-2 does not offer Kiln');
    expect(reasons).toContain('no guest OS in Kiln\'s list matches "Plan 9"; give templateid');
    expect(await list('mixed')).toHaveLength(1);
  });
});

describe('importUnmanagedInstance', () => {
  it('imports with a custom offering, NICs by VLAN and explicitly, auto IP and data-disk offerings; stop/start keeps the definition', async () => {
    const ids = demoIds(t.engine);
    const shared = await sharedNetwork('200');
    sim.addUnmanagedVm('sim-host-1', foreignSpec('legacy-web'), { power: 'Running', guestIps: [[], ['10.50.0.15']], cpuReservationMhz: 1500 });
    const job = await t.run('importUnmanagedInstance', {
      clusterid, name: 'legacy-web', displayname: 'Legacy web', serviceofferingid: ids.custom,
      'nicnetworklist[0].nic': 'nic1', 'nicnetworklist[0].network': shared,
      'nicipaddresslist[0].nic': 'nic1', 'nicipaddresslist[0].ip4Address': 'auto',
      'datadiskofferinglist[0].disk': 'legacy-web-data.qcow2', 'datadiskofferinglist[0].diskOffering': ids.diskSmall,
    });
    expect(job['jobstatus']).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine;
    expect(vm).toMatchObject({ displayname: 'Legacy web', state: 'Running', cpunumber: 2, cpuspeed: 1500, memory: 2048, templatename: 'kiln-import-default', guestosid: expect.any(String) });
    expect(vm['ostypename'] ?? vm['guestosname'] ?? vm['osdisplayname']).toBeTruthy();
    expect(vm['consolenote']).toMatch(/console may not work until it is stopped and started through Kiln/);
    const nics = (vm['nic'] as { macaddress: string; networkname: string; ipaddress?: string }[]).map((n) => [n.macaddress, n.networkname, n.ipaddress]);
    expect(nics).toEqual([['52:54:00:aa:00:01', 'Demo L2', undefined], ['52:54:00:aa:00:02', 'shared-200', '10.50.0.15']]);
    const volumes = t.engine.db.prepare('SELECT volume_type, size, path, disk_offering_id IS NOT NULL AS offered FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) ORDER BY device_id').all(vm['id']);
    // The Small disk offering is larger or smaller: either way the volume keeps the disk's own size (R47).
    expect(volumes).toEqual([
      { volume_type: 'ROOT', size: 10 * GiB, path: 'legacy-web-root.qcow2', offered: 0 },
      { volume_type: 'DATADISK', size: 5 * GiB, path: 'legacy-web-data.qcow2', offered: 1 },
    ]);
    expect(await list()).toEqual([]);

    const before = JSON.stringify(sim.world.find('sim-host-1')!.domains['legacy-web']!.spec);
    expect((await t.run('stopVirtualMachine', { id: String(vm['id']) }))['jobstatus']).toBe(1);
    const started = await t.run('startVirtualMachine', { id: String(vm['id']) });
    expect(started['jobstatus']).toBe(1);
    const domain = sim.world.find('sim-host-1')!.domains['legacy-web']!;
    expect(domain.power).toBe('Running');
    // Disks, NICs (MACs, adapters, networks) and controllers are the hypervisor's own, unchanged.
    expect(JSON.stringify(domain.spec)).toBe(before);
    expect(domain.spec.disks.map((d) => d.name)).toEqual(['legacy-web-root.qcow2', 'legacy-web-data.qcow2']);

    // R44: the dummy template cannot be restored to.
    const restore = await t.call('restoreVirtualMachine', { virtualmachineid: String(vm['id']) });
    expect(restore.status).toBe(431);
    expect(JSON.stringify(restore.body)).toContain('cannot be restored to');
  });

  it('a fixed offering that differs from a stopped VM is applied at its next start, not before', async () => {
    const ids = demoIds(t.engine);
    sim.addUnmanagedVm('sim-host-1', foreignSpec('batch', { disks: [{ name: 'batch-root.qcow2', sizeBytes: GiB, device: 'disk', bus: 'sata' }], nics: [{ macAddress: '52:54:00:cc:00:01', network: 'vlan100', vlan: 100, adapterType: 'e1000' }] }));
    const job = await t.run('importUnmanagedInstance', { clusterid, name: 'batch', serviceofferingid: ids.large });
    expect(job['jobstatus']).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine;
    expect(vm).toMatchObject({ state: 'Stopped', cpunumber: 2, memory: 4096 });
    expect(sim.world.find('sim-host-1')!.domains['batch']!.spec.memoryMiB).toBe(2048);
    expect((await t.run('startVirtualMachine', { id: String(vm['id']) }))['jobstatus']).toBe(1);
    const spec = sim.world.find('sim-host-1')!.domains['batch']!.spec;
    expect([spec.cpuNumber, spec.memoryMiB, spec.disks[0]!.bus]).toEqual([2, 4096, 'sata']);
  });

  it('refuses each R43–R50 case with a 431 naming the parameter, writing nothing', async () => {
    const ids = demoIds(t.engine);
    sim.addUnmanagedVm('sim-host-1', foreignSpec('web'), { power: 'Running', guestIps: [['10.50.0.11', '10.50.0.12'], []] });
    sim.addUnmanagedVm('sim-host-1', foreignSpec('mixdisk', { disks: [{ name: 'md-root', sizeBytes: GiB, device: 'disk', bus: 'virtio' }, { name: 'md-a', sizeBytes: GiB, device: 'disk', bus: 'scsi' }, { name: 'md-b', sizeBytes: GiB, device: 'disk', bus: 'ide' }], nics: [] }));
    sim.addUnmanagedVm('sim-host-1', foreignSpec('plan9', { nics: [], disks: [{ name: 'p9-root', sizeBytes: GiB, device: 'disk' }], details: { osDisplayName: 'Plan 9' } }));
    const shared200 = await sharedNetwork('200');
    const base = { clusterid, name: 'web', serviceofferingid: ids.custom, 'details[0].cpuSpeed': '1000', 'datadiskofferinglist[0].disk': 'web-data.qcow2', 'datadiskofferinglist[0].diskOffering': ids.diskSmall, 'nicnetworklist[0].nic': 'nic1', 'nicnetworklist[0].network': shared200 };
    expect(await refused({ ...base, name: 'nope' })).toContain('name: no unmanaged VM named nope');
    expect(await refused({ ...base, serviceofferingid: ids.small })).toMatch(/serviceofferingid: offering Small Instance has 1 vCPUs and 512 MB, VM web runs with 2 vCPUs and 2048 MB.*stop the VM/);
    const { 'details[0].cpuSpeed': _speed, ...noSpeed } = base;
    expect(await refused(noSpeed)).toContain('details[0].cpuSpeed: offering Custom is custom unconstrained and VM web has no CPU reservation');
    const { 'datadiskofferinglist[0].disk': _d, 'datadiskofferinglist[0].diskOffering': _o, ...noDisk } = base;
    expect(await refused(noDisk)).toContain('datadiskofferinglist: data disk web-data.qcow2 of VM web needs a disk offering');
    const { 'nicnetworklist[0].nic': _n, 'nicnetworklist[0].network': _w, ...noMap } = base;
    t.engine.db.prepare('UPDATE networks SET vlan=201 WHERE uuid=?').run(shared200);
    expect(await refused(noMap)).toContain('nicnetworklist: NIC nic1 of VM web (VLAN 200, on vlan200) matches no L2 or shared network of the zone by VLAN');
    t.engine.db.prepare('UPDATE networks SET vlan=200 WHERE uuid=?').run(shared200);
    expect(await refused({ ...base, 'nicipaddresslist[0].nic': 'nic0', 'nicipaddresslist[0].ip4Address': 'auto' })).toContain('nicipaddresslist: NIC nic0 is mapped to L2 network Demo L2, which has no IP addresses');
    const shared = await sharedNetwork('100');
    const sharedBase = { ...base, 'nicnetworklist[1].nic': 'nic0', 'nicnetworklist[1].network': shared };
    expect(await refused({ ...sharedBase, 'nicipaddresslist[0].nic': 'nic0', 'nicipaddresslist[0].ip4Address': 'auto' })).toContain('needs exactly one IPv4 address from the guest, which reports 10.50.0.11, 10.50.0.12');
    expect(await refused({ ...base, 'nicnetworklist[0].nic': 'nic9' })).toContain('nicnetworklist: VM web has no NIC nic9');
    expect(await refused({ ...base, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': shared, 'nicnetworklist[1].nic': 'nic1', 'nicnetworklist[1].network': ids.network })).toContain('nicnetworklist: NIC nic1 is on VLAN 200, network Demo L2 on VLAN 100');
    expect(await refused({ ...base, name: 'mixdisk' })).toContain('name: VM mixdisk has data disks on mixed controller types (scsi, ide)');
    expect(await refused({ ...base, name: 'plan9' })).toContain('templateid: VM plan9: no guest OS in Kiln\'s list matches "Plan 9"; give templateid');
    const tagged = ((await t.call('createServiceOffering', { name: 'ssd-only', hosttags: 'ssd' })).body['serviceoffering'] as { id: string }).id;
    expect(await refused({ ...base, serviceofferingid: tagged })).toContain('serviceofferingid: offering ssd-only needs host tag ssd, which host sim-host-1 of VM web lacks; pass migrateallowed=true');
  });
});

describe('importUnmanagedInstance with migrateallowed (R48)', () => {
  it("moves a running VM live to a host with the offering's host tags", async () => {
    const host2 = (t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name='sim-host-2'`).get() as { uuid: string }).uuid;
    expect((await t.call('updateHost', { id: host2, hosttags: 'ssd' })).status).toBe(200);
    const tagged = ((await t.call('createServiceOffering', { name: 'ssd-custom', hosttags: 'ssd', cpuspeed: '1000' })).body['serviceoffering'] as { id: string }).id;
    sim.addUnmanagedVm('sim-host-1', foreignSpec('roamer', { disks: [{ name: 'roamer-root', sizeBytes: GiB, device: 'disk' }], nics: [{ macAddress: '52:54:00:dd:00:01', network: 'vlan100', vlan: 100 }] }), { power: 'Running' });
    const job = await t.run('importUnmanagedInstance', { clusterid, name: 'roamer', serviceofferingid: tagged, migrateallowed: 'true' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect((job['jobresult'] as { virtualmachine: { hostname: string; state: string } }).virtualmachine).toMatchObject({ state: 'Running', hostname: 'sim-host-2' });
    expect(sim.world.find('sim-host-2')!.domains['roamer']?.power).toBe('Running');
    expect(sim.world.find('sim-host-1')!.domains['roamer']).toBeUndefined();
  });
});

describe('unmanageVirtualMachine', () => {
  it('forgets a running VM, leaves it untouched on its host and lists it again; kept NICs need forced=true to re-import', async () => {
    const ids = demoIds(t.engine);
    await t.call('updateConfiguration', { name: 'unmanage.vm.preserve.nics', value: 'true', zoneid: ids.zoneid });
    const vm = await deployDemo(t, { name: 'keeper' });
    const row = t.engine.db.prepare('SELECT v.id, v.internal_name, h.name AS host FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(vm['id']) as { id: number; internal_name: string; host: string };
    const domainBefore = JSON.stringify(sim.world.find(row.host)!.domains[row.internal_name]);
    const vmsBefore = (t.engine.db.prepare(`SELECT COUNT(*) AS n FROM vm_instances WHERE state NOT IN ('Destroyed','Expunged')`).get() as { n: number }).n;

    const user = t.engine.accounts.createAccount({ name: 'u1', role: 'User', domainId: t.engine.accounts.rootDomainId(), username: 'u1', password: 'pw-u1-long-enough' });
    const asUser = await t.call('unmanageVirtualMachine', { id: vm['id']! }, { ...t.admin, role: 'User', userId: user.userId });
    expect(asUser.status).not.toBe(200);

    const job = await t.run('unmanageVirtualMachine', { id: vm['id']! });
    expect(job['jobstatus']).toBe(1);
    expect(job['jobresult']).toMatchObject({ success: true, details: expect.stringContaining('stays on the hypervisor') });
    const listed = await t.call('listVirtualMachines', { id: vm['id']! });
    expect(listed.body['virtualmachine']).toBeUndefined();
    expect(JSON.stringify(sim.world.find(row.host)!.domains[row.internal_name])).toBe(domainBefore);
    expect((t.engine.db.prepare(`SELECT COUNT(*) AS n FROM vm_instances WHERE state NOT IN ('Destroyed','Expunged')`).get() as { n: number }).n).toBe(vmsBefore - 1);
    const usage = (t.engine.db.prepare('SELECT type FROM usage_events WHERE resource_id=? OR resource_name LIKE ? ORDER BY id').all(row.id, 'ROOT-%') as { type: string }[]).map((u) => u.type);
    for (const type of ['VOLUME.DELETE', 'NETWORK.OFFERING.REMOVE', 'VM.STOP', 'VM.DESTROY']) expect(usage).toContain(type);
    expect(t.engine.db.prepare('SELECT COUNT(*) AS n FROM volumes WHERE vm_id=? AND removed IS NULL').get(row.id)).toEqual({ n: 0 });
    expect(t.engine.db.prepare(`SELECT state FROM nics WHERE vm_id=? AND removed IS NULL`).all(row.id)).toEqual([{ state: 'Reserved' }]);
    const again = (await list(row.internal_name))[0]!;
    expect(again).toMatchObject({ name: row.internal_name, powerstate: 'PowerOn', importable: false });
    expect((again['notimportablereason'] as string[]).join()).toContain('pass forced=true to reuse it');

    // Re-import: refused without forced (R43), then taken over with the kept MAC.
    const params = { clusterid, name: row.internal_name, serviceofferingid: ids.small };
    expect(await refused(params)).toMatch(/^forced: NIC nic0 of VM i-.*: MAC 02:00:.* is already known to Kiln/);
    const reimport = await t.run('importUnmanagedInstance', { ...params, forced: 'true' });
    expect(reimport['jobstatus']).toBe(1);
    const back = (reimport['jobresult'] as { virtualmachine: { state: string; nic: { macaddress: string }[] } }).virtualmachine;
    expect(back.state).toBe('Running');
    expect(back.nic[0]!.macaddress).toBe((vm['nic'] as unknown as { macaddress: string }[])[0]!.macaddress);
    expect(JSON.stringify(sim.world.find(row.host)!.domains[row.internal_name])).toBe(domainBefore);
  });

  it('refuses a destroyed VM and one with an ISO in its drive, with a 431 that says why', async () => {
    const ids = demoIds(t.engine);
    const gone = await deployDemo(t, { name: 'gone' });
    await t.run('destroyVirtualMachine', { id: gone['id']! });
    const destroyed = await t.call('unmanageVirtualMachine', { id: gone['id']! });
    expect(destroyed.status).toBe(431);
    expect(JSON.stringify(destroyed.body)).toContain('is Destroyed; a destroyed VM cannot be unmanaged');
    const fromIso = await deployDemo(t, { name: 'fromiso', templateid: ids.isoid, diskofferingid: ids.diskSmall });
    const before = dbFingerprint(t.engine);
    const iso = await t.call('unmanageVirtualMachine', { id: fromIso['id']! });
    expect(iso.status).toBe(431);
    expect(JSON.stringify(iso.body)).toMatch(/has ISO .* attached; detach it before unmanaging/);
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});
