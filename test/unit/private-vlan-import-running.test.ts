/**
 * An import of a running VM onto a private-VLAN network on a host whose driver moves a kept NIC
 * onto its own private-VLAN port (capability privateVlanImport: KVM's ebtables ports) goes ahead:
 * the VM keeps running and the driver is handed the NIC to isolate at once (on KVM, by rules on
 * the tap it runs on until its next start); without the capability it is the older refusal (the
 * NIC is not on that VLAN), with nothing written. The simulator's host stands in for such a host
 * by its recorded capabilities, which is all the engine's check reads (the driver side is
 * kvm-private-vlan-import-running.real).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { dbFingerprint, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;

beforeEach(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
});
afterEach(async () => t.close());

function claim(capabilities: Record<string, boolean>): void {
  const row = t.engine.db.prepare("SELECT id, capabilities FROM hosts WHERE name='sim-host-1'").get() as { id: number; capabilities: string | null };
  t.engine.db.prepare('UPDATE hosts SET capabilities=? WHERE id=?').run(JSON.stringify({ ...(row.capabilities ? (JSON.parse(row.capabilities) as object) : {}), ...capabilities }), row.id);
}

describe('importing a running VM onto a private-VLAN network', () => {
  it("goes ahead where the driver moves kept NICs onto its ports, handing it the NIC while the VM runs; the older 431 where it cannot, nothing written", async () => {
    const sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
    const clusterid = t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').pluck().get() as string;
    const pvlan = ((await t.ok('createNetwork', { name: 'pv-iso', zoneid: ids.zoneid, vlan: '300', isolatedpvlan: '301' }))['network'] as { id: string }).id;
    sim.addUnmanagedVm('sim-host-1', {
      internalName: 'legacy-run', displayName: 'legacy-run', uuid: '00000000-1111-2222-3333-44445555bbbb', cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 512,
      disks: [{ name: 'legacy-run-root.qcow2', sizeBytes: 2 ** 30, device: 'disk', bus: 'virtio' }],
      nics: [{ macAddress: '52:54:00:ac:00:02', network: 'untagged', adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    }, { power: 'Running' });
    const args = { clusterid, name: 'legacy-run', serviceofferingid: ids.small, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': pvlan };
    claim({ privateVlans: true, privateVlanImport: false });
    const beforeOlder = dbFingerprint(t.engine);
    const older = await t.call('importUnmanagedInstance', args);
    expect(older.status).toBe(431);
    expect(String(older.body['errortext'])).toMatch(/^nicnetworklist: network pv-iso is a private VLAN \(isolated 301 of VLAN 300\), but NIC nic0 is not on that private VLAN on host sim-host-1, and an imported VM keeps its own definition/);
    expect(dbFingerprint(t.engine)).toBe(beforeOlder);

    claim({ privateVlans: true, privateVlanImport: true });
    const hostId = t.engine.db.prepare("SELECT id FROM hosts WHERE name='sim-host-1'").pluck().get() as number;
    const adopt = vi.spyOn((await t.engine.hosts.session(hostId)).import!, 'adopt');
    const job = await t.run('importUnmanagedInstance', args);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { state: string; nic: { networkid: string; macaddress: string }[] } }).virtualmachine;
    expect(vm.state).toBe('Running');
    expect(vm.nic.map((n) => [n.networkid, n.macaddress])).toEqual([[pvlan, '52:54:00:ac:00:02']]);
    expect(adopt).toHaveBeenCalledTimes(1);
    expect(adopt.mock.calls[0]![2]).toEqual([{ macAddress: '52:54:00:ac:00:02', network: 'pv-iso', vlan: 300, privateVlan: { type: 'isolated', secondaryVlan: 301 } }]);
  });
});
