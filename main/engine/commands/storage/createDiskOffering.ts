import { randomUUID } from 'node:crypto';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { now } from '../../db/database.js';
import { diskOfferingView } from '../../views.js';
import { GiB } from '../../format.js';
import type { DiskOfferingRow } from '../../vm/rows.js';
import { parseTags, STORAGE_TAGS_RULE } from '../../storage/pool-records.js';

export default defineCommand({
  name: 'createDiskOffering',
  description: 'Creates a disk offering: a fixed size or a custom one, and the storage tags its volumes\' pool must have.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'diskoffering',
  params: [
    { name: 'name', type: 'string', required: true, description: 'name of the disk offering' },
    { name: 'displaytext', type: 'string', description: 'alternate display text of the disk offering' },
    { name: 'disksize', type: 'long', description: 'size of the disk offering in GB (1 GB = 1,073,741,824 bytes); omit with customized=true' },
    { name: 'customized', type: 'boolean', description: 'whether the disk offering is custom: the size is given when a volume is made' },
    { name: 'storagetype', type: 'string', description: 'the storage type of the disk offering: shared or local' },
    { name: 'tags', type: 'string', rule: STORAGE_TAGS_RULE, description: 'tags for the disk offering: its volumes go on a pool that has them all' },
  ],
  handler({ engine }, args) {
    const customized = args.bool('customized') ?? false;
    const size = args.int('disksize');
    if (customized && size !== undefined) throw ApiError.param('disksize: a customized disk offering takes its size when a volume is made; omit disksize');
    if (!customized && (size === undefined || size < 1)) throw ApiError.param('disksize: give the size in GB (1 or more), or customized=true');
    const storage = args.str('storagetype') ?? 'shared';
    if (storage !== 'shared' && storage !== 'local') throw ApiError.param('storagetype: shared or local');
    const id = engine.db
      .prepare('INSERT INTO disk_offerings (uuid, name, display_text, disk_size, is_customized, storage_type, tags, created) VALUES (?,?,?,?,?,?,?,?)')
      .run(randomUUID(), args.str('name'), args.str('displaytext') ?? args.str('name'), customized ? 0 : size! * GiB, customized ? 1 : 0, storage, parseTags(args.str('tags')).join(','), now()).lastInsertRowid;
    return diskOfferingView(engine.db.prepare('SELECT * FROM disk_offerings WHERE id=?').get(id) as DiskOfferingRow);
  },
});
