import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { VOLUME_SIZE_RULE } from '../../volumes/size-rule.js';
import { byUuid } from '../../lookup.js';
import type { DiskOfferingRow } from '../../vm/rows.js';
import { volumeJob, volumesOf } from './volumes-of.js';

export default defineCommand({
  name: 'resizeVolume',
  description: 'Resizes a volume: grows it (live on a running VM), or shrinks it only with shrinkok=true.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'volume',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the disk volume' },
    { name: 'size', type: 'long', description: 'New volume size in GB (a custom offering, or a root disk)', rule: VOLUME_SIZE_RULE },
    { name: 'diskofferingid', type: 'uuid', description: 'new disk offering id (its fixed size, or size for a custom one)' },
    { name: 'shrinkok', type: 'boolean', description: 'Verify OK to Shrink' },
  ],
  handler({ engine, caller }, args) {
    const volumes = volumesOf(engine);
    const volume = volumes.forCaller(caller, args.uuid('id')!);
    const offeringUuid = args.uuid('diskofferingid');
    const offering = offeringUuid ? byUuid<DiskOfferingRow>(engine.db, 'diskOffering', offeringUuid, 'diskofferingid') : undefined;
    const shrinkOk = args.bool('shrinkok') ?? false;
    const claim = volumes.claimResize(volume, { sizeGb: args.int('size'), offering, shrinkOk });
    return volumeJob(engine, caller, claim.volume, claim.volume.vm_id, (jobUuid) => volumes.resize(caller, { ...claim, shrinkOk }, jobUuid));
  },
});
