// @vitest-environment happy-dom
/**
 * The Volumes tab's size inputs say the unit the engine counts the number in: createVolume and
 * resizeVolume multiply `size` by 1024³ (GiB, as the table's "2.0 GiB" shows it), so the labels,
 * hints and messages say GiB, never "GB" (a 1000³ reader would expect 7% less disk).
 */
import { invoke } from './dom-bridge';
import { describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';
import type { Vm } from '../../renderer/src/api/model';

const vm = { id: 'vm1', name: 'web', displayname: 'web', state: 'Stopped', zoneid: 'z1', account: 'admin' } as unknown as Vm;
const data = { id: 'v-data', name: 'DATA-1', type: 'DATADISK', deviceid: 1, size: 2 * 2 ** 30, state: 'Ready', account: 'admin', virtualmachineid: 'vm1' };
let releaseResize = () => undefined as void;

const { container, render: mount } = domView(['listVolumes', 'listDiskOfferings', 'createVolume', 'attachVolume', 'resizeVolume'], {
  listVolumes: (params) => (params?.['virtualmachineid'] ? { count: 1, volume: [data] } : {}),
  listVirtualMachines: () => ({}),
  listDiskOfferings: () => ({ count: 1, diskoffering: [{ id: 'd-custom', name: 'Custom', iscustomized: true, disksize: 0 }] }),
  // Held until the test has read the running status.
  resizeVolume: () => new Promise((resolve) => (releaseResize = () => resolve({ volume: { ...data, size: 3 * 2 ** 30 } }))),
});

async function render() {
  const { VmVolumes } = await import('../../renderer/src/views/vm/VmVolumes');
  await mount(createElement(VmVolumes, { vm }));
}
const labelOf = (input: HTMLInputElement) => document.querySelector(`label[for="${input.id}"]`)?.textContent;
async function change(element: HTMLInputElement | HTMLSelectElement, value: string, event: 'input' | 'change') {
  const proto = element instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(element, value);
    element.dispatchEvent(new Event(event, { bubbles: true }));
  });
}

describe('Volumes tab: sizes typed in GiB', () => {
  it('labels the new disk size "Size (GiB)"', async () => {
    await render();
    const form = container.querySelector('form[aria-label="Add a disk"]')!;
    await change(form.querySelector('select') as HTMLSelectElement, 'd-custom', 'change');
    const size = form.querySelector('input.volume-size') as HTMLInputElement;
    expect(labelOf(size)).toBe('Size (GiB)');
    await change(size, '2', 'input');
    expect((form.querySelector('button[type="submit"]') as HTMLButtonElement).disabled).toBe(false);
  });

  it('labels the resize "New size (GiB)", refuses a smaller one in GiB, and says it resizes to N GiB', async () => {
    await render();
    const resize = container.querySelector('button[aria-label="Resize DATA-1"]') as HTMLButtonElement;
    await act(async () => resize.click());
    const dialog = document.querySelector('form[aria-label="Resize DATA-1"]')!;
    const size = dialog.querySelector('input') as HTMLInputElement;
    expect(labelOf(size)).toBe('New size (GiB)');
    expect(size.value).toBe('3');
    await change(size, '', 'input');
    expect(dialog.querySelector('[role="alert"]')?.textContent).toBe('size: give the new size in GiB');
    await change(size, '1', 'input');
    expect(dialog.querySelector('[role="alert"]')?.textContent).toBe('size: 1 GiB is smaller than 2 GiB; shrinking loses data, allow it below');
    await change(size, '3', 'input');
    await act(async () => (dialog.querySelector('button[type="submit"]') as HTMLButtonElement).click());
    await wait(10);
    expect(invoke.mock.calls.find(([c]) => c === 'resizeVolume')?.[1]).toEqual({ id: 'v-data', size: '3', shrinkok: undefined });
    expect(document.querySelector('.snapshot-job[role="status"]')?.textContent).toBe('Resizing DATA-1 to 3 GiB…');
    releaseResize();
    await wait(10);
  });
});
