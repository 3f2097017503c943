/**
 * importsource=external on the simulator's hosts Kiln does not manage (SimulatorDriver.addExternalHost),
 * through the engine's registry: listVmsForImport lists the host's VMs with importable / why not
 * and pins its key on first use; a wrong password is refused; importVm copies a stopped VM's disks
 * onto the Kiln cluster's storage and makes it an ordinary stopped Kiln VM with its NIC on the
 * network of its VLAN, while the source VM stays on the external host; a running one is listed as
 * not importable and refused (431).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

const GiB = 1024 ** 3;
let t: TestEngine;
let sim: SimulatorDriver;

const spec = (name: string, mac: string): VmSpec => ({
  internalName: name, displayName: name, uuid: `${mac.replace(/:/g, '').slice(-8)}-1111-2222-3333-444455556666`, cpuNumber: 1, cpuSpeedMhz: 2000, memoryMiB: 512,
  disks: [{ name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' }],
  nics: [{ macAddress: mac, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
  details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
});

beforeEach(async () => {
  t = await testEngine();
  sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  sim.addExternalHost('old-kvm', 's3cret');
  sim.addUnmanagedVm('old-kvm', spec('ext-web', '52:54:00:ee:00:01'));
  sim.addUnmanagedVm('old-kvm', spec('ext-busy', '52:54:00:ee:00:02'), { power: 'Running' });
});
afterEach(async () => t.close());

describe('importsource=external on the simulator', () => {
  it('lists the host\'s VMs, pins its key, refuses a wrong password, and imports a stopped VM leaving the source as it was', async () => {
    const ids = demoIds(t.engine);
    const base = { zoneid: ids.zoneid, hypervisor: 'Simulator', host: 'old-kvm', username: 'root' };
    const wrong = await t.call('listVmsForImport', { ...base, password: 'nope' });
    expect([wrong.body['errorcode'], wrong.body['errortext']]).toEqual([534, 'host: old-kvm: old-kvm: All configured authentication methods failed']);
    const listed = await t.call('listVmsForImport', { ...base, password: 's3cret' });
    expect(listed.status).toBe(200);
    const rows = listed.body['unmanagedinstance'] as { name: string; importable: boolean; notimportablereason?: string[] }[];
    expect(rows.map((r) => [r.name, r.importable]).sort()).toEqual([['ext-busy', false], ['ext-web', true]]);
    expect(rows.find((r) => r.name === 'ext-busy')?.notimportablereason).toEqual(['VM ext-busy is running on old-kvm; shut it down there first, its disks are copied while it is off']);
    expect((t.engine.db.prepare('SELECT url FROM external_import_hosts').all() as { url: string }[]).map((r) => r.url)).toEqual(['ssh://old-kvm:22']);

    const clusterid = (t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').get() as { uuid: string }).uuid;
    const busy = await t.call('importVm', { ...base, password: 's3cret', importsource: 'external', clusterid, name: 'ext-busy', serviceofferingid: ids.small });
    expect([busy.body['errorcode'], busy.body['errortext']]).toEqual([431, 'name: VM ext-busy is running on old-kvm; shut it down there first, its disks are copied while it is off']);
    const done = await t.run('importVm', { ...base, password: 's3cret', importsource: 'external', clusterid, name: 'ext-web', serviceofferingid: ids.small });
    expect(done['jobstatus']).toBe(1);
    const vm = (done['jobresult'] as { virtualmachine: { name: string; state: string; nic: { networkid: string; macaddress: string }[] } }).virtualmachine;
    expect([vm.name, vm.state, vm.nic.map((n) => [n.networkid, n.macaddress])]).toEqual(['ext-web', 'Stopped', [[ids.network, '52:54:00:ee:00:01']]]);
    // The source is only read: still there on the host Kiln does not manage.
    const again = (await t.call('listVmsForImport', { ...base, password: 's3cret', name: 'ext-web' })).body['unmanagedinstance'] as { name: string }[];
    expect(again.map((r) => r.name)).toEqual(['ext-web']);
  });
});
