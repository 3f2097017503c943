/**
 * Job labels name the object the job works on, whatever its type: a VM snapshot's job says which
 * snapshot of which VM, an affinity group's or a volume's says which one. A name comes from a
 * list answer the page already had (so a delete still names what it deleted) or from one read by
 * id while the job runs; an object that cannot be found leaves the label without a name and is
 * not asked for again until its job finishes.
 */
import { invoke } from './fake-bridge';
import { beforeEach, describe, expect, it } from 'vitest';
import { jobLabel, useJobNames } from '../../renderer/src/stores/job-names-store';
import { useVms } from '../../renderer/src/stores/vm-store';
import { kiln } from '../../renderer/src/transport';
import type { Vm } from '../../renderer/src/api/model';

const vms = new Map([['vm-1', { id: 'vm-1', displayname: 'web-1' } as Vm]]);
const label = (cmd: string, instanceType: string, instanceId: string) => jobLabel({ cmd, instanceType, instanceId }, useVms.getState().byId, useJobNames.getState().names);
const commands = () => invoke.mock.calls.map(([command]) => command);

beforeEach(() => {
  invoke.mockReset();
  useVms.setState({ byId: vms });
  useJobNames.setState({ names: new Map() });
});

describe('job labels', () => {
  it("name a VM snapshot and its VM, read by id while the job runs", async () => {
    invoke.mockResolvedValue({ count: 1, vmSnapshot: [{ id: 'snap-1', displayname: 'before-upgrade', virtualmachineid: 'vm-1', virtualmachinename: 'i-2-7-VM' }] });
    expect(label('createVMSnapshot', 'VMSnapshot', 'snap-1')).toBe('Create VM snapshot');
    await useJobNames.getState().resolve({ instanceType: 'VMSnapshot', instanceId: 'snap-1' });
    expect(invoke.mock.calls).toEqual([['listVMSnapshot', { vmsnapshotid: 'snap-1' }]]);
    expect(label('createVMSnapshot', 'VMSnapshot', 'snap-1')).toBe('Create VM snapshot before-upgrade of web-1');
    expect(label('revertToVMSnapshot', 'VMSnapshot', 'snap-1')).toBe('Revert to VM snapshot before-upgrade of web-1');
    // Known now: no second read.
    await useJobNames.getState().resolve({ instanceType: 'VMSnapshot', instanceId: 'snap-1' });
    expect(invoke).toHaveBeenCalledTimes(1);
  });

  it('name what a list answer showed, so a delete names what it deleted', async () => {
    invoke.mockResolvedValue({ count: 2, affinitygroup: [{ id: 'ag-1', name: 'apart' }, { id: 'ag-2', name: 'together' }] });
    await kiln.invoke('listAffinityGroups', {});
    invoke.mockReset();
    await useJobNames.getState().resolve({ instanceType: 'AffinityGroup', instanceId: 'ag-1' });
    expect(commands()).toEqual([]);
    expect(label('deleteAffinityGroup', 'AffinityGroup', 'ag-1')).toBe('Delete affinity group apart');
  });

  it('name a volume, and a VM by the VM list without any read', async () => {
    invoke.mockResolvedValue({ count: 1, volume: [{ id: 'vol-1', name: 'data-disk', virtualmachineid: 'vm-1' }] });
    await useJobNames.getState().resolve({ instanceType: 'Volume', instanceId: 'vol-1' });
    expect(label('createVolume', 'Volume', 'vol-1')).toBe('Create volume data-disk');
    invoke.mockReset();
    await useJobNames.getState().resolve({ instanceType: 'VirtualMachine', instanceId: 'vm-1' });
    expect(commands()).toEqual([]);
    expect(label('updateVMAffinityGroup', 'VirtualMachine', 'vm-1')).toBe('Update affinity groups of VM web-1');
    expect(label('createTags', 'UserVm', 'vm-1')).toBe('Add tags to web-1');
  });

  it('go without a name for an object that is gone, read again only once its job finished', async () => {
    invoke.mockResolvedValue({});
    await useJobNames.getState().resolve({ instanceType: 'VMSnapshot', instanceId: 'gone' });
    await useJobNames.getState().resolve({ instanceType: 'VMSnapshot', instanceId: 'gone' });
    expect(invoke).toHaveBeenCalledTimes(1);
    expect(label('deleteVMSnapshot', 'VMSnapshot', 'gone')).toBe('Delete VM snapshot');
    invoke.mockResolvedValue({ count: 1, vmSnapshot: [{ id: 'gone', displayname: 'late', virtualmachineid: 'vm-1' }] });
    await useJobNames.getState().resolve({ instanceType: 'VMSnapshot', instanceId: 'gone' }, true);
    expect(label('createVMSnapshot', 'VMSnapshot', 'gone')).toBe('Create VM snapshot late of web-1');
  });
});
