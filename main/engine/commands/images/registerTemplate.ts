import { randomUUID } from 'node:crypto';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import { templateView } from '../../views.js';
import type { TemplateRow } from '../../vm/rows.js';

const FORMATS = ['QCOW2', 'RAW', 'VHD', 'OVA', 'ISO'];

export default defineCommand({
  name: 'registerTemplate',
  description: 'Registers a template (or, with format ISO, an ISO). Kiln reads the image where the hosts see it: url is a path (or file:// URL) on the hosts\' shared storage.',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'template',
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the template' },
    { name: 'displaytext', type: 'string', description: 'the display text of the template' },
    { name: 'format', type: 'string', required: true, description: 'the format: QCOW2, RAW, VHD, OVA or ISO' },
    { name: 'hypervisor', type: 'string', required: true, description: 'the target hypervisor for the template' },
    { name: 'ostypeid', type: 'uuid', required: true, description: 'the ID of the OS Type that best represents the OS of this template' },
    { name: 'url', type: 'string', required: true, maxLength: 2048, description: 'path or file:// URL of the image on the hosts\' storage' },
    { name: 'zoneid', type: 'uuid', description: 'the zone the template is to be hosted on (all zones when omitted)' },
    { name: 'isdynamicallyscalable', type: 'boolean', description: 'true if template contains XS/VMWare tools in order to support dynamic scaling of VM cpu/memory' },
    { name: 'ispublic', type: 'boolean', description: 'true if the template is available to all accounts' },
    { name: 'isfeatured', type: 'boolean', description: 'true if this template is a featured template' },
    { name: 'size', type: 'long', description: 'Kiln: the virtual size in bytes (root disks are at least this big)' },
    { name: 'details', type: 'map', description: 'Template details: kernel, initrd, kernelArgs for direct kernel boot; resetonreboot' },
  ],
  handler({ engine, caller }, args) {
    const format = args.str('format')!.toUpperCase();
    if (!FORMATS.includes(format)) throw ApiError.param(`format: one of ${FORMATS.join(', ')}`);
    const os = byUuid<{ id: number }>(engine.db, 'guestOs', args.uuid('ostypeid')!, 'ostypeid');
    const zone = args.uuid('zoneid') ? byUuid<{ id: number }>(engine.db, 'zone', args.uuid('zoneid')!, 'zoneid') : undefined;
    const path = args.str('url')!.replace(/^file:\/\//, '');
    if (!path.startsWith('/')) throw ApiError.param('url: give the absolute path of the image on the hosts (or a file:// URL)');
    if (args.bool('ispublic') && caller.role === 'User') throw ApiError.denied('ispublic: only admins publish templates');
    const id = engine.db
      .prepare(
        `INSERT INTO templates (uuid, name, display_text, format, hypervisor, is_iso, os_type_id, is_public, is_featured, is_dynamically_scalable, size, url, image_path, details, account_id, zone_id, created)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .run(
        randomUUID(), args.str('name'), args.str('displaytext') ?? args.str('name'), format, args.str('hypervisor'), format === 'ISO' ? 1 : 0, os.id,
        args.bool('ispublic') ? 1 : 0, args.bool('isfeatured') ? 1 : 0, args.bool('isdynamicallyscalable') ? 1 : 0, args.int('size') ?? 0, args.str('url'), path,
        JSON.stringify(args.details('details') ?? {}), caller.accountId, zone?.id ?? null, now(),
      ).lastInsertRowid;
    engine.events.record({ type: format === 'ISO' ? 'ISO.CREATE' : 'TEMPLATE.CREATE', description: `${format === 'ISO' ? 'ISO' : 'template'} ${args.str('name')} registered`, userId: caller.userId, accountId: caller.accountId });
    return [templateView(engine.db, engine.db.prepare('SELECT * FROM templates WHERE id=?').get(id) as TemplateRow)];
  },
});
