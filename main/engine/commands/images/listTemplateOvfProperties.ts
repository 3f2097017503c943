import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { requireAccountAccess } from '../../vm/access.js';
import type { TemplateRow } from '../../vm/rows.js';
import { applianceOf, ovfPropertyResponses } from '../../images/appliances.js';

export default defineCommand({
  name: 'listTemplateOvfProperties',
  description: 'List template OVF properties if available: the properties an appliance template (an OVA) asks for at deploy (deployVirtualMachine properties[i].key/value).',
  kind: 'list',
  roles: ALL_ROLES,
  response: 'ovfproperty',
  params: [{ name: 'id', type: 'uuid', required: true, description: 'the template ID' }],
  handler({ engine, caller }, args) {
    const row = byUuid<TemplateRow>(engine.db, 'template', args.uuid('id')!, 'id');
    if (!row.is_public) requireAccountAccess(engine.db, caller, row.account_id, `template ${row.name}`);
    if (row.is_iso) throw ApiError.param(`id: ${row.name} is an ISO`);
    const d = applianceOf(row);
    return d ? ovfPropertyResponses(d) : [];
  },
});
