/**
 * The realistic VM fixtures (test/helpers/vcsim-fixtures.ts) on vcsim: several disks on two
 * controllers and NICs on standard and distributed VLAN portgroups, created over SOAP and read
 * back as an import would see them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VimClient } from '../../drivers/vsphere/soap/index.js';
import { createVmWithDevices, defaultPlacement, vmDevices } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('VM fixtures with several disks and VLAN NICs on vcsim', () => {
  let sim: Vcsim;
  let client: VimClient;
  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0']);
    client = await sim.connect();
  });
  afterAll(() => {
    client?.close();
    sim?.stop();
  });

  it('creates 3 disks on 2 controllers and 3 NICs, and reads back sizes, placement, MACs and VLANs', async () => {
    const where = await defaultPlacement(client);
    const vm = await createVmWithDevices(client, where, { name: 'unmanaged-01', disksGiB: [16, 50, 100], nics: ['PG-VLAN101', 'PG-VLAN102', 'DVPG-VLAN201'], powerOn: true });
    const dev = await vmDevices(client, vm);
    expect(dev.disks.map(({ controller, bus, unit, gib }) => ({ controller, bus, unit, gib }))).toEqual([
      { controller: 'ParaVirtualSCSIController', bus: 0, unit: 0, gib: 16 },
      { controller: 'ParaVirtualSCSIController', bus: 0, unit: 1, gib: 50 },
      { controller: 'VirtualLsiLogicSASController', bus: 1, unit: 0, gib: 100 },
    ]);
    expect(new Set(dev.disks.map((d) => d.file)).size).toBe(3);
    for (const d of dev.disks) expect(d.file).toMatch(/^\[LocalDS_0\] unmanaged-01\/unmanaged-01(_\d)?\.vmdk$/);
    expect(dev.nics.map(({ type, portgroup, vlan }) => ({ type, portgroup, vlan }))).toEqual([
      { type: 'VirtualVmxnet3', portgroup: 'PG-VLAN101', vlan: 101 },
      { type: 'VirtualE1000e', portgroup: 'PG-VLAN102', vlan: 102 },
      { type: 'VirtualVmxnet3', portgroup: 'DVPG-VLAN201', vlan: 201 },
    ]);
    for (const n of dev.nics) expect(n.mac).toMatch(/^00:0c:29(:[0-9a-f]{2}){3}$/);
  });
});
