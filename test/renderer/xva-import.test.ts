// @vitest-environment happy-dom
/**
 * The import wizard's XVA panel (import/XvaImport): with importVm published and a ready XVA in the
 * cluster's zone it offers the XVA and a name, sends importVm importsource=xva (no offering: the
 * VM is only brought into the pool) and says the VM is there to be taken over, asking the list to
 * load again; the engine's refusal is shown as it came. No XVA, or no importVm: no panel.
 */
import { invoke } from './dom-bridge';
import { describe, expect, it, vi } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';

let failImport = false;
const { container, render: mount } = domView(['importVm', 'listTemplates'], {
  listTemplates: () => ({ count: 3, template: [
    { id: 't-os', name: 'debian', format: 'VHD', isready: true },
    { id: 't-xva', name: 'web.xva', format: 'XVA', isready: true },
    { id: 't-dl', name: 'still-downloading.xva', format: 'XVA', isready: false },
  ] }),
  importVm: () => {
    if (failImport) throw Object.assign(new Error('clusterid: the hypervisor of cluster kvm (KVM) cannot import VM archives'), { errorcode: 431 });
    return { jobid: 'job-xva' };
  },
  queryAsyncJobResult: () => ({ jobid: 'job-xva', jobstatus: 1, jobresult: { virtualmachine: { name: 'web' } } }),
});

async function render(onImported = () => undefined) {
  const { XvaImport } = await import('../../renderer/src/views/import/XvaImport');
  await mount(createElement(XvaImport, { clusterid: 'c1', zoneid: 'z1', onImported }));
}
const setName = async (value: string) => {
  const input = container.querySelector('#field-name-in-the-pool') as HTMLInputElement;
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  await act(async () => {
    setter.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
};
const button = () => [...container.querySelectorAll('button')].find((b) => b.textContent === 'Import into the pool') as HTMLButtonElement;

describe('import wizard: bring in an XVA', () => {
  it('offers the ready XVAs, imports one into the pool under the name given, and says so', async () => {
    failImport = false;
    const onImported = vi.fn();
    await render(onImported);
    expect(container.textContent).toContain('Bring in an exported XenServer VM (XVA)');
    expect([...container.querySelectorAll('#field-xva option')].map((o) => o.textContent)).toEqual(['Choose…', 'web.xva']);
    await setName('web');
    await act(async () => button().click());
    await wait(30);
    expect(invoke.mock.calls.find(([c]) => c === 'importVm')?.[1]).toEqual({ zoneid: 'z1', importsource: 'xva', templateid: 't-xva', clusterid: 'c1', name: 'web' });
    expect(container.querySelector('[role="status"]')?.textContent).toBe('web is in the pool; choose it below to take it over.');
    expect(onImported).toHaveBeenCalledTimes(1);
  });

  it('shows the engine\'s refusal', async () => {
    failImport = true;
    await render();
    await setName('web');
    await act(async () => button().click());
    await wait(30);
    expect(container.querySelector('[role="alert"]')?.textContent).toMatch(/cannot import VM archives/);
  });
});
