/**
 * An import onto a private-VLAN network on a host whose driver moves a kept NIC onto its own
 * private-VLAN port (capability privateVlanImport: KVM's ebtables ports) needs the VM shut off:
 * a running guest's tap cannot be moved under it, so a running VM is a 431 that says so, with
 * nothing written; without the capability it is the older refusal (the NIC is not on that VLAN).
 * The simulator's host stands in for such a host by its recorded capabilities, which is all the
 * engine's check reads (the driver side is kvm-private-vlan-hosts.real).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
  it("is a 431 naming the NIC and saying to shut the VM down where the driver moves kept NICs onto its ports, and the older 431 where it cannot; nothing written", async () => {
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
    claim({ privateVlans: true, privateVlanImport: true });
    const before = dbFingerprint(t.engine);
    const res = await t.call('importUnmanagedInstance', args);
    expect(res.status, JSON.stringify(res.body)).toBe(431);
    expect(String(res.body['errortext'])).toBe("nicnetworklist: network pv-iso is a private VLAN (isolated 301 of VLAN 300); NIC nic0 of VM legacy-run goes onto Kiln's port for it on host sim-host-1 only while the VM is shut off; shut it down first, or map the NIC to a network without a private VLAN");
    expect(dbFingerprint(t.engine)).toBe(before);
    claim({ privateVlans: true, privateVlanImport: false });
    const beforeOlder = dbFingerprint(t.engine);
    const older = await t.call('importUnmanagedInstance', args);
    expect(older.status).toBe(431);
    expect(String(older.body['errortext'])).toMatch(/^nicnetworklist: network pv-iso is a private VLAN \(isolated 301 of VLAN 300\), but NIC nic0 is not on that private VLAN on host sim-host-1, and an imported VM keeps its own definition/);
    expect(dbFingerprint(t.engine)).toBe(beforeOlder);
  });
});
