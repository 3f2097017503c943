// @vitest-environment happy-dom
/**
 * The migrate dialog and storage motion: a destination host whose findHostsForMigration row says
 * requiresstoragemotion asks for a storage pool there (listStoragePools hostid=…, only pools that
 * are Up), keeps Migrate disabled until one is chosen, and then migrates with the volumes
 * (migrateVirtualMachineWithVolume, every volume of the VM to that pool); a host that needs no
 * storage motion migrates as before (migrateVirtualMachine), with no pool asked for.
 */
import { invoke } from './dom-bridge';
import { describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';
import type { Vm } from '../../renderer/src/api/model';

const vm = { id: 'vm1', name: 'web', displayname: 'web', state: 'Running', hostid: 'h0', hostname: 'esx-a1' } as unknown as Vm;
const migrated = (params?: Record<string, unknown>) => ({ virtualmachine: { ...vm, hostid: params?.['hostid'], hostname: params?.['hostid'] === 'h2' ? 'esx-b1' : 'esx-a2' } });

const { container, render } = domView(['migrateVirtualMachine', 'migrateVirtualMachineWithVolume', 'findHostsForMigration', 'listStoragePools'], {
  findHostsForMigration: () => ({ count: 2, host: [
    { id: 'h1', name: 'esx-a2', clustername: 'A', suitableformigration: true, requiresstoragemotion: false },
    { id: 'h2', name: 'esx-b1', clustername: 'B', suitableformigration: true, requiresstoragemotion: true },
  ] }),
  listStoragePools: (params) => {
    expect(params).toEqual({ hostid: 'h2' });
    return { count: 3, storagepool: [
      { id: 'p1', name: 'B-ds1', type: 'VMFS', state: 'Up', disksizetotal: 100 * 2 ** 30, disksizeused: 40 * 2 ** 30 },
      { id: 'p2', name: 'B-ds2', type: 'NetworkFilesystem', state: 'Up', disksizetotal: 50 * 2 ** 30, disksizeused: 0, tags: 'gold' },
      { id: 'p3', name: 'B-off', type: 'VMFS', state: 'Disabled', disksizetotal: 1, disksizeused: 0 },
    ] };
  },
  listVolumes: () => ({ count: 2, volume: [{ id: 'v-root' }, { id: 'v-data' }] }),
  migrateVirtualMachineWithVolume: migrated,
  migrateVirtualMachine: migrated,
  listVirtualMachines: () => ({}),
});

async function openDialog() {
  const { MigrateDialog } = await import('../../renderer/src/views/vm/MigrateDialog');
  await render(createElement(MigrateDialog, { vm, onClose: () => undefined }));
}
const radio = (name: string, value: string) => container.querySelector(`input[name="${name}"][value="${value}"]`) as HTMLInputElement | null;
const migrateButton = () => [...container.querySelectorAll('button[type="submit"]')][0] as HTMLButtonElement;

describe('MigrateDialog and storage motion', () => {
  it('asks for a pool on a host that needs storage motion, and migrates every volume there', async () => {
    await openDialog();
    await act(async () => radio('migrate-host', 'h2')!.click());
    await wait(30);
    expect(container.textContent).toContain('Storage pool for its disks (the host needs storage motion)');
    expect([...container.querySelectorAll('input[name="migrate-pool"]')].map((i) => (i as HTMLInputElement).value)).toEqual(['B-ds1', 'B-ds2']);
    expect(container.textContent).toContain('NetworkFilesystem · 50.0 GiB free · tags gold');
    expect(migrateButton().disabled).toBe(true);
    await act(async () => radio('migrate-pool', 'B-ds2')!.click());
    expect(migrateButton().disabled).toBe(false);
    await act(async () => migrateButton().click());
    await wait(30);
    const call = invoke.mock.calls.find(([c]) => c === 'migrateVirtualMachineWithVolume');
    expect(call?.[1]).toEqual({ virtualmachineid: 'vm1', hostid: 'h2', 'migrateto[0].volume': 'v-root', 'migrateto[0].pool': 'B-ds2', 'migrateto[1].volume': 'v-data', 'migrateto[1].pool': 'B-ds2' });
    expect(invoke.mock.calls.some(([c]) => c === 'migrateVirtualMachine')).toBe(false);
  });

  it('migrates without a pool to a host that needs no storage motion', async () => {
    await openDialog();
    await act(async () => radio('migrate-host', 'h1')!.click());
    await wait(30);
    expect(container.querySelector('input[name="migrate-pool"]')).toBeNull();
    expect(migrateButton().disabled).toBe(false);
    await act(async () => migrateButton().click());
    await wait(30);
    expect(invoke.mock.calls.find(([c]) => c === 'migrateVirtualMachine')?.[1]).toEqual({ virtualmachineid: 'vm1', hostid: 'h1' });
    expect(invoke.mock.calls.some(([c]) => c === 'listStoragePools' || c === 'migrateVirtualMachineWithVolume')).toBe(false);
  });
});
