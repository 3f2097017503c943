// @vitest-environment happy-dom
/**
 * The Delete of a host (Hosts page) and of a storage pool (Primary storage page): offered only when
 * listApis publishes deleteHost / deleteStoragePool for the caller (and forced only where that
 * parameter is published), asked first, and the engine's refusal shown as it comes (431 and its words).
 */
import { invoke } from './dom-bridge';
import { describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';

/** An API error envelope, as the bridge hands it over (fake-bridge.ts's apiError; that module installs its own bridge). */
const apiError = (errorcode: number, errortext: string) => ({ errorcode, cserrorcode: 4350, errortext });

const published = ['listStoragePools', 'updateStoragePool', 'deleteStoragePool', 'listHosts', 'deleteHost'];
const pool = { id: 'p1', name: 'kiln', clustername: 'C1', type: 'Filesystem', scope: 'CLUSTER', state: 'Up', hypervisor: 'KVM', disksizetotal: 1, disksizeused: 0, disksizeallocated: 0 };
const host = { id: 'h1', name: 'kvm-1', state: 'Up', resourcestate: 'Enabled', hypervisor: 'KVM', zonename: 'Z', podname: 'P', clustername: 'C1', clusterid: 'c1' };
const refusal = 'id: storage pool kiln is Up: the hosts of cluster C1 still report it, and Kiln would record it again at their next refresh.';
const { container, render } = domView(published, {
  listStoragePools: () => ({ count: 1, storagepool: [pool] }),
  deleteStoragePool: () => apiError(431, refusal),
  listZones: () => ({}),
  listPods: () => ({}),
  listClusters: () => ({}),
  listHosts: () => ({ count: 1, host: [host] }),
  listOsCategories: () => ({}),
  listVolumes: () => ({}),
  deleteHost: () => ({ success: true }),
});
const button = (label: string) => container.querySelector(`button[aria-label="${label}"]`) as HTMLButtonElement | null;
const textButton = (text: string) => [...container.querySelectorAll('dialog button')].find((b) => b.textContent === text) as HTMLButtonElement | undefined;

describe('Delete on the Primary storage and Hosts pages', () => {
  it('offers Delete pool from listApis, asks, and shows the engine\'s 431 as it comes', async () => {
    const { useConfirm } = await import('../../renderer/src/stores/confirm-store');
    const asked: { title: string; choices: { value: string }[] }[] = [];
    useConfirm.setState({ ask: async (q: { title: string; choices: { value: string }[] }) => (asked.push(q), 'go') } as never);
    const { StoragePoolsView } = await import('../../renderer/src/views/StoragePoolsView');
    await render(createElement(StoragePoolsView), 50);
    await act(async () => button('Delete storage pool kiln')!.click());
    await wait(50);
    expect(asked.map((q) => q.title)).toEqual(['Delete storage pool kiln?']);
    // forced is not published in this listApis: not offered.
    expect(asked[0]!.choices.map((c) => c.value)).toEqual(['cancel', 'go']);
    expect(invoke.mock.calls.filter(([c]) => c === 'deleteStoragePool').map(([, p]) => p)).toEqual([{ id: 'p1' }]);
    expect(container.querySelector('[role="alert"]')?.textContent).toBe(`Delete storage pool kiln: 431: ${refusal}`);
  });

  it('offers Delete host from listApis and calls deleteHost from its dialog', async () => {
    const { HostsView } = await import('../../renderer/src/views/HostsView');
    await render(createElement(HostsView), 80);
    await act(async () => button('Delete host kvm-1')!.click());
    await wait(50);
    expect(container.querySelector('dialog h2')?.textContent).toBe('Delete host kvm-1?');
    // Nothing on its local storage: no box to destroy anything.
    expect(container.querySelector('dialog input[type="checkbox"]')).toBeNull();
    await act(async () => textButton('Delete')!.click());
    await wait(50);
    expect(invoke.mock.calls.filter(([c]) => c === 'deleteHost').map(([, p]) => p)).toEqual([{ id: 'h1' }]);
    expect(container.querySelector('dialog')).toBeNull();
  });

  it('offers neither without the commands in listApis', async () => {
    // The catalog is read once per app run (the store keeps it): this caller's has no delete commands.
    const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
    await useApiCatalog.getState().load();
    useApiCatalog.setState({ apis: new Map([...useApiCatalog.getState().apis].filter(([name]) => name !== 'deletestoragepool' && name !== 'deletehost')) });
    const { StoragePoolsView } = await import('../../renderer/src/views/StoragePoolsView');
    await render(createElement(StoragePoolsView), 50);
    expect(button('Edit storage pool kiln')).not.toBeNull();
    expect(button('Delete storage pool kiln')).toBeNull();
    const { HostsView } = await import('../../renderer/src/views/HostsView');
    await render(createElement(HostsView), 80);
    expect(container.querySelector('tr[data-host="kvm-1"]')).not.toBeNull();
    expect(button('Delete host kvm-1')).toBeNull();
  });
});
