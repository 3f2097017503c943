/**
 * The import wizard's NIC-to-network pre-fill (renderer/src/api/import-plan.ts): a NIC goes to the
 * zone's first L2 or shared network of its VLAN, as importUnmanagedInstance maps an unlisted NIC;
 * an isolated network, another VLAN or no VLAN pre-fills nothing and is flagged; a network chosen
 * by hand on another VLAN is flagged as the mismatch the engine refuses; the parameters carry
 * each NIC's network.
 */
import { describe, expect, it } from 'vitest';
import { canChoose, importParams, needsTemplate, nicProblem, prefillNicNetworks, templateOptions, templateProblem, vlanMatches, type ImportNetwork, type UnmanagedVm } from '../../renderer/src/api/import-plan';

const networks: ImportNetwork[] = [
  { id: 'iso-100', name: 'Isolated 100', type: 'Isolated', vlan: '100' },
  { id: 'l2-100', name: 'Demo L2', type: 'L2', vlan: '100' },
  { id: 'shared-100', name: 'Shared 100', type: 'Shared', vlan: '100' },
  { id: 'shared-200', name: 'Shared 200', type: 'Shared', vlan: '200' },
  { id: 'untagged', name: 'Lab untagged', type: 'L2' },
];

const vm: UnmanagedVm = {
  name: 'legacy-web', clusterid: 'c1', importable: true, cpunumber: 2, memory: 2048,
  nic: [
    { id: 'nic0', macaddress: '52:54:00:00:00:01', vlanid: 100, networkname: 'vlan100' },
    { id: 'nic1', macaddress: '52:54:00:00:00:02', vlanid: 200, networkname: 'vlan200' },
    { id: 'nic2', macaddress: '52:54:00:00:00:03', vlanid: 300, networkname: 'vlan300' },
    { id: 'nic3', macaddress: '52:54:00:00:00:04', networkname: 'br-lab' },
  ],
  disk: [{ id: 'root', capacity: 1, position: 0 }],
};

describe('NIC to network pre-fill by VLAN', () => {
  it('takes the first L2 or shared network of the VLAN, never an isolated one, and leaves unmatched NICs unset', () => {
    expect(vlanMatches(vm.nic![0]!, networks).map((n) => n.id)).toEqual(['l2-100', 'shared-100']);
    expect(prefillNicNetworks(vm, networks)).toEqual({ nic0: 'l2-100', nic1: 'shared-200' });
    // Without the L2 one, the shared network of VLAN 100; an isolated network alone matches nothing.
    expect(prefillNicNetworks(vm, networks.filter((n) => n.id !== 'l2-100'))).toMatchObject({ nic0: 'shared-100' });
    expect(prefillNicNetworks(vm, [networks[0]!])).toEqual({});
  });

  it('flags a NIC no network matches, and a network chosen on another VLAN', () => {
    const chosen = prefillNicNetworks(vm, networks);
    expect(nicProblem(vm.name, vm.nic![0]!, chosen['nic0'], networks)).toBeUndefined();
    expect(nicProblem(vm.name, vm.nic![2]!, chosen['nic2'], networks)).toBe('NIC nic2 of legacy-web (VLAN 300, on vlan300): no L2 or shared network of the zone is on its VLAN; choose a network');
    expect(nicProblem(vm.name, vm.nic![3]!, chosen['nic3'], networks)).toBe('NIC nic3 of legacy-web (no VLAN, on br-lab): no L2 or shared network of the zone is on its VLAN; choose a network');
    expect(nicProblem(vm.name, vm.nic![2]!, 'l2-100', networks)).toBe('NIC nic2 of legacy-web (VLAN 300, on vlan300): network Demo L2 is on VLAN 100, not 300');
    // An untagged network, or an isolated one, is no VLAN mismatch (the engine accepts them).
    expect(nicProblem(vm.name, vm.nic![2]!, 'untagged', networks)).toBeUndefined();
    expect(nicProblem(vm.name, vm.nic![2]!, 'iso-100', networks)).toBeUndefined();
    expect(nicProblem(vm.name, vm.nic![3]!, 'l2-100', networks)).toBeUndefined();
  });

  it('matches a NIC on a private VLAN only to the network with the same primary and secondary VLAN, and a plain NIC never to a private one', () => {
    const withPvlan: ImportNetwork[] = [{ id: 'pv-100-501', name: 'PV 100/501', type: 'L2', vlan: '100', isolatedpvlan: '501' }, ...networks];
    const pvNic = { id: 'nic0', macaddress: '52:54:00:00:00:09', vlanid: 100, isolatedpvlan: 501, networkname: 'DVPG-PVLAN100-501' };
    expect(vlanMatches(pvNic, withPvlan).map((n) => n.id)).toEqual(['pv-100-501']);
    expect(vlanMatches(vm.nic![0]!, withPvlan).map((n) => n.id)).toEqual(['l2-100', 'shared-100']);
    expect(vlanMatches({ ...pvNic, isolatedpvlan: 502 }, withPvlan)).toEqual([]);
    expect(nicProblem(vm.name, pvNic, 'l2-100', withPvlan)).toBe('NIC nic0 of legacy-web (VLAN 100 (private VLAN 501), on DVPG-PVLAN100-501): network Demo L2 is on VLAN 100, not VLAN 100 (private VLAN 501)');
    expect(nicProblem(vm.name, vm.nic![0]!, 'pv-100-501', withPvlan)).toBe('NIC nic0 of legacy-web (VLAN 100, on vlan100): network PV 100/501 is on VLAN 100 (private VLAN 501), not VLAN 100');
    expect(nicProblem(vm.name, pvNic, 'pv-100-501', withPvlan)).toBeUndefined();
  });

  it("sends each NIC's network as nicnetworklist", () => {
    const nicNetworks = { ...prefillNicNetworks(vm, networks), nic2: 'untagged', nic3: 'untagged' };
    expect(importParams(vm, { nicNetworks, serviceofferingid: 'o1', cpuSpeed: '', diskOfferings: {}, hostname: 'legacy-web' }, undefined)).toEqual({
      clusterid: 'c1', name: 'legacy-web', serviceofferingid: 'o1',
      'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': 'l2-100',
      'nicnetworklist[1].nic': 'nic1', 'nicnetworklist[1].network': 'shared-200',
      'nicnetworklist[2].nic': 'nic2', 'nicnetworklist[2].network': 'untagged',
      'nicnetworklist[3].nic': 'nic3', 'nicnetworklist[3].network': 'untagged',
    });
  });
});

describe('a VM whose OS maps onto no guest OS of Kiln\'s', () => {
  const unmapped: UnmanagedVm = { name: 'old-router', clusterid: 'c1', importable: false, osdisplayname: 'Plan 9', notimportablereason: ['no guest OS matches "Plan 9"; give templateid'], notimportableparams: ['templateid'], disk: [{ id: 'root', capacity: 1 }] };

  it('can be chosen when a template is all it lacks, and not with any other reason beside it', () => {
    expect([needsTemplate(unmapped), canChoose(unmapped)]).toEqual([true, true]);
    const alsoMac: UnmanagedVm = { ...unmapped, notimportablereason: ['MAC known', 'no guest OS'], notimportableparams: ['forced', 'templateid'] };
    expect([needsTemplate(alsoMac), canChoose(alsoMac)]).toEqual([false, false]);
    expect([needsTemplate(vm), canChoose(vm)]).toEqual([false, true]);
    // A listing without the parameters (an older engine) offers nothing it cannot check.
    expect(canChoose({ ...unmapped, notimportableparams: undefined })).toBe(false);
  });

  it('asks for a template until one is chosen, which the import then passes as templateid; the import template and XVAs are not offered', () => {
    expect(templateProblem(unmapped, '')).toBe('Choose a template for old-router: its OS "Plan 9" maps onto no guest OS of Kiln\'s, and the template\'s OS becomes the VM\'s.');
    expect(templateProblem(unmapped, 't-rocky')).toBeUndefined();
    expect(templateProblem(vm, '')).toBeUndefined();
    expect(importParams(unmapped, { nicNetworks: {}, serviceofferingid: 'small', cpuSpeed: '', diskOfferings: {}, hostname: 'old-router', templateid: 't-rocky' }, undefined)).toEqual({ clusterid: 'c1', name: 'old-router', serviceofferingid: 'small', templateid: 't-rocky' });
    const offered = templateOptions([
      { id: 't-rocky', name: 'Rocky 9', isready: true, bootable: true, format: 'QCOW2' },
      { id: 'dummy', name: 'kiln-import-default', isready: true, bootable: false, format: 'RAW' },
      { id: 'xva', name: 'app.xva', isready: true, bootable: true, format: 'XVA' },
      { id: 'busy', name: 'still downloading', isready: false, bootable: true, format: 'VHD' },
    ]);
    expect(offered.map((t) => t.id)).toEqual(['t-rocky']);
  });
});
