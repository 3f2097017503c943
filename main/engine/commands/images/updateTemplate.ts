import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { requireAccountAccess } from '../../vm/access.js';
import { templateView } from '../../views.js';
import type { TemplateRow } from '../../vm/rows.js';
import { checkKernelDetails, LOCAL_DIR_SETTING } from '../../images/image-source.js';

export default defineCommand({
  name: 'updateTemplate',
  description: 'Updates attributes of a template, such as isdynamicallyscalable (the guest has the tools needed for live scaling, R7).',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'template',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the image file' },
    { name: 'displaytext', type: 'string', description: 'the display text of the image' },
    { name: 'name', type: 'string', description: 'the name of the image file' },
    { name: 'isdynamicallyscalable', type: 'boolean', description: 'true if template contains XS/VMWare tools in order to support dynamic scaling of VM cpu/memory' },
    { name: 'passwordenabled', type: 'boolean', description: 'true if the image supports the password reset feature' },
    { name: 'details', type: 'map', description: `Details in key/value pairs, e.g. resetonreboot=true (R19); kernel, initrd (paths inside ${LOCAL_DIR_SETTING}) and kernelArgs for direct kernel boot are for the root admin only` },
  ],
  handler({ engine, caller }, args) {
    const template = byUuid<TemplateRow>(engine.db, 'template', args.uuid('id')!, 'id');
    requireAccountAccess(engine.db, caller, template.account_id, `template ${template.name}`);
    if (template.is_public && caller.role !== 'Admin' && template.account_id !== caller.accountId) throw ApiError.denied('only the root admin may change a public template of another account');
    const db = engine.db;
    // Checked before anything is written: a refused detail leaves the template as it was.
    const given = args.details('details');
    const details = given ? checkKernelDetails(given, 'details', caller, engine.settings) : undefined;
    const set = (column: string, value: unknown) => db.prepare(`UPDATE templates SET ${column}=? WHERE id=?`).run(value, template.id);
    if (args.str('displaytext') !== undefined) set('display_text', args.str('displaytext'));
    if (args.str('name') !== undefined) set('name', args.str('name'));
    if (args.has('isdynamicallyscalable')) set('is_dynamically_scalable', args.bool('isdynamicallyscalable') ? 1 : 0);
    if (args.has('passwordenabled')) set('password_enabled', args.bool('passwordenabled') ? 1 : 0);
    if (details) set('details', JSON.stringify({ ...(JSON.parse(template.details) as Record<string, string>), ...details }));
    engine.events.record({ type: 'TEMPLATE.UPDATE', description: `template ${template.name} updated`, userId: caller.userId, accountId: caller.accountId, domainId: caller.domainId, resourceType: 'Template', resourceUuid: template.uuid });
    return templateView(db, db.prepare('SELECT * FROM templates WHERE id=?').get(template.id) as TemplateRow);
  },
});
