import { defineCommand, ADMIN_ONLY, type ParamDef } from '../../registry/types.js';
import { HOSTNAME_RULE } from '../../registry/param-rules.js';
import { importWork, planImport } from '../../import/import-vm.js';

/** How a VM's NICs and data disks are mapped (importUnmanagedInstance, and importVm importsource=external). */
export const NIC_AND_DISK_MAPS: ParamDef[] = [
  { name: 'nicnetworklist', type: 'map', description: 'NIC to network: nicnetworklist[0].nic=NICID&nicnetworklist[0].network=NETWORKID; NICs not listed go to the L2 or shared network of their VLAN' },
  { name: 'nicipaddresslist', type: 'map', description: 'NIC to IPv4: nicipaddresslist[0].nic=NICID&nicipaddresslist[0].ip4Address=IP, or auto for the address the guest reports' },
  { name: 'datadiskofferinglist', type: 'map', description: 'data disk to disk offering: datadiskofferinglist[0].disk=DISKID&datadiskofferinglist[0].diskOffering=ID; required for every data disk' },
];

export default defineCommand({
  name: 'importUnmanagedInstance',
  description: 'Imports a VM Kiln does not manage from a cluster\'s host, as it is: it becomes an ordinary Kiln VM whose starts keep its hypervisor definition. Every rule is checked before the job; a refusal is a 431 naming its parameter.',
  since: '4.14.0',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  params: [
    { name: 'clusterid', type: 'uuid', required: true, description: 'the cluster ID' },
    { name: 'name', type: 'string', required: true, description: 'the hypervisor name of the instance (listUnmanagedInstances name)' },
    { name: 'displayname', type: 'string', description: 'the display name of the instance; default: its hypervisor name' },
    { name: 'hostname', type: 'string', maxLength: 63, rule: HOSTNAME_RULE, description: 'the host name of the instance; default: its hypervisor name' },
    { name: 'account', type: 'string', description: 'an optional account for the virtual machine; needs domainid' },
    { name: 'domainid', type: 'uuid', description: 'the domain of the account; needs account' },
    { name: 'projectid', type: 'uuid', description: 'the project for the virtual machine (Kiln has no projects: refused)' },
    { name: 'templateid', type: 'uuid', description: "the template for the VM; without it Kiln's dummy import template, which cannot be restored to, and the guest OS is mapped from the hypervisor's" },
    { name: 'serviceofferingid', type: 'uuid', required: true, description: 'the service offering: a fixed one must match the VM\'s CPU and memory unless the VM is stopped; a custom one takes them from the VM' },
    ...NIC_AND_DISK_MAPS,
    { name: 'details', type: 'map', description: 'VM details; details[0].cpuSpeed (MHz) for a custom unconstrained offering when the VM has no CPU reservation' },
    { name: 'migrateallowed', type: 'boolean', description: 'true to move the VM live to a host that has the offering\'s host tags, when its own lacks them' },
    { name: 'forced', type: 'boolean', description: 'true to reuse a MAC address Kiln already knows (a NIC kept by unmanage); false refuses it' },
  ],
  async handler({ engine, caller }, args) {
    return importWork(engine, caller, await planImport(engine, caller, args));
  },
});
