/**
 * What a host owes for an imported VM expunged while it could not be reached (issue 13), on the
 * simulator: the VM's domain keeps the UUID it had before the import (not Kiln's), which the
 * import records (adopted-identity.ts). When the host answers again the cleanup removes that
 * domain and its disks; a namesake with another UUID is left alone with every disk it uses, and
 * an event says so; the HA pass does not remove or power off such a namesake either. A VM imported
 * before the record was kept gets it from the HA pass's listing while Kiln still manages it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { ADOPTED_UUID_DETAIL } from '../../main/engine/import/adopted-identity.js';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let sim: SimulatorDriver;
let clusterid: string;
const GiB = 1024 ** 3;
const HOST = 'sim-host-1';
const FOREIGN_UUID = '0a0a0a0a-1111-4222-8333-000000000001';

function foreignSpec(name: string, uuid = FOREIGN_UUID): VmSpec {
  return {
    internalName: name, displayName: name, uuid, cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 512,
    disks: [{ name: `${name}-root.qcow2`, sizeBytes: GiB, device: 'disk', bus: 'virtio' }],
    nics: [{ macAddress: '52:54:00:ee:00:01', network: 'vlan100', vlan: 100, adapterType: 'e1000' }],
    details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
  };
}

const owed = () => t.engine.db.prepare('SELECT COUNT(*) FROM host_cleanups').pluck().get() as number;
const domain = (name: string) => sim.world.find(HOST)!.domains[name];
const unmanaged = async () => (((await t.call('listUnmanagedInstances', { clusterid })).body['unmanagedinstance'] as { name: string }[] | undefined) ?? []).map((u) => u.name);

/** Imports NAME (an unmanaged VM on HOST, stopped) with its NIC on an L2 network; returns its id. */
async function importVm(name: string): Promise<string> {
  const network = (await t.call('createNetwork', { name: `l2-${name}`, zoneid: demoIds(t.engine).zoneid, guestiptype: 'L2', vlan: '100' })).body['network'] as { id: string };
  const job = await t.run('importUnmanagedInstance', { clusterid, name, serviceofferingid: demoIds(t.engine).small, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': network.id });
  expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
  return (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
}

/** Imports NAME from HOST (stopped) and destroys and expunges it while HOST is down; returns its id. */
async function importAndExpungeUnreachable(name: string): Promise<string> {
  sim.addUnmanagedVm(HOST, foreignSpec(name));
  const id = await importVm(name);
  sim.setHostUp(HOST, false);
  try {
    expect((await t.run('destroyVirtualMachine', { id, expunge: 'true' }))['jobstatus']).toBe(1);
  } finally {
    sim.setHostUp(HOST, true);
  }
  expect(owed()).toBeGreaterThan(0);
  return id;
}

beforeEach(async () => {
  t = await testEngine();
  sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  clusterid = (t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').get() as { uuid: string }).uuid;
});
afterEach(async () => t.close());

describe('an imported VM expunged while its host could not be reached', () => {
  it('the import records the domain\'s own UUID', async () => {
    sim.addUnmanagedVm(HOST, foreignSpec('recorded'));
    const id = await importVm('recorded');
    expect(t.engine.db.prepare('SELECT d.value, d.display FROM vm_details d JOIN vm_instances v ON v.id=d.vm_id WHERE v.uuid=? AND d.name=?').get(id, ADOPTED_UUID_DETAIL)).toEqual({ value: FOREIGN_UUID, display: 0 });
    // A hidden detail: not among the VM's details as listed.
    const listed = ((await t.call('listVirtualMachines', { id })).body['virtualmachine'] as { details?: Record<string, string> }[])[0]!;
    expect(Object.keys(listed.details ?? {})).not.toContain(ADOPTED_UUID_DETAIL);
  });

  it("an import from before the record was kept gets it from the HA pass's listing, and its leftovers are then recognised", async () => {
    sim.addUnmanagedVm(HOST, foreignSpec('legacy'));
    const id = await importVm('legacy');
    const vmId = t.engine.db.prepare('SELECT id FROM vm_instances WHERE uuid=?').pluck().get(id) as number;
    t.engine.db.prepare('DELETE FROM vm_details WHERE vm_id=? AND name=?').run(vmId, ADOPTED_UUID_DETAIL);
    await t.engine.background.ha.pass();
    expect(t.engine.db.prepare('SELECT value FROM vm_details WHERE vm_id=? AND name=?').pluck().get(vmId, ADOPTED_UUID_DETAIL)).toBe(FOREIGN_UUID);
    sim.setHostUp(HOST, false);
    try {
      expect((await t.run('destroyVirtualMachine', { id, expunge: 'true' }))['jobstatus']).toBe(1);
    } finally {
      sim.setHostUp(HOST, true);
    }
    await t.engine.background.sweep();
    expect(owed()).toBe(0);
    expect(domain('legacy')).toBeUndefined();
  });

  it('once the host answers, the adopted domain and its disk go, and it is not listed as unmanaged', async () => {
    await importAndExpungeUnreachable('adopted');
    expect(domain('adopted')).toBeDefined();
    await t.engine.background.sweep();
    expect(owed()).toBe(0);
    expect(domain('adopted')).toBeUndefined();
    expect('adopted-root.qcow2' in sim.world.disks).toBe(false);
    expect(await unmanaged()).not.toContain('adopted');
  });

  it('a namesake with another UUID is left alone with the disk it uses, and reported; the HA pass leaves it too', async () => {
    const id = await importAndExpungeUnreachable('renamed');
    // Meanwhile the host's admin defined another domain under the name, on the same disk.
    sim.world.find(HOST)!.domains['renamed']!.spec.uuid = '0b0b0b0b-1111-4222-8333-000000000002';
    sim.world.save();
    await t.engine.background.ha.pass();
    await t.engine.background.sweep();
    expect(owed()).toBe(0);
    expect(domain('renamed')?.spec.uuid).toBe('0b0b0b0b-1111-4222-8333-000000000002');
    expect('renamed-root.qcow2' in sim.world.disks).toBe(true);
    const events = t.engine.db.prepare(`SELECT level, description FROM events WHERE resource_uuid=? AND description LIKE '%left alone%'`).all(id) as { level: string; description: string }[];
    expect(events).toEqual([{ level: 'WARN', description: `host ${HOST}: renamed (0b0b0b0b-1111-4222-8333-000000000002) is not the definition Kiln removes for VM renamed (${id}): it is another instance under the same name, left alone with the disk(s) it uses (renamed-root.qcow2)` }]);
    expect(await unmanaged()).toContain('renamed');
  });
});
