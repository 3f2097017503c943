import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { importFromDisk } from '../../import/import-disk.js';
import { EXTERNAL_HOST_PARAMS } from './listVmsForImport.js';
import { NIC_AND_DISK_MAPS } from './importUnmanagedInstance.js';

export default defineCommand({
  name: 'importVm',
  description:
    "Imports a KVM VM Kiln does not manage. importsource=external: a shut-off VM on a host Kiln does not manage (host, username, password or privatekey; the host's SSH key is pinned on first use), whose disks are copied onto the storage pool of a host of clusterid; the source VM is left as it is, and the copy becomes an ordinary stopped Kiln VM under importUnmanagedInstance's rules. importsource=local or shared: a disk image in a host's storage pool (diskpath) becomes the root volume of a new VM, started on that host. importsource=xva: an exported XenServer VM registered with registerTemplate format=XVA (templateid) is imported into the pool of clusterid (xapi's /import) as VM name, then taken over under importUnmanagedInstance's rules; if those refuse it, it stays in the pool as an unmanaged VM.",
  since: '4.19.0',
  kind: 'async',
  roles: ADMIN_ONLY,
  response: 'virtualmachine',
  sensitive: ['password', 'privatekey'],
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'the zone of the VM' },
    { name: 'importsource', type: 'string', required: true, description: 'external (a host Kiln does not manage), local or shared (a disk image in a host\'s pool), or xva (an XVA registered with registerTemplate format=XVA)' },
    { name: 'name', type: 'string', required: true, maxLength: 255, description: 'external: the name of the VM on the host (listVmsForImport name); local/shared: the host name of the new VM; xva: the name the imported VM gets in the pool' },
    { name: 'displayname', type: 'string', description: 'the display name of the new VM' },
    { name: 'hostname', type: 'string', maxLength: 63, description: 'external: the host name of the VM; default: its name' },
    { name: 'hypervisor', type: 'string', description: 'KVM' },
    ...EXTERNAL_HOST_PARAMS,
    { name: 'clusterid', type: 'uuid', description: 'external: the cluster whose host receives the copy (required); xva: the pool the VM is imported into (required)' },
    { name: 'hostid', type: 'uuid', description: "local/shared: the host whose storage pool holds diskpath; external: the host of clusterid whose pool receives the copy (default: the cluster's first host that is Up); xva: the host whose VM it becomes (default: storageid's host for a local pool, else the cluster's first host that is Up)" },
    { name: 'storageid', type: 'uuid', description: "xva: the storage pool of clusterid the VM's disks go onto (default: the pool's default SR); a host's local pool makes that host the VM's home. Other sources: refused (give hostid)" },
    { name: 'diskpath', type: 'string', maxLength: 255, description: "local/shared: the disk's volume name in the host's storage pool (a name, never a path)" },
    { name: 'tmppath', type: 'string', description: 'a scratch path on the external host (Kiln: refused; it makes a fresh directory in the host\'s TMPDIR)' },
    { name: 'serviceofferingid', type: 'uuid', description: "required except for xva, where without it the VM is only brought into the pool and left unmanaged (for importUnmanagedInstance; the job's virtualmachine is then its listUnmanagedInstances row); the service offering: external as importUnmanagedInstance (a fixed one sizes the VM at its first start, a custom one takes the VM's CPU and memory); local/shared: details cpuNumber, cpuSpeed and memory for a custom one" },
    { name: 'networkid', type: 'uuid', description: "local/shared: the VM's network; default: the zone's first one the account can use" },
    // external: as importUnmanagedInstance maps them.
    ...NIC_AND_DISK_MAPS,
    { name: 'templateid', type: 'uuid', description: "the VM's template (its OS); default: Kiln's dummy import template (external: the guest OS is then mapped from the VM's). xva: the XVA to import (registerTemplate format=XVA), whose OS type the VM gets" },
    { name: 'account', type: 'string', description: 'an optional account for the VM; needs domainid' },
    { name: 'domainid', type: 'uuid', description: 'the domain of the account; needs account' },
    { name: 'projectid', type: 'uuid', description: 'the project for the VM (Kiln has no projects: refused)' },
    { name: 'details', type: 'map', description: 'VM details; cpuNumber, cpuSpeed and memory for a custom offering (local/shared), cpuSpeed for a custom unconstrained one (external)' },
    { name: 'forced', type: 'boolean', description: 'external: true to reuse a MAC address Kiln already knows (a NIC kept by unmanage)' },
    { name: 'migrateallowed', type: 'boolean', description: 'external: accepted; the copy is placed by the offering\'s host tags at its first start anyway' },
  ],
  handler({ engine, caller }, args) {
    return importFromDisk(engine, caller, args);
  },
});
