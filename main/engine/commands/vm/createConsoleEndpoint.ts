import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';

export default defineCommand({
  name: 'createConsoleEndpoint',
  description: 'Create a console endpoint to connect to a VM console: a one-time WebSocket URL onto the serial console of a running VM the caller may see (R31).',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'consoleendpoint',
  vmStates: ['Running'],
  capabilities: ['consoleSerial'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'ID of the VM' },
    { name: 'token', type: 'string', description: '(optional) extra security token, valid when the extra validation is enabled' },
  ],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    engine.vms.assertHostReachable(vm);
    if (vm.state !== 'Running') throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; the console is available only while it is Running`);
    const token = engine.consoleTokens.issue(caller, vm.uuid);
    // The transport knows its own address; it fills in the URL from this path.
    return { success: true, details: 'serial console over WebSocket', path: `/kiln/console?token=${token}`, websocket: { token, path: '/kiln/console', extra: 'serial' } };
  },
});
