import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { resolveResources } from '../../vm/deploy-input.js';
import { offeringGpu, offeringTags, requestForVm } from '../../placement/request.js';
import { resolveGroups } from '../affinity/groups.js';
import { offeringStorageNeeds } from '../../storage/pool-choice.js';
import type { OfferingRow } from '../../vm/rows.js';

export default defineCommand({
  name: 'explainPlacement',
  description: 'Kiln: a dry run of host placement for a VM (as if it were starting now) or for an offering in a zone: every host considered, its verdict and the reason, and the order the suitable ones would be tried in.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'placement',
  params: [
    { name: 'virtualmachineid', type: 'uuid', description: 'explain where this VM would start' },
    { name: 'zoneid', type: 'uuid', description: 'the zone, for an offering' },
    { name: 'serviceofferingid', type: 'uuid', description: 'the offering (with zoneid) or a new offering for the VM' },
    { name: 'details', type: 'map', description: 'cpuNumber, cpuSpeed and memory for a custom offering' },
    { name: 'affinitygroupids', type: 'list', description: 'affinity groups a new VM would join' },
    { name: 'podid', type: 'uuid', description: 'restrict to a pod' },
    { name: 'clusterid', type: 'uuid', description: 'restrict to a cluster' },
    { name: 'hostid', type: 'uuid', description: 'restrict to a host' },
  ],
  handler({ engine, caller }, args) {
    const db = engine.db;
    const scope = {
      podId: args.uuid('podid') ? byUuid<{ id: number }>(db, 'pod', args.uuid('podid')!, 'podid').id : undefined,
      clusterId: args.uuid('clusterid') ? byUuid<{ id: number }>(db, 'cluster', args.uuid('clusterid')!, 'clusterid').id : undefined,
      hostId: args.uuid('hostid') ? byUuid<{ id: number }>(db, 'host', args.uuid('hostid')!, 'hostid').id : undefined,
    };
    const offering = args.uuid('serviceofferingid') ? byUuid<OfferingRow>(db, 'serviceOffering', args.uuid('serviceofferingid')!, 'serviceofferingid') : undefined;
    let request;
    if (args.uuid('virtualmachineid')) {
      const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
      // A new offering brings its own GPU, or none (it replaces the VM's, as a change of offering would).
      const resized = offering ? { ...resolveResources(offering, args.details('details') ?? {}), hostTags: offeringTags(offering), gpu: offeringGpu(offering).gpu } : {};
      request = requestForVm(db, vm, { ...resized, ...scope });
    } else {
      if (!args.uuid('zoneid') || !offering) throw ApiError.param('virtualmachineid, or zoneid with serviceofferingid: say what to place');
      const zone = byUuid<{ id: number }>(db, 'zone', args.uuid('zoneid')!, 'zoneid');
      const affinityGroupIds = resolveGroups(db, caller.accountId, args.list('affinitygroupids'), undefined, { ids: 'affinitygroupids', names: 'affinitygroupnames' });
      request = { zoneId: zone.id, ...resolveResources(offering, args.details('details') ?? {}), hostTags: offeringTags(offering), ...offeringGpu(offering), accountId: caller.accountId, affinityGroupIds, storageNeeds: offeringStorageNeeds(offering, undefined, false), ...scope };
    }
    const outcome = engine.planner.plan(request);
    return { policy: outcome.policy, hostid: outcome.host?.uuid, hostname: outcome.host?.name, order: outcome.order, hosts: outcome.considered };
  },
});
