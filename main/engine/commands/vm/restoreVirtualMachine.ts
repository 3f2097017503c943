import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { restoreVm } from '../../vm/vm-changes.js';
import { vmJob } from '../../vm/vm-job.js';
import type { TemplateRow } from '../../vm/rows.js';
import { requireNoSnapshots } from '../../vm/vm-snapshots.js';
import { requireImageReady } from '../../images/readiness.js';
import { madeFromIso } from '../../vm/vm-iso.js';
import { IMPORT_TEMPLATE_NAME, isImportTemplate } from '../../import/import-template.js';

const RESTORABLE = ['Running', 'Stopped', 'Created'];

export default defineCommand({
  name: 'restoreVirtualMachine',
  description: 'Restore a VM to original template/ISO or new template/ISO: its root disk is destroyed and recreated.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: RESTORABLE,
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'Virtual Machine ID' },
    { name: 'templateid', type: 'uuid', description: 'an optional template Id to restore vm from the new template (an ISO for a VM made from an ISO)' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    if (!RESTORABLE.includes(vm.state)) throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; it can be restored when Running or Stopped`);
    const template = args.uuid('templateid') ? byUuid<TemplateRow>(engine.db, 'template', args.uuid('templateid')!, 'templateid') : undefined;
    if (template) requireImageReady(template, 'templateid');
    // R44: an imported VM's dummy template has no image to restore from.
    const current = vm.template_id !== null ? (engine.db.prepare('SELECT * FROM templates WHERE id=?').get(vm.template_id) as TemplateRow) : undefined;
    if (isImportTemplate(template ?? current)) throw ApiError.param(`templateid: VM ${vm.display_name} was imported without a template; its ${IMPORT_TEMPLATE_NAME} template cannot be restored to, so give a templateid`);
    const wasIso = madeFromIso(vm);
    requireNoSnapshots(engine, vm, 'virtualmachineid');
    if (template && (template.is_iso === 1) !== wasIso) throw ApiError.param(`templateid: a VM made from ${wasIso ? 'an ISO' : 'a template'} can only be restored from ${wasIso ? 'an ISO' : 'a template'}`);
    return vmJob(ctx, vm, (job) => restoreVm(engine, caller, engine.vms.get(vm.id), template, job));
  },
});
