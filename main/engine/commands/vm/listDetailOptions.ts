import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { KNOWN_DETAILS } from '../../vm/vm-changes.js';

export default defineCommand({
  name: 'listDetailOptions',
  description: 'Lists the detail keys (and their possible values) a VM accepts, as the settings editor offers them (R30): Kiln\'s own and those its hypervisor drivers honour (VMware and KVM: rootDiskController, dataDiskController, nicAdapter). With resourceid, those of that VM\'s hypervisor.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'detailoptions',
  params: [
    { name: 'resourcetype', type: 'string', required: true, description: 'the resource type: UserVm' },
    { name: 'resourceid', type: 'uuid', description: 'the UUID of the resource (optional)' },
  ],
  handler({ engine, caller }, args) {
    if (args.str('resourcetype')!.toLowerCase() !== 'uservm') throw ApiError.param('resourcetype: only UserVm is supported');
    const vm = args.uuid('resourceid') ? engine.vms.forCaller(caller, args.uuid('resourceid')!, 'resourceid') : undefined;
    // The drivers publish which details they honour; the engine knows no hypervisor's keys.
    const drivers = vm ? [engine.hosts.knownDriver(vm.hypervisor)].filter((d) => d !== undefined) : engine.hosts.drivers();
    const offered: Record<string, string[]> = { ...KNOWN_DETAILS };
    // Several drivers may honour one key (VMware's and KVM's rootDiskController): their values together.
    for (const driver of drivers) for (const [key, values] of Object.entries(driver.detailOptions ?? {})) offered[key] = [...new Set([...(offered[key] ?? []), ...values])];
    const hidden = new Set(caller.role === 'User' ? [...engine.settings.list('user.vm.blacklisted.details'), ...engine.settings.list('user.vm.readonly.details')] : []);
    return { details: Object.fromEntries(Object.entries(offered).filter(([key]) => !hidden.has(key))) };
  },
});
