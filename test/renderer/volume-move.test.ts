// @vitest-environment happy-dom
/**
 * The VM's Volumes tab moves a stopped VM's disk to another storage pool (admins): Move opens the
 * pools findStoragePoolsForMigration lists for that volume, an unsuitable one shown with the
 * engine's reason and not choosable, Move disabled until a suitable pool is chosen, then
 * migrateVolume with the volume and that pool. While the VM runs, Move is disabled saying to stop it,
 * unless its host moves a running VM's disks (listHosts capability liveStorageMotion): then it sends livemigrate=true.
 */
import { invoke } from './dom-bridge';
import { describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';
import type { Vm } from '../../renderer/src/api/model';

const stopped = { id: 'vm1', name: 'web', displayname: 'web', state: 'Stopped', zoneid: 'z1', account: 'admin' } as unknown as Vm;

const { container, render: mount } = domView(['listVolumes', 'migrateVolume', 'findStoragePoolsForMigration', 'listHosts'], {
  listVolumes: (params) => (params?.['virtualmachineid'] ? { count: 1, volume: [{ id: 'v-root', name: 'ROOT-7', type: 'ROOT', deviceid: 0, size: 2 ** 30, state: 'Ready', storage: 'kiln' }] } : {}),
  listVirtualMachines: () => ({}),
  // h-live moves a running VM's disks (KVM's block copy), h-cold only a stopped one's.
  listHosts: () => ({ count: 2, host: [{ id: 'h-live', name: 'h-live', capabilities: { liveStorageMotion: true } }, { id: 'h-cold', name: 'h-cold', capabilities: { liveStorageMotion: false } }] }),
  findStoragePoolsForMigration: (params) => {
    expect(params).toEqual({ id: 'v-root' });
    return { count: 2, storagepool: [
      { id: 'p-fast', name: 'fast-pool', tags: 'fast', suitableformigration: true },
      { id: 'p-other', name: 'other-local', suitableformigration: false, notsuitablereason: 'it is local storage of host h2, and the volume\'s disk is on host h1' },
    ] };
  },
  migrateVolume: () => ({ volume: { id: 'v-root', name: 'ROOT-7', storage: 'fast-pool' } }),
});

async function render(vm: Vm) {
  const { VmVolumes } = await import('../../renderer/src/views/vm/VmVolumes');
  await mount(createElement(VmVolumes, { vm }));
}
const moveButton = () => container.querySelector('button[aria-label="Move ROOT-7"]') as HTMLButtonElement | null;
const submit = () => container.querySelector('form[aria-label="Move ROOT-7"] button[type="submit"]') as HTMLButtonElement;

describe('Volumes tab: moving a disk to another storage pool', () => {
  it('lists the pools with why not, and moves the disk to the one chosen', async () => {
    await render(stopped);
    expect(moveButton()?.disabled).toBe(false);
    expect(container.querySelector('.volume-move-rule')).toBeNull();
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

  it('disables Move while the VM runs on a host that moves disks only when stopped, saying to stop it', async () => {
    await render({ ...stopped, state: 'Running', hostid: 'h-cold' } as Vm);
    await wait(30);
    expect(moveButton()?.disabled).toBe(true);
    expect(moveButton()?.title).toBe('stop web to move its disks to another storage pool');
    // Said on the page too, not only in the tooltip, and tied to the button.
    const note = container.querySelector('.volume-move-rule');
    expect(note?.textContent).toBe('Move is off while web is Running: stop it to move its disks to another storage pool.');
    expect(moveButton()?.getAttribute('aria-describedby')).toBe(note?.id);
  });

  it('moves a running VM\'s disk live (livemigrate=true) where its host says it can, saying so', async () => {
    await render({ ...stopped, state: 'Running', hostid: 'h-live' } as Vm);
    await wait(30);
    expect(moveButton()?.disabled).toBe(false);
    await act(async () => moveButton()!.click());
    await wait(30);
    expect(container.textContent).toContain('copied to the pool chosen while the VM runs, the VM switches over to the copy');
    const radios = [...container.querySelectorAll('form[aria-label="Move ROOT-7"] input[type="radio"]')] as HTMLInputElement[];
    await act(async () => radios[0]!.click());
    invoke.mockClear();
    await act(async () => submit().click());
    await wait(30);
    expect(invoke.mock.calls.find(([c]) => c === 'migrateVolume')?.[1]).toEqual({ volumeid: 'v-root', storageid: 'p-fast', livemigrate: 'true' });
  });
});
