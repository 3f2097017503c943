import { STOPPED_STATES } from '../../vm/vm-changes.js';
import { HOSTNAME_RULE } from '../../registry/param-rules.js';
import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { updateVm } from '../../vm/vm-changes.js';
import { vmResponse } from '../../vm/vm-response.js';
import { checkUserData } from '../../vm/user-data.js';

export default defineCommand({
  name: 'updateVirtualMachine',
  description: 'Updates properties of a virtual machine. Name, OS type, dynamic scaling and details need a stopped VM; display name, group and HA do not.',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  sensitive: ['userdata'],
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'The ID of the virtual machine' },
    { name: 'displayname', type: 'string', description: 'user generated name' },
    { name: 'name', type: 'string', maxLength: 63, rule: HOSTNAME_RULE, description: 'new host name of the vm (VM must be stopped)', vmStates: STOPPED_STATES },
    { name: 'group', type: 'string', description: 'group of the virtual machine' },
    { name: 'haenable', type: 'boolean', description: 'true if high-availability is enabled for the virtual machine' },
    { name: 'ostypeid', type: 'uuid', description: 'the ID of the OS type (VM must be stopped)', vmStates: STOPPED_STATES },
    { name: 'isdynamicallyscalable', type: 'boolean', description: 'true if VM contains the tools needed to scale it live (VM must be stopped)', vmStates: STOPPED_STATES },
    { name: 'details', type: 'map', description: 'Details in key/value pairs (VM must be stopped); replaces the details the caller can edit', vmStates: STOPPED_STATES },
    { name: 'cleanupdetails', type: 'boolean', description: 'optional boolean field, which indicates if details should be cleaned up or not', vmStates: STOPPED_STATES },
    { name: 'userdata', type: 'string', maxLength: 1048576, description: 'base64 user data, up to 32 KB decoded' },
  ],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('id')!);
    const os = args.uuid('ostypeid') ? byUuid<{ id: number }>(engine.db, 'guestOs', args.uuid('ostypeid')!, 'ostypeid') : undefined;
    if (args.has('details') && args.bool('cleanupdetails')) throw ApiError.param('details and cleanupdetails: give one or the other');
    const userData = args.str('userdata');
    if (userData !== undefined) checkUserData(userData);
    const updated = updateVm(engine, caller, vm, {
      displayName: args.str('displayname'), name: args.str('name'), group: args.str('group'), haEnabled: args.bool('haenable'), osTypeId: os?.id,
      dynamicallyScalable: args.bool('isdynamicallyscalable'), details: args.details('details'), cleanupDetails: args.bool('cleanupdetails'), userData,
    });
    return vmResponse(engine, updated, caller);
  },
});
