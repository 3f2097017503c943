/**
 * A listApis answer as the engine gives it to an admin (the fields the renderer reads), with
 * the `vmstates` each VM command declares in main/engine/commands/vm/*.ts. Tests copy and edit
 * it to show that the UI follows whatever the engine declares.
 */
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';

const id = { name: 'id', required: true, type: 'uuid' };

export function listApisFixture(): ApiInfo[] {
  return [
    { name: 'listVirtualMachines', isasync: false, params: [{ name: 'listall', required: false, type: 'boolean' }] },
    { name: 'deployVirtualMachine', isasync: true, params: [{ name: 'zoneid', required: true, type: 'uuid' }] },
    { name: 'updateVirtualMachine', isasync: false, params: [id, { name: 'displayname', required: false, type: 'string' }] },
    {
      name: 'startVirtualMachine', isasync: true, vmstates: ['Stopped', 'Created', 'Error'],
      // An admin's listApis lists the placement parameters; a user's does not.
      params: [id, { name: 'hostid', required: false, type: 'uuid' }, { name: 'podid', required: false, type: 'uuid' }, { name: 'clusterid', required: false, type: 'uuid' }],
    },
    { name: 'stopVirtualMachine', isasync: true, vmstates: ['Running', 'Unknown'], params: [id, { name: 'forced', required: false, type: 'boolean' }] },
    { name: 'rebootVirtualMachine', isasync: true, vmstates: ['Running'], params: [id] },
    { name: 'createConsoleEndpoint', isasync: false, vmstates: ['Running'], params: [{ name: 'virtualmachineid', required: true, type: 'uuid' }] },
    { name: 'destroyVirtualMachine', isasync: true, vmstates: ['Running', 'Stopped', 'Created', 'Error', 'Unknown'], params: [id, { name: 'expunge', required: false, type: 'boolean' }] },
    { name: 'updateVMAffinityGroup', isasync: true, vmstates: ['Stopped', 'Created'], params: [id] },
    { name: 'recoverVirtualMachine', isasync: false, vmstates: ['Destroyed'], params: [id] },
    { name: 'expungeVirtualMachine', isasync: true, vmstates: ['Destroyed'], params: [id] },
    { name: 'changeServiceForVirtualMachine', isasync: false, vmstates: ['Stopped', 'Created'], params: [id, { name: 'serviceofferingid', required: true, type: 'uuid' }] },
    { name: 'scaleVirtualMachine', isasync: true, vmstates: ['Running'], params: [id, { name: 'serviceofferingid', required: true, type: 'uuid' }] },
    { name: 'migrateVirtualMachine', isasync: true, vmstates: ['Running'], params: [{ name: 'virtualmachineid', required: true, type: 'uuid' }, { name: 'hostid', required: false, type: 'uuid' }] },
    { name: 'resetSSHKeyForVirtualMachine', isasync: true, vmstates: ['Stopped'], params: [id, { name: 'keypairs', required: false, type: 'list' }] },
    { name: 'restoreVirtualMachine', isasync: true, vmstates: ['Running', 'Stopped', 'Created'], params: [{ name: 'virtualmachineid', required: true, type: 'uuid' }, { name: 'templateid', required: false, type: 'uuid' }] },
    { name: 'attachIso', isasync: true, vmstates: ['Running', 'Stopped'], params: [{ name: 'id', required: true, type: 'uuid' }, { name: 'virtualmachineid', required: true, type: 'uuid' }] },
    { name: 'detachIso', isasync: true, vmstates: ['Running', 'Stopped'], params: [{ name: 'virtualmachineid', required: true, type: 'uuid' }] },
    // Admin only: a user's listApis has no unmanageVirtualMachine.
    { name: 'unmanageVirtualMachine', isasync: true, vmstates: ['Running', 'Stopped'], params: [id] },
  ];
}

/** The listApis response envelope around a list of APIs. */
export function listApisResponse(apis: ApiInfo[]): Record<string, unknown> {
  return { count: apis.length, api: apis };
}
