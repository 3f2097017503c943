// @vitest-environment happy-dom
/**
 * The import wizard's mapping after networks are created from discovery
 * (renderer/src/views/import/missing-networks.tsx): only NICs without a network gain one, by the
 * wizard's VLAN rule; a NIC chosen by hand keeps its network; a VM that gains nothing is left out;
 * a created network is named after its portgroup, else after its VLAN.
 */
import { describe, expect, it } from 'vitest';
import { discoveryName, fillUnmapped, missingVlans, networksOnVlan } from '../../renderer/src/views/import/missing-networks';
import type { ImportNetwork, UnmanagedVm, VmChoices } from '../../renderer/src/api/import-plan';

const vm = (name: string, vlans: (number | undefined)[]): UnmanagedVm => ({
  name, clusterid: 'c1', importable: true,
  nic: vlans.map((vlanid, i) => ({ id: `nic${i}`, macaddress: `52:54:00:00:00:0${i}`, vlanid, networkname: vlanid ? `PG-VLAN${vlanid}` : 'VM Network' })),
});
const choice = (nicNetworks: Record<string, string>): VmChoices => ({ nicNetworks, serviceofferingid: '', cpuSpeed: '', diskOfferings: {}, hostname: '' });

describe('fillUnmapped', () => {
  const networks: ImportNetwork[] = [
    { id: 'iso-101', name: 'iso', type: 'Isolated', vlan: '101' },
    { id: 'pg-101', name: 'PG-VLAN101', type: 'L2', vlan: '101' },
    { id: 'pg-102', name: 'PG-VLAN102', type: 'L2', vlan: '102' },
  ];
  it('maps only the NICs without a network, by VLAN, and leaves out VMs that gain nothing', () => {
    const vms = [vm('web', [101, 201, undefined]), vm('db', [102]), vm('hand', [101]), vm('none', [300])];
    const choices = { web: choice({ nic1: '' }), db: choice({}), hand: choice({ nic0: 'by-hand' }), none: choice({}) };
    expect(fillUnmapped(vms, choices, networks)).toEqual({
      web: { nic0: 'pg-101' },
      db: { nic0: 'pg-102' },
    });
  });
  it('matches a discovered VLAN as the NIC step does and names what it would create', () => {
    expect(networksOnVlan(101, networks).map((n) => n.id)).toEqual(['pg-101']);
    expect(networksOnVlan(undefined, networks)).toEqual([]);
    expect(discoveryName('PG-VLAN103', 103)).toBe('PG-VLAN103');
    expect(discoveryName('  ', 103)).toBe('VLAN 103');
    expect(discoveryName(undefined, 7)).toBe('VLAN 7');
  });
});

describe('missingVlans (the discovery dialog\'s networks to create)', () => {
  const networks: ImportNetwork[] = [
    { id: 'plain-201', name: 'plain-201', type: 'L2', vlan: '201' },
    { id: 'pv-201-501', name: 'pv-201-501', type: 'L2', vlan: '201', isolatedpvlan: '501' },
  ];
  const inKiln = (vlan: number, pvlan?: number) => networksOnVlan(vlan, networks, pvlan).length > 0;
  it('keys a PVLAN portgroup by its VLAN pair: a plain network on the primary VLAN does not stand for it, nor it for the plain one', () => {
    expect(networksOnVlan(201, networks).map((n) => n.id)).toEqual(['plain-201']);
    expect(networksOnVlan(201, networks, 501).map((n) => n.id)).toEqual(['pv-201-501']);
    const found = [
      { portgroup: 'PG-VLAN201', vlan: 201 },
      { portgroup: 'DVPG-PVLAN201-501', vlan: 201, isolatedpvlan: 501 },
      { portgroup: 'DVPG-PVLAN201-502', vlan: 201, isolatedpvlan: 502 },
      { portgroup: 'DVPG-PVLAN201-502-b', vlan: 201, isolatedpvlan: 502 },
      { portgroup: 'PG-VLAN300', vlan: 300 },
      { portgroup: 'VM Network' },
    ];
    expect(missingVlans(found, inKiln)).toEqual([
      { vlan: 201, pvlan: 502, name: 'DVPG-PVLAN201-502' },
      { vlan: 300, pvlan: undefined, name: 'PG-VLAN300' },
    ]);
  });
});
