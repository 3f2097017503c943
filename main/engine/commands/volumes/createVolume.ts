import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { VOLUME_SIZE_RULE } from '../../volumes/size-rule.js';
import { byUuid } from '../../lookup.js';
import { ApiError } from '../../registry/errors.js';
import { resolveOwner } from '../../vm/deploy-input.js';
import type { DiskOfferingRow } from '../../vm/rows.js';
import { volumeJob, volumesOf } from './volumes-of.js';

export default defineCommand({
  name: 'createVolume',
  description: 'Creates a data disk volume from a disk offering (Allocated: its disk is made on the host of the first VM it is attached to); with virtualmachineid it is attached to that VM at once.',
  kind: 'asyncCreate',
  roles: ALL_ROLES,
  response: 'volume',
  params: [
    { name: 'diskofferingid', type: 'uuid', required: true, description: 'the ID of the disk offering' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the availability zone (default: the zone of virtualmachineid)' },
    { name: 'name', type: 'string', description: 'the name of the disk volume' },
    { name: 'size', type: 'long', description: 'Arbitrary volume size in GB, for a custom disk offering', rule: VOLUME_SIZE_RULE },
    { name: 'virtualmachineid', type: 'uuid', description: 'the ID of the virtual machine to attach the volume to' },
    { name: 'account', type: 'string', description: 'the account associated with the disk volume; must be used with domainid' },
    { name: 'domainid', type: 'uuid', description: 'the domain ID associated with the disk volume' },
  ],
  handler({ engine, caller }, args) {
    const volumes = volumesOf(engine);
    const offering = byUuid<DiskOfferingRow>(engine.db, 'diskOffering', args.uuid('diskofferingid')!, 'diskofferingid');
    const vmUuid = args.uuid('virtualmachineid');
    const vm = vmUuid ? engine.vms.forCaller(caller, vmUuid, 'virtualmachineid') : undefined;
    const zoneUuid = args.uuid('zoneid');
    if (!zoneUuid && !vm) throw ApiError.param('zoneid: give the zone of the volume (or virtualmachineid)');
    const zoneId = zoneUuid ? byUuid<{ id: number }>(engine.db, 'zone', zoneUuid, 'zoneid').id : vm!.zone_id;
    const owner = args.has('account') || args.has('domainid') ? resolveOwner(engine, caller, args) : vm ? { accountId: vm.account_id, domainId: vm.domain_id } : { accountId: caller.accountId, domainId: caller.domainId };
    const sizeGb = args.int('size');
    // Every check (the attach's too) before anything is written.
    if (vm) volumes.checkAttachable(vm, owner.accountId, zoneId);
    const created = volumes.create(caller, { owner, zoneId, offering, sizeGb, name: args.str('name') });
    const claimed = vm ? volumes.claimAttach(created, vm, undefined) : created;
    return volumeJob(engine, caller, claimed, vm?.id ?? null, async (jobUuid) => (vm ? volumes.attach(caller, claimed, jobUuid) : claimed));
  },
});
