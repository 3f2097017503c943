import { defineCommand, ALL_ROLES, ADMIN_ONLY } from '../../registry/types.js';
import { HOSTNAME_RULE } from '../../registry/param-rules.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { requireAccountAccess } from '../../vm/access.js';
import type { DiskOfferingRow, NetworkRow, OfferingRow, TemplateRow } from '../../vm/rows.js';
import { resolveOwner, resolvePlacement, resolveResources } from '../../vm/deploy-input.js';
import { offeringGpu, offeringTags, osCategoryOf, privateVlanNeed } from '../../placement/request.js';
import { resolveGroups } from '../affinity/groups.js';
import { requireImageReady } from '../../images/readiness.js';
import { checkUserData } from '../../vm/user-data.js';
import { resolveKeyPairs, setVmKeys } from '../../ssh-keys/vm-keys.js';
import { applianceChoices } from '../../images/appliances.js';
import { offeringStorageNeeds } from '../../storage/pool-choice.js';

export default defineCommand({
  name: 'deployVirtualMachine',
  description: 'Creates and automatically starts a virtual machine based on a service offering, disk offering, and template.',
  kind: 'asyncCreate',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  // properties: an appliance's values may be passwords (listTemplateOvfProperties says which); none is kept in the job record.
  sensitive: ['password', 'userdata', 'properties'],
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'availability zone for the virtual machine' },
    { name: 'serviceofferingid', type: 'uuid', required: true, description: 'the ID of the service offering for the virtual machine' },
    { name: 'templateid', type: 'uuid', required: true, description: 'the ID of the template (or ISO) for the virtual machine' },
    { name: 'name', type: 'string', maxLength: 63, rule: HOSTNAME_RULE, description: 'host name for the virtual machine' },
    { name: 'displayname', type: 'string', description: 'an optional user generated name for the virtual machine' },
    { name: 'group', type: 'string', description: 'an optional group for the virtual machine' },
    { name: 'networkids', type: 'list', of: 'uuid', description: 'list of network ids used by virtual machine' },
    { name: 'diskofferingid', type: 'uuid', description: 'the disk offering: a data disk for a template, the root disk for an ISO' },
    { name: 'size', type: 'long', description: 'the size in GB for a custom disk offering' },
    { name: 'rootdisksize', type: 'long', description: 'the root disk size in GB' },
    { name: 'hostid', type: 'uuid', roles: ADMIN_ONLY, description: 'destination host for the virtual machine (root admin only)' },
    { name: 'podid', type: 'uuid', roles: ADMIN_ONLY, description: 'destination pod for the virtual machine (root admin only)' },
    { name: 'clusterid', type: 'uuid', roles: ADMIN_ONLY, description: 'destination cluster for the virtual machine (root admin only)' },
    { name: 'startvm', type: 'boolean', description: 'true by default; false creates the VM without starting it' },
    { name: 'details', type: 'map', description: 'details: cpuNumber, cpuSpeed and memory for custom offerings, configurationId (the deployment option of an appliance template), and other VM details' },
    { name: 'properties', type: 'map', description: 'an appliance template\'s properties (listTemplateOvfProperties): properties[0].key=K&properties[0].value=V' },
    { name: 'nicnetworklist', type: 'map', description: 'an appliance template\'s NICs onto networks: nicnetworklist[0].nic=<the NIC\'s InstanceID>&nicnetworklist[0].network=<network id>' },
    { name: 'dynamicscalingenabled', type: 'boolean', description: 'true if the VM may be scaled live (also needs the template and offering to allow it)' },
    { name: 'haenable', type: 'boolean', description: 'true to have HA restart the VM (defaults to the offering)' },
    { name: 'userdata', type: 'string', maxLength: 1048576, description: 'base64 user data, up to 32 KB decoded' },
    { name: 'keypair', type: 'string', description: 'name of the ssh key pair used to login to the virtual machine' },
    { name: 'keypairs', type: 'list', description: 'names of the ssh key pairs used to login to the virtual machine' },
    { name: 'hypervisor', type: 'string', description: 'the hypervisor on which to deploy the virtual machine' },
    { name: 'affinitygroupids', type: 'list', description: 'comma separated list of affinity groups id that are going to be applied to the virtual machine' },
    { name: 'affinitygroupnames', type: 'list', description: 'comma separated list of affinity groups names that are going to be applied to the virtual machine' },
    { name: 'account', type: 'string', description: 'an optional account for the virtual machine; needs domainid' },
    { name: 'domainid', type: 'uuid', description: 'an optional domain ID for the virtual machine; needs account' },
  ],
  handler({ engine, caller }, args) {
    const db = engine.db;
    const zone = byUuid<{ id: number; name: string; allocation_state: string }>(db, 'zone', args.uuid('zoneid')!, 'zoneid');
    if (zone.allocation_state !== 'Enabled' && caller.role !== 'Admin') throw ApiError.unavailable(`zone ${zone.name} is disabled`);
    const offering = byUuid<OfferingRow>(db, 'serviceOffering', args.uuid('serviceofferingid')!, 'serviceofferingid');
    const image = byUuid<TemplateRow>(db, 'template', args.uuid('templateid')!, 'templateid');
    if (!image.is_public) requireAccountAccess(db, caller, image.account_id, `template ${image.name}`);
    if (image.zone_id !== null && image.zone_id !== zone.id) throw ApiError.param(`templateid: template ${image.name} is not available in zone ${zone.name}`);
    requireImageReady(image, 'templateid');
    if (image.format === 'XVA') throw ApiError.param(`templateid: ${image.name} is an exported XenServer VM (XVA); bring it in with importVm importsource=xva`);
    const diskOffering = args.uuid('diskofferingid') ? byUuid<DiskOfferingRow>(db, 'diskOffering', args.uuid('diskofferingid')!, 'diskofferingid') : undefined;
    if (diskOffering?.is_customized) {
      const size = args.int('size');
      if (!size || size < 1) throw ApiError.param('size: a custom disk offering needs size in GB');
      diskOffering.disk_size = size * 1024 ** 3;
    }
    if (image.is_iso && !diskOffering && !args.int('rootdisksize')) throw ApiError.param('diskofferingid: a VM deployed from an ISO needs a disk offering for its blank root disk');
    const networks = (args.list('networkids') ?? []).map((id) => byUuid<NetworkRow>(db, 'network', id, 'networkids'));
    for (const n of networks) if (n.zone_id !== zone.id) throw ApiError.param(`networkids: network ${n.name} is not in zone ${zone.name}`);
    if (networks.length === 0) {
      const fallback = db.prepare(`SELECT * FROM networks WHERE zone_id=? AND removed IS NULL AND (account_id IS NULL OR account_id=?) ORDER BY id LIMIT 1`).get(zone.id, caller.accountId) as NetworkRow | undefined;
      if (!fallback) throw ApiError.param('networkids: the zone has no network this account can use; pass networkids');
      networks.push(fallback);
    }
    const owner = resolveOwner(engine, caller, args);
    const placement = resolvePlacement(engine, zone.id, args);
    const affinityGroupIds = resolveGroups(db, owner.accountId, args.list('affinitygroupids'), args.list('affinitygroupnames'), { ids: 'affinitygroupids', names: 'affinitygroupnames' });
    const keyPairs = resolveKeyPairs(db, owner.accountId, args.str('keypair'), args.list('keypairs'));
    const details = args.details('details') ?? {};
    const offered = resolveResources(offering, details);
    // An appliance template (R37-R38): its option gives the size (the offering must meet it), its NICs the networks.
    const appliance = applianceChoices(engine, image, offering, offered, details, args.details('properties') ?? {}, args.map('nicnetworklist') ?? [], networks, (id) => {
      const n = byUuid<NetworkRow>(db, 'network', id, 'nicnetworklist');
      if (n.zone_id !== zone.id) throw ApiError.param(`nicnetworklist: network ${n.name} is not in zone ${zone.name}`);
      return n;
    });
    const resources = appliance?.resources ?? offered;
    const userData = args.str('userdata');
    if (userData !== undefined) checkUserData(userData);
    const scalable = (args.bool('dynamicscalingenabled') ?? true) && image.is_dynamically_scalable === 1 && offering.dynamic_scaling_enabled === 1;
    const startVm = args.bool('startvm') ?? true;
    // Refuse at once, writing nothing, when no host in scope could ever hold this offering (nor, for a VM that starts now, isolate its private VLAN).
    engine.planner.require({ zoneId: zone.id, ...placement, ...resources, hostTags: offeringTags(offering), ...offeringGpu(offering), accountId: owner.accountId, osCategoryId: osCategoryOf(db, image.os_type_id), affinityGroupIds, storageNeeds: offeringStorageNeeds(offering, diskOffering, image.is_iso === 1), ...(startVm ? privateVlanNeed(networks.map((n) => ({ ...n, network_name: n.name }))) : {}) }, `offering ${offering.name}`);

    // The VM and the public keys it is given are written together, or neither.
    const vm = db.transaction(() => {
      const allocated = engine.vms.allocate(caller, {
        zoneId: zone.id, offering, template: image.is_iso ? undefined : image, iso: image.is_iso ? image : undefined, diskOffering,
        rootDiskSizeGiB: args.int('rootdisksize'), networks: appliance?.networks ?? networks, name: args.str('name'), displayName: args.str('displayname'), group: args.str('group'),
        ...placement, startVm, ...resources, haEnabled: args.bool('haenable') ?? offering.offer_ha === 1, dynamicallyScalable: scalable,
        userData, affinityGroupIds, details: Object.fromEntries(Object.entries(details).filter(([k]) => !['cpuNumber', 'cpuSpeed', 'memory'].includes(k))), owner,
      });
      setVmKeys(db, allocated.id, keyPairs);
      appliance?.record(allocated.id);
      return allocated;
    })();
    return engine.vms.deployWork(caller, vm, startVm, placement);
  },
});
