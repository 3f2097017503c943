// @vitest-environment happy-dom
/**
 * Delete host… (Hosts page): when this caller's deleteHost publishes forcedestroylocalstorage, the
 * dialog reads the VMs and volumes on the host's local pools through the API and offers, off by
 * default, "Also destroy and expunge the N VMs with disks on this host's local storage: <names>";
 * the flag is sent only when ticked. Unticked, the engine's 431 is shown in the dialog, which stays
 * open; ticked, the dialog says what became of each VM and what the HOST.DELETE event says (and,
 * when a destroy failed, the engine's 530 with the same per-VM outcome). An
 * engine that does not publish the parameter gets no box (and no local-storage reads).
 */
import { invoke } from './dom-bridge';
import { describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';

const apiError = (errorcode: number, errortext: string) => ({ errorcode, cserrorcode: 4350, errortext });
const host = { id: 'h1', name: 'kvm-1', state: 'Up', resourcestate: 'Disabled', hypervisor: 'KVM' };
const refusal = 'id: host kvm-1 cannot be deleted: it still has 2 volumes (ROOT-7, DATA-7) of VM web-1 on its local storage; give forcedestroylocalstorage=true to destroy and expunge that VM with the host';
let expunged = false;
let failDestroy = false;
const failed = 'host kvm-1 was not deleted: destroying VM web-1 (job j9) failed, the VM is Error: the disk could not be removed';
const { container, render } = domView(['deleteHost'], {
  listStoragePools: (p) => ({ count: 1, storagepool: p?.['hostid'] === 'h1' && p?.['scope'] === 'HOST' ? [{ id: 'local-1', scope: 'HOST' }] : [] }),
  listVolumes: () => ({
    count: 3,
    volume: [
      { name: 'ROOT-7', storageid: 'local-1', virtualmachineid: 'v1', vmdisplayname: 'web-1' },
      { name: 'DATA-7', storageid: 'local-1', virtualmachineid: 'v1', vmdisplayname: 'web-1' },
      { name: 'ROOT-9', storageid: 'shared-1', virtualmachineid: 'v2', vmdisplayname: 'db-1' },
    ],
  }),
  deleteHost: (p) => (p?.['forcedestroylocalstorage'] ? (failDestroy ? apiError(530, failed) : ((expunged = true), { success: true })) : apiError(431, refusal)),
  listVirtualMachines: () => (expunged ? { count: 0 } : { count: 1, virtualmachine: [{ id: 'v1', state: failDestroy ? 'Error' : 'Stopped' }] }),
  listEvents: () => ({ count: 1, event: [{ description: 'host kvm-1 deleted; VM web-1 on its local storage destroyed and expunged (forcedestroylocalstorage)' }] }),
});

const param = (name: string, type = 'boolean') => ({ name, required: false, type });
const deleteHost = (extra: string[]): ApiInfo => ({ name: 'deleteHost', isasync: false, params: [{ name: 'id', required: true, type: 'uuid' }, param('forced'), ...extra.map((n) => param(n))] });
const lists: ApiInfo[] = ['listStoragePools', 'listVolumes', 'listVirtualMachines', 'listEvents'].map((name) => ({ name, isasync: false, params: [] }));
async function publish(...apis: ApiInfo[]): Promise<void> {
  const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
  await useApiCatalog.getState().load();
  useApiCatalog.setState({ apis: new Map(apis.map((api) => [api.name.toLowerCase(), api])) });
}
const textButton = (text: string) => [...container.querySelectorAll('dialog button')].find((b) => b.textContent === text) as HTMLButtonElement;
const box = () => container.querySelector('dialog input[type="checkbox"]') as HTMLInputElement | null;
const sent = () => invoke.mock.calls.filter(([c]) => c === 'deleteHost').map(([, p]) => p);

describe('the host Delete dialog', () => {
  it('offers forcedestroylocalstorage by the VMs on the local pools, off by default, and sends it only when ticked', async () => {
    expunged = false;
    const { HostDeleteDialog } = await import('../../renderer/src/views/hosts/HostDeleteDialog');
    await render(createElement('div'));
    await publish(deleteHost(['forcedestroylocalstorage']), ...lists);
    let closed = 0;
    await render(createElement(HostDeleteDialog, { host, onClose: () => void closed++ }), 80);
    expect(box()?.checked).toBe(false);
    expect(box()?.closest('label')?.textContent).toBe(" Also destroy and expunge the VM with disks on this host's local storage: web-1");
    // Unticked: no flag; the engine's refusal shows in the dialog, which stays open.
    await act(async () => textButton('Delete').click());
    await wait(50);
    expect(sent()).toEqual([{ id: 'h1' }]);
    expect(container.querySelector('dialog [role="alert"]')?.textContent).toBe(`Delete host kvm-1: 431: ${refusal}`);
    expect(closed).toBe(0);
    // Ticked: the flag, then each VM's outcome and the engine's event.
    await act(async () => box()!.click());
    await act(async () => textButton('Delete').click());
    await wait(80);
    expect(sent()).toEqual([{ id: 'h1' }, { id: 'h1', forcedestroylocalstorage: true }]);
    expect(container.querySelector('dialog [role="status"]')?.textContent).toBe('Host kvm-1 was deleted.');
    expect(container.querySelector('dialog li[data-vm="web-1"]')?.textContent).toBe('VM web-1: destroyed and expunged');
    expect(container.querySelector('dialog')?.textContent).toContain('Event: host kvm-1 deleted; VM web-1 on its local storage destroyed and expunged (forcedestroylocalstorage)');
  });

  it('a destroy that fails: the 530 in the dialog, with what became of each VM', async () => {
    expunged = false;
    failDestroy = true;
    const { HostDeleteDialog } = await import('../../renderer/src/views/hosts/HostDeleteDialog');
    await render(createElement('div'));
    await publish(deleteHost(['forcedestroylocalstorage']), ...lists);
    await render(createElement(HostDeleteDialog, { host, onClose: () => undefined }), 80);
    await act(async () => box()!.click());
    await act(async () => textButton('Delete').click());
    await wait(80);
    failDestroy = false;
    expect(container.querySelector('dialog [role="alert"]')?.textContent).toBe(`Delete host kvm-1: 530: ${failed}`);
    expect(container.querySelector('dialog li[data-vm="web-1"]')?.textContent).toBe('VM web-1: not destroyed: it is Error');
    expect(container.querySelector('dialog [role="status"]')).toBeNull();
  });

  it('offers no box when deleteHost does not publish forcedestroylocalstorage, and reads nothing for it', async () => {
    const { HostDeleteDialog } = await import('../../renderer/src/views/hosts/HostDeleteDialog');
    await render(createElement('div'));
    await publish(deleteHost([]), ...lists);
    await render(createElement(HostDeleteDialog, { host, onClose: () => undefined }), 80);
    expect(box()).toBeNull();
    expect(invoke.mock.calls.filter(([c]) => c === 'listVolumes')).toEqual([]);
  });
});
