/**
 * The VM action registry: which actions the UI offers in which VM state. The states come from
 * the engine's listApis `vmstates` (loaded through the real api-catalog store over a fake
 * bridge), never from the renderer: editing the fixture's vmstates changes what is offered.
 */
import { answer, invoke } from './fake-bridge';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { actionsFor, bulkActions, VM_ACTIONS } from '../../renderer/src/actions/vm-actions';
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';
import type { Vm } from '../../renderer/src/api/model';
import { listApisFixture, listApisResponse } from './list-apis-fixture';

/** The catalog as the store builds it from a listApis answer (a fresh store each time: it loads once per page). */
async function catalogFrom(apis: ApiInfo[]): Promise<Map<string, ApiInfo>> {
  vi.resetModules();
  answer({ listApis: () => listApisResponse(apis) });
  const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
  await useApiCatalog.getState().load();
  expect(useApiCatalog.getState().loaded).toBe(true);
  return useApiCatalog.getState().apis;
}

function vm(state: string, name = 'web-1'): Vm {
  return { id: `id-${name}`, name, displayname: name, state };
}

const labels = (apis: Map<string, ApiInfo>, state: string) => actionsFor(vm(state), apis).map((a) => a.label);

/** A copy of the fixture with one command's vmstates replaced (undefined: the command declares none). */
function withStates(command: string, vmstates: string[] | undefined): ApiInfo[] {
  return listApisFixture().map((api) => (api.name === command ? { ...api, vmstates } : api));
}

beforeEach(() => {
  invoke.mockReset();
});

describe('actions offered per VM state, from listApis vmstates', () => {
  it('offers exactly what the engine declares for each state', async () => {
    const apis = await catalogFrom(listApisFixture());
    expect(labels(apis, 'Running')).toEqual(['Stop', 'Force stop', 'Reboot', 'Console', 'Scale…', 'Migrate…', 'Reinstall…', 'Destroy', 'Attach ISO…', 'Unmanage']);
    // Reset SSH keys only while Stopped (resetSSHKeyForVirtualMachine's vmstates), not Created.
    expect(labels(apis, 'Stopped')).toEqual(['Start', 'Start on…', 'Change offering…', 'Reinstall…', 'Destroy', 'Attach ISO…', 'Reset SSH keys…', 'Affinity groups…', 'Unmanage']);
    expect(labels(apis, 'Created')).toEqual(['Start', 'Start on…', 'Change offering…', 'Reinstall…', 'Destroy', 'Affinity groups…']);
    expect(labels(apis, 'Error')).toEqual(['Start', 'Start on…', 'Destroy']);
    expect(labels(apis, 'Unknown')).toEqual(['Stop', 'Force stop', 'Destroy']);
    // Recover (and expunge) only for a Destroyed VM.
    expect(labels(apis, 'Destroyed')).toEqual(['Recover', 'Expunge']);
    // A VM a job is moving: nothing applies.
    for (const busy of ['Starting', 'Stopping', 'Migrating', 'Expunging']) expect(labels(apis, busy)).toEqual([]);
  });

  it('offers recover nowhere but in Destroyed', async () => {
    const apis = await catalogFrom(listApisFixture());
    const states = ['Running', 'Stopped', 'Created', 'Error', 'Unknown', 'Starting', 'Stopping', 'Migrating', 'Destroyed', 'Expunging'];
    expect(states.filter((s) => labels(apis, s).includes('Recover'))).toEqual(['Destroyed']);
  });

  it('follows the fixture when its vmstates change (nothing is written out in the renderer)', async () => {
    const baseline = await catalogFrom(listApisFixture());
    expect(labels(baseline, 'Stopped')).not.toContain('Reboot');

    // An engine that lets a Stopped VM be rebooted: the UI offers Reboot there, and no longer for Running.
    const rebootStopped = await catalogFrom(withStates('rebootVirtualMachine', ['Stopped']));
    expect(labels(rebootStopped, 'Stopped')).toContain('Reboot');
    expect(labels(rebootStopped, 'Running')).not.toContain('Reboot');

    // Recover widened to Error: offered there too.
    const recoverError = await catalogFrom(withStates('recoverVirtualMachine', ['Destroyed', 'Error']));
    expect(labels(recoverError, 'Error')).toContain('Recover');

    // A state the renderer has never heard of works as soon as the engine declares it.
    const novel = await catalogFrom(withStates('startVirtualMachine', ['Hibernated']));
    expect(labels(novel, 'Hibernated')).toEqual(['Start', 'Start on…']);
    expect(labels(novel, 'Stopped')).not.toContain('Start');

    // Both stop actions share one command, so both follow its declaration.
    const stopOnlyUnknown = await catalogFrom(withStates('stopVirtualMachine', ['Unknown']));
    expect(labels(stopOnlyUnknown, 'Running')).toEqual(['Reboot', 'Console', 'Scale…', 'Migrate…', 'Reinstall…', 'Destroy', 'Attach ISO…', 'Unmanage']);
  });

  it('offers a command that declares no vmstates in every state', async () => {
    const apis = await catalogFrom(withStates('rebootVirtualMachine', undefined));
    for (const state of ['Running', 'Stopped', 'Destroyed', 'Starting']) expect(labels(apis, state)).toContain('Reboot');
  });

  it('hides the commands the caller may not use (a user\'s listApis has no recover, expunge or unmanage)', async () => {
    const user = await catalogFrom(listApisFixture().filter((api) => !['recoverVirtualMachine', 'expungeVirtualMachine', 'unmanageVirtualMachine'].includes(api.name)));
    expect(labels(user, 'Destroyed')).toEqual([]);
    expect(labels(user, 'Running')).toEqual(['Stop', 'Force stop', 'Reboot', 'Console', 'Scale…', 'Migrate…', 'Reinstall…', 'Destroy', 'Attach ISO…']);
  });

  it('matches command names without regard to case, as the registry does', async () => {
    const apis = await catalogFrom(listApisFixture().map((api) => ({ ...api, name: api.name.toUpperCase() })));
    expect(labels(apis, 'Destroyed')).toEqual(['Recover', 'Expunge']);
  });

  it('offers nothing until listApis has loaded (no fallback list)', () => {
    expect(labels(new Map(), 'Running')).toEqual([]);
    expect(bulkActions(new Map())).toEqual([]);
  });
});

describe('bulk actions', () => {
  it('are the bulk records whose command the caller has, whatever the states', async () => {
    const apis = await catalogFrom(listApisFixture());
    expect(bulkActions(apis).map((a) => a.label)).toEqual(['Start', 'Stop', 'Reboot', 'Destroy']);
    const noDestroy = await catalogFrom(listApisFixture().filter((api) => api.name !== 'destroyVirtualMachine'));
    expect(bulkActions(noDestroy).map((a) => a.label)).toEqual(['Start', 'Stop', 'Reboot']);
  });
});

describe('the records', () => {
  const byId = (id: string) => VM_ACTIONS.find((a) => a.id === id)!;

  it('build their parameters from the VM', () => {
    const v = vm('Running');
    expect(byId('stop').params(v)).toEqual({ id: v.id });
    expect(byId('force-stop').params(v)).toEqual({ id: v.id, forced: true });
    expect(byId('console').params(v)).toEqual({ virtualmachineid: v.id });
    expect(byId('recover').params(v)).toEqual({ id: v.id });
  });

  it('ask first for the destructive ones, naming the VMs', () => {
    expect(byId('stop').confirm).toBeUndefined();
    expect(byId('recover').confirm).toBeUndefined();
    expect(byId('destroy').confirm!(['a'])).toMatch(/^Destroy a\? .*recovered by an admin/);
    expect(byId('destroy').confirm!(['a', 'b', 'c', 'd', 'e'])).toMatch(/^Destroy a, b, c and 2 more\?/);
    expect(byId('expunge').confirm!(['a'])).toMatch(/cannot be undone/);
    expect(byId('unmanage').confirm!(['a'])).toMatch(/^Unmanage a\? Kiln forgets it.*stays on its hypervisor/);
    for (const id of ['force-stop', 'destroy', 'expunge', 'unmanage']) expect(byId(id).danger).toBe(true);
  });

  it('gate every action by a command the engine registers (no action without a command)', async () => {
    const apis = await catalogFrom(listApisFixture());
    for (const action of VM_ACTIONS) expect(apis.has(action.command.toLowerCase()), action.command).toBe(true);
  });
});

describe('the api catalog store', () => {
  it('calls listApis once however often it is asked to load', async () => {
    vi.resetModules();
    answer({ listApis: () => listApisResponse(listApisFixture()) });
    const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
    await Promise.all([useApiCatalog.getState().load(), useApiCatalog.getState().load()]);
    await useApiCatalog.getState().load();
    expect(invoke.mock.calls.filter(([command]) => command === 'listApis')).toHaveLength(1);
  });

  it('keeps the error of a failed load and loads again on the next try', async () => {
    vi.resetModules();
    let calls = 0;
    answer({ listApis: () => (++calls === 1 ? { errorcode: 530, errortext: 'engine not ready' } : listApisResponse(listApisFixture())) });
    const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
    await useApiCatalog.getState().load();
    expect(useApiCatalog.getState()).toMatchObject({ loaded: false, error: 'engine not ready' });
    expect(useApiCatalog.getState().apis.size).toBe(0);
    await useApiCatalog.getState().load();
    expect(useApiCatalog.getState()).toMatchObject({ loaded: true, error: undefined });
    expect(useApiCatalog.getState().apis.get('recovervirtualmachine')?.vmstates).toEqual(['Destroyed']);
  });
});
