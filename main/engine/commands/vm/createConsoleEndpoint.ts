import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { knownConsoles, vmConsoles } from '../../vm/vm-consoles.js';
import { requireShownDisplay } from '../../vm/graphical-console.js';

export default defineCommand({
  name: 'createConsoleEndpoint',
  description: "Create a console endpoint to connect to a VM console: a one-time WebSocket URL onto the serial console of a running VM the caller may see (R31), or with type=graphical onto its display (RFB, as noVNC speaks it; the VM's consoles are listed in listVirtualMachines' consoles).",
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'consoleendpoint',
  vmStates: ['Running'],
  capabilities: ['consoleSerial'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'ID of the VM' },
    { name: 'token', type: 'string', description: '(optional) extra security token, valid when the extra validation is enabled' },
    { name: 'type', type: 'string', description: 'Kiln: serial (the default) or graphical' },
  ],
  handler({ engine, caller }, args) {
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    engine.vms.assertHostReachable(vm);
    if (vm.state !== 'Running') throw ApiError.param(`VM ${vm.display_name} is ${vm.state}; the console is available only while it is Running`);
    const kind = args.str('type') ?? 'serial';
    if (kind !== 'serial' && kind !== 'graphical') throw ApiError.param('type: serial or graphical');
    // The consoles the VM's host offers (its capabilities), before any token: a kind it lacks is refused here, not when the WebSocket opens.
    const consoles = knownConsoles(engine.db, vm.id);
    if (kind === 'serial' && consoles && !consoles.includes('serial')) throw ApiError.param(`type: VM ${vm.display_name} has no serial console on its host${consoles.length > 0 ? ` (its console: ${consoles.join(', ')})` : ''}`);
    if (kind === 'graphical') requireShownDisplay(vm.display_name, (consoles ?? vmConsoles(engine.db, vm.id)).find((k) => k !== 'serial'));
    const token = engine.consoleTokens.issue(caller, vm.uuid, kind);
    // The transport knows its own address; it fills in the URL from this path.
    return { success: true, details: `${kind} console over WebSocket`, path: `/kiln/console?token=${token}`, websocket: { token, path: '/kiln/console', extra: kind } };
  },
});
