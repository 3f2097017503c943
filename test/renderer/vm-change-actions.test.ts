/**
 * The VM change actions (change offering, scale, migrate, restore, start on…): offered from the
 * engine's listApis (vmstates, and the placement parameters it lists for the caller's role),
 * opening their dialog; and the logic the dialogs run (parameters sent, the engine's answer read:
 * moved or not, refusals with their hosts).
 */
import { answer, invoke } from './fake-bridge';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { actionsFor, VM_ACTIONS } from '../../renderer/src/actions/vm-actions';
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';
import type { Vm } from '../../renderer/src/api/model';
import { migrationChoices, offeringOutcomeText, outcomeOf, refusalSummary, refusedPlacement, restoreParams, startOnParams, startPlacementOffered } from '../../renderer/src/actions/vm-changes';
import { customSizeParams, customSizeProblems } from '../../renderer/src/api/custom-offering';
import { JobFailedError } from '../../renderer/src/api/jobs';
import { listApisFixture, listApisResponse } from './list-apis-fixture';

// run-action reaches the route store, which reads the page's location and listens for hash changes.
Object.assign(globalThis, { location: { hash: '' } });
Object.assign((globalThis as unknown as { window: object }).window, { addEventListener: () => undefined });

const uuid = (name: string) => ({ name, required: false, type: 'uuid' });
const id = { name: 'id', required: true, type: 'uuid' };

/** The fixture (an admin's listApis, with the change commands and startVirtualMachine's placement parameters) and findHostsForMigration. */
function adminApis(): ApiInfo[] {
  return [...listApisFixture(), { name: 'findHostsForMigration', isasync: false, params: [id] }];
}

/** What a user's listApis gives: no migrate commands, startVirtualMachine without placement parameters. */
function userApis(): ApiInfo[] {
  return adminApis()
    .filter((api) => !['migrateVirtualMachine', 'findHostsForMigration', 'recoverVirtualMachine', 'expungeVirtualMachine'].includes(api.name))
    .map((api) => (api.name === 'startVirtualMachine' ? { ...api, params: [id] } : api));
}

async function catalogFrom(apis: ApiInfo[]): Promise<Map<string, ApiInfo>> {
  vi.resetModules();
  answer({ listApis: () => listApisResponse(apis) });
  const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
  await useApiCatalog.getState().load();
  return useApiCatalog.getState().apis;
}

function vm(state: string, extra: Partial<Vm> = {}): Vm {
  return { id: 'vm-1', name: 'web-1', displayname: 'web-1', state, ...extra };
}

const labels = (apis: Map<string, ApiInfo>, state: string) => actionsFor(vm(state), apis).map((a) => a.label);
const CHANGES = ['Start on…', 'Scale…', 'Change offering…', 'Migrate…', 'Reinstall…'];
const changes = (apis: Map<string, ApiInfo>, state: string) => labels(apis, state).filter((l) => CHANGES.includes(l));

beforeEach(() => {
  invoke.mockReset();
});

describe('the change actions, offered as listApis declares', () => {
  it('offers an admin scale, migrate and restore on a running VM; start on, change offering and restore on a stopped one', async () => {
    const apis = await catalogFrom(adminApis());
    expect(changes(apis, 'Running')).toEqual(['Scale…', 'Migrate…', 'Reinstall…']);
    expect(changes(apis, 'Stopped')).toEqual(['Start on…', 'Change offering…', 'Reinstall…']);
    expect(changes(apis, 'Error')).toEqual(['Start on…']);
    for (const state of ['Destroyed', 'Migrating', 'Starting']) expect(changes(apis, state)).toEqual([]);
  });

  it('offers a user neither start on nor migrate: its listApis lists no placement parameter and no migrate command', async () => {
    const apis = await catalogFrom(userApis());
    expect(changes(apis, 'Running')).toEqual(['Scale…', 'Reinstall…']);
    expect(changes(apis, 'Stopped')).toEqual(['Change offering…', 'Reinstall…']);
    expect(labels(apis, 'Stopped')).toContain('Start');
    expect(startPlacementOffered(apis)).toEqual([]);
  });

  it('offers the start-on fields the engine lists, and follows a change of them', async () => {
    expect(startPlacementOffered(await catalogFrom(adminApis()))).toEqual(['podid', 'clusterid', 'hostid']);
    // An engine that lets this caller name a cluster but not a host: no "Start on…" (it needs hostid), no host field.
    const clusterOnly = adminApis().map((api) => (api.name === 'startVirtualMachine' ? { ...api, params: [id, uuid('clusterid')] } : api));
    const apis = await catalogFrom(clusterOnly);
    expect(startPlacementOffered(apis)).toEqual(['clusterid']);
    expect(labels(apis, 'Stopped')).not.toContain('Start on…');
  });

  it('follows the engine when it widens a command\'s states (scale on a stopped VM)', async () => {
    const apis = await catalogFrom(adminApis().map((api) => (api.name === 'scaleVirtualMachine' ? { ...api, vmstates: ['Running', 'Stopped'] } : api)));
    expect(changes(apis, 'Stopped')).toContain('Scale…');
  });

  it('opens each one\'s dialog instead of calling its command', async () => {
    const apis = await catalogFrom(adminApis());
    const { runVmAction } = await import('../../renderer/src/actions/run-action');
    const { useVmDialog } = await import('../../renderer/src/stores/vm-dialog-store');
    const v = vm('Running');
    invoke.mockReset();
    for (const [label, kind] of [['Scale…', 'scale'], ['Migrate…', 'migrate'], ['Reinstall…', 'restore']] as const) {
      const action = actionsFor(v, apis).find((a) => a.label === label)!;
      expect(await runVmAction(action, v)).toBe(true);
      expect(useVmDialog.getState()).toMatchObject({ kind, vm: v });
    }
    const stopped = vm('Stopped');
    for (const [label, kind] of [['Start on…', 'start-on'], ['Change offering…', 'offering']] as const) {
      await runVmAction(actionsFor(stopped, apis).find((a) => a.label === label)!, stopped);
      expect(useVmDialog.getState().kind).toBe(kind);
    }
    expect(invoke).not.toHaveBeenCalled();
  });

  it('gate on commands the engine registers', async () => {
    const apis = await catalogFrom(adminApis());
    for (const action of VM_ACTIONS) expect(apis.has(action.command.toLowerCase()), action.command).toBe(true);
  });
});

describe('what the dialogs send and read', () => {
  it('splits findHostsForMigration into hosts to choose and hosts with the engine\'s reason', () => {
    const { suitable, refused } = migrationChoices([
      { id: 'h1', name: 'sim-host-1', suitableformigration: false, reason: 'the VM already runs on this host' },
      { id: 'h2', name: 'sim-host-2', suitableformigration: true, reason: 'suitable' },
      { id: 'h3', name: 'sim-host-3', suitableformigration: false, reason: 'memory: needs 512 MB, 100 MB free' },
    ]);
    expect(suitable.map((h) => h.name)).toEqual(['sim-host-2']);
    expect(refused.map((h) => `${h.name}: ${h.reason}`)).toEqual(['sim-host-1: the VM already runs on this host', 'sim-host-3: memory: needs 512 MB, 100 MB free']);
  });

  it('sends only the placement chosen, and no templateid to restore from the current image', () => {
    expect(startOnParams(vm('Stopped'), { hostid: 'h2' })).toEqual({ id: 'vm-1', hostid: 'h2' });
    expect(startOnParams(vm('Stopped'), { podid: 'p1', clusterid: undefined })).toEqual({ id: 'vm-1', podid: 'p1' });
    expect(restoreParams(vm('Running'), undefined)).toEqual({ virtualmachineid: 'vm-1' });
    expect(restoreParams(vm('Running'), 't2')).toEqual({ virtualmachineid: 'vm-1', templateid: 't2' });
  });

  it('sends a custom size only for a custom offering, with cpuSpeed only when the offering fixes none', () => {
    const size = { cpuNumber: '2', memory: '2048', cpuSpeed: '1500' };
    expect(customSizeParams({ id: 'o', name: 'Small', cpunumber: 1, memory: 512 }, size)).toEqual({});
    expect(customSizeParams({ id: 'o', name: 'Constrained', iscustomized: true, cpuspeed: 1000 }, size)).toEqual({ 'details[0].cpuNumber': '2', 'details[0].memory': '2048' });
    expect(customSizeParams({ id: 'o', name: 'Custom', iscustomized: true }, size)).toEqual({ 'details[0].cpuNumber': '2', 'details[0].memory': '2048', 'details[0].cpuSpeed': '1500' });
    expect(customSizeProblems({ id: 'o', name: 'Custom', iscustomized: true }, { cpuNumber: '0', memory: 'x', cpuSpeed: '' })).toEqual([
      'Give the number of CPU cores.', 'Give the memory in MiB.', 'Give the CPU speed in MHz.',
    ]);
  });

  it('says whether a live scale stayed on its host or was migrated first', () => {
    const before = vm('Running', { hostid: 'h1', hostname: 'sim-host-1' });
    const stayed = outcomeOf(before, { ...before, serviceofferingname: 'Medium Instance', cpunumber: 1, memory: 1024 });
    expect(stayed.moved).toBe(false);
    expect(offeringOutcomeText(stayed, true)).toBe('web-1 was scaled live to Medium Instance (1 vCPU, 1024 MB). It stayed on sim-host-1.');
    const moved = outcomeOf(before, { ...before, hostid: 'h2', hostname: 'sim-host-2', serviceofferingname: 'Medium Instance', cpunumber: 1, memory: 1024 });
    expect(moved).toMatchObject({ moved: true, from: 'sim-host-1', to: 'sim-host-2' });
    expect(offeringOutcomeText(moved, true)).toMatch(/Its host sim-host-1 had no room, so it was migrated live to sim-host-2 first\.$/);
    expect(offeringOutcomeText(outcomeOf(vm('Stopped'), { ...vm('Stopped'), serviceofferingname: 'Large Instance', cpunumber: 2, memory: 4096 }), false)).toBe(
      'web-1 now has offering Large Instance (2 vCPU, 4096 MB); it applies at the next start.',
    );
  });

  it('reads the hosts of a placement refusal from a failed job (533), and nothing from other errors', () => {
    const verdicts = [{ hostName: 'sim-host-2', suitable: false, reason: 'memory: needs 1024 MB, 10 MB free' }];
    expect(refusedPlacement(new JobFailedError('j1', { errorcode: 533, errortext: 'no host', placement: verdicts }))).toEqual({ hosts: verdicts });
    expect(refusedPlacement(new JobFailedError('j2', { errorcode: 431, errortext: 'bad', placement: verdicts }))).toBeUndefined();
    expect(refusedPlacement(new JobFailedError('j3', { errorcode: 533, errortext: 'no host (user: no details)' }))).toBeUndefined();
    // Beside the table, the error drops the host list the engine appends; without a table it keeps it.
    const error = { code: 533, text: 'no host can hold VM a; it keeps running as before (sim-host-2: memory: needs 1024 MB, 10 MB free)' };
    expect(refusalSummary(error, { hosts: verdicts })).toEqual({ code: 533, text: 'no host can hold VM a; it keeps running as before' });
    expect(refusalSummary(error, undefined)).toBe(error);
  });
});
