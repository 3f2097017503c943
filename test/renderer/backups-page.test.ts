// @vitest-environment happy-dom
/**
 * The backups page: the nas provider lists one offering per backup repository, so deleting a
 * repository in the panel below reloads the provider offerings above (they used to stay as they
 * were until the page was reloaded).
 */
import { invoke } from './dom-bridge';
import { beforeEach, describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';

let repositories: { id: string; name: string; address: string; username: string; zonename: string }[];

beforeEach(() => {
  repositories = [{ id: 'r1', name: 'nas-a', address: 'ssh://10.0.0.5', username: 'root', zonename: 'Z1' }];
});
const { container, render } = domView(['listBackupRepositories', 'deleteBackupRepository', 'importBackupOffering'], {
  listZones: () => ({ count: 1, zone: [{ id: 'z1', name: 'Z1' }] }),
  listConfigurations: (params) => ({ count: 1, configuration: [{ name: params?.['name'], value: params?.['name'] === 'backup.framework.enabled' ? 'true' : 'nas' }] }),
  listBackupProviderOfferings: () => ({ count: repositories.length + 1, backupoffering: [{ externalid: 'host-store', name: 'host store', description: 'on the VM host' }, ...repositories.map((r) => ({ externalid: `repo:${r.id}`, name: r.name, description: `repository ${r.address}` }))] }),
  listBackupOfferings: () => ({}),
  listBackupRepositories: () => (repositories.length ? { count: repositories.length, backuprepository: repositories } : {}),
  deleteBackupRepository: (params) => {
    repositories = repositories.filter((r) => r.id !== params?.['id']);
    return { success: true };
  },
});

describe('BackupsPage', () => {
  it('deleting a repository reloads the provider offerings: its offering is gone without a page reload', async () => {
    const { useConfirm } = await import('../../renderer/src/stores/confirm-store');
    useConfirm.setState({ ask: async () => 'go' } as never);
    const { BackupsPage } = await import('../../renderer/src/views/backup/BackupsPage');
    await render(createElement(BackupsPage), 50);
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
