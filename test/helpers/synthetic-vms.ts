/**
 * COUNT made-up `virtualmachine` objects for the VM list at scale (the e2e test and bench P6
 * serve them in place of listVirtualMachines): named fx-00000…, cycling through four states,
 * three hosts, two offerings and ten groups.
 */
const STATES = ['Running', 'Stopped', 'Starting', 'Error'];

export function syntheticVms(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(5, '0');
    return {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name: `fx-${n}`,
      displayname: `fx-${n}`,
      state: STATES[i % STATES.length],
      hostname: `sim-host-${(i % 3) + 1}`,
      serviceofferingname: i % 2 ? 'Small Instance' : 'Medium Instance',
      haenable: i % 5 === 0,
      group: `g${i % 10}`,
      zonename: 'Demo',
      nic: [{ id: `nic-${i}`, ipaddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, isdefault: true }],
    };
  });
}
