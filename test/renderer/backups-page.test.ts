// @vitest-environment happy-dom
/**
 * The backups page: the nas provider lists one offering per backup repository, so deleting a
 * repository in the panel below reloads the provider offerings above (they used to stay as they
 * were until the page was reloaded).
 */
import { invoke } from './dom-bridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { listApisResponse } from './list-apis-fixture';

const wait = (ms: number) => act(() => new Promise<void>((r) => setTimeout(r, ms)));

let root: Root;
let container: HTMLElement;
let repositories: { id: string; name: string; address: string; username: string; zonename: string }[];

beforeEach(() => {
  repositories = [{ id: 'r1', name: 'nas-a', address: 'ssh://10.0.0.5', username: 'root', zonename: 'Z1' }];
  invoke.mockReset();
  invoke.mockImplementation(async (command, params) => {
    switch (command) {
      case 'listApis':
        return listApisResponse(['listBackupRepositories', 'deleteBackupRepository', 'importBackupOffering'].map((name) => ({ name, isasync: false, params: [] })));
      case 'listZones':
        return { count: 1, zone: [{ id: 'z1', name: 'Z1' }] };
      case 'listConfigurations':
        return { count: 1, configuration: [{ name: params?.['name'], value: params?.['name'] === 'backup.framework.enabled' ? 'true' : 'nas' }] };
      case 'listBackupProviderOfferings':
        return { count: repositories.length + 1, backupoffering: [{ externalid: 'host-store', name: 'host store', description: 'on the VM host' }, ...repositories.map((r) => ({ externalid: `repo:${r.id}`, name: r.name, description: `repository ${r.address}` }))] };
      case 'listBackupOfferings':
        return {};
      case 'listBackupRepositories':
        return repositories.length ? { count: repositories.length, backuprepository: repositories } : {};
      case 'deleteBackupRepository':
        repositories = repositories.filter((r) => r.id !== params?.['id']);
        return { success: true };
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

describe('BackupsPage', () => {
  it('deleting a repository reloads the provider offerings: its offering is gone without a page reload', async () => {
    const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
    await useApiCatalog.getState().load();
    const { useConfirm } = await import('../../renderer/src/stores/confirm-store');
    useConfirm.setState({ ask: async () => 'go' } as never);
    const { BackupsPage } = await import('../../renderer/src/views/backup/BackupsPage');
    await act(async () => root.render(createElement(BackupsPage)));
    await wait(50);
    const offerings = () => [...container.querySelectorAll('[data-provider-offering]')].map((row) => row.getAttribute('data-provider-offering'));
    expect(offerings()).toEqual(['host-store', 'repo:r1']);
    const del = container.querySelector('button[aria-label="Delete backup repository nas-a"]') as HTMLButtonElement;
    expect(del).not.toBeNull();
    await act(async () => del.click());
    await wait(50);
    expect(invoke.mock.calls.filter(([c]) => c === 'deleteBackupRepository')).toHaveLength(1);
    expect(offerings()).toEqual(['host-store']);
  });
});
