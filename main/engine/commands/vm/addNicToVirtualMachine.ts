import { defineCommand, ALL_ROLES } from '../../registry/types.js';
import { byUuid } from '../../lookup.js';
import { vmJob } from '../../vm/vm-job.js';
import { addNic, checkAddNic, NIC_STATES, type NicRequest } from '../../vm/vm-nics.js';
import type { NetworkRow } from '../../vm/rows.js';

export default defineCommand({
  name: 'addNicToVirtualMachine',
  description: 'Adds a VM NIC to a network: plugged into the running VM at once (where its host can hot-plug NICs), else from its next start.',
  kind: 'async',
  roles: ALL_ROLES,
  response: 'virtualmachine',
  vmStates: NIC_STATES,
  // A running VM's host must offer the NIC facet (listHosts capabilities), which the UI gates the action by.
  capabilities: ['nics'],
  params: [
    { name: 'virtualmachineid', type: 'uuid', required: true, description: 'Virtual Machine ID' },
    { name: 'networkid', type: 'uuid', required: true, description: 'Network ID' },
    { name: 'ipaddress', type: 'string', description: 'IP Address for the new network (default: the first free one of its range)' },
    { name: 'macaddress', type: 'string', description: 'MAC Address for the new network (default: a free one Kiln makes)' },
  ],
  handler(ctx, args) {
    const { engine, caller } = ctx;
    const vm = engine.vms.forCaller(caller, args.uuid('virtualmachineid')!, 'virtualmachineid');
    const req: NicRequest = { network: byUuid<NetworkRow>(engine.db, 'network', args.uuid('networkid')!, 'networkid'), mac: args.str('macaddress')?.toLowerCase(), ip: args.str('ipaddress') };
    checkAddNic(engine, vm, req);
    engine.vms.assertHostReachable(vm);
    return vmJob(ctx, vm, (job) => addNic(engine, caller, vm, req, job));
  },
});
