// @vitest-environment happy-dom
/**
 * The VM's Volumes tab moves a stopped VM's disk to another storage pool (admins): Move opens the
 * pools findStoragePoolsForMigration lists for that volume, an unsuitable one shown with the
 * engine's reason and not choosable, Move disabled until a suitable pool is chosen, then
 * migrateVolume with the volume and that pool. While the VM runs, Move is disabled saying to stop it.
 */
import { invoke } from './dom-bridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { listApisResponse } from './list-apis-fixture';
import type { Vm } from '../../renderer/src/api/model';

const wait = (ms: number) => act(() => new Promise<void>((r) => setTimeout(r, ms)));
const stopped = { id: 'vm1', name: 'web', displayname: 'web', state: 'Stopped', zoneid: 'z1', account: 'admin' } as unknown as Vm;

let root: Root;
let container: HTMLElement;

beforeEach(() => {
  invoke.mockReset();
  invoke.mockImplementation(async (command, params) => {
    switch (command) {
      case 'listApis':
        return listApisResponse(['listVolumes', 'migrateVolume', 'findStoragePoolsForMigration'].map((name) => ({ name, isasync: false, params: [] })));
      case 'listVolumes':
        return params?.['virtualmachineid'] ? { count: 1, volume: [{ id: 'v-root', name: 'ROOT-7', type: 'ROOT', deviceid: 0, size: 2 ** 30, state: 'Ready', storage: 'kiln' }] } : {};
      case 'listVirtualMachines':
        return {};
      case 'findStoragePoolsForMigration':
        expect(params).toEqual({ id: 'v-root' });
        return { count: 2, storagepool: [
          { id: 'p-fast', name: 'fast-pool', tags: 'fast', suitableformigration: true },
          { id: 'p-other', name: 'other-local', suitableformigration: false, notsuitablereason: 'it is local storage of host h2, and the volume\'s disk is on host h1' },
        ] };
      case 'migrateVolume':
        return { volume: { id: 'v-root', name: 'ROOT-7', storage: 'fast-pool' } };
      default:
        throw new Error(`unexpected ${command}`);
    }
  });
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

async function render(vm: Vm) {
  const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
  await useApiCatalog.getState().load();
  const { VmVolumes } = await import('../../renderer/src/views/vm/VmVolumes');
  await act(async () => root.render(createElement(VmVolumes, { vm })));
  await wait(30);
}
const moveButton = () => container.querySelector('button[aria-label="Move ROOT-7"]') as HTMLButtonElement | null;
const submit = () => container.querySelector('form[aria-label="Move ROOT-7"] button[type="submit"]') as HTMLButtonElement;

describe('Volumes tab: moving a disk to another storage pool', () => {
  it('lists the pools with why not, and moves the disk to the one chosen', async () => {
    await render(stopped);
    expect(moveButton()?.disabled).toBe(false);
    await act(async () => moveButton()!.click());
    await wait(30);
    expect(container.textContent).toContain('It is on kiln now.');
    expect(container.textContent).toContain("other-local — not suitable: it is local storage of host h2, and the volume's disk is on host h1");
    const radios = [...container.querySelectorAll('form[aria-label="Move ROOT-7"] input[type="radio"]')] as HTMLInputElement[];
    expect(radios.map((r) => [r.value, r.disabled])).toEqual([['p-fast', false], ['p-other', true]]);
    expect(submit().disabled).toBe(true);
    await act(async () => radios[0]!.click());
    expect(submit().disabled).toBe(false);
    await act(async () => submit().click());
    await wait(30);
    expect(invoke.mock.calls.find(([c]) => c === 'migrateVolume')?.[1]).toEqual({ volumeid: 'v-root', storageid: 'p-fast' });
    const { useJobs } = await import('../../renderer/src/stores/jobs-store');
    expect(useJobs.getState().notices.map((n) => n.text)).toContain('ROOT-7 moved to storage pool fast-pool');
  });

  it('disables Move while the VM runs, saying to stop it', async () => {
    await render({ ...stopped, state: 'Running' } as Vm);
    expect(moveButton()?.disabled).toBe(true);
    expect(moveButton()?.title).toBe('stop web to move its disks to another storage pool');
  });
});
