/**
 * The ISO actions of a VM: Attach ISO… while its drive is empty, Detach ISO while it holds one,
 * in the states the engine's listApis gives attachIso and detachIso (Running, Stopped).
 */
import { answer, invoke } from './fake-bridge';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { actionsFor } from '../../renderer/src/actions/vm-actions';
import type { Vm } from '../../renderer/src/api/model';
import { listApisFixture, listApisResponse } from './list-apis-fixture';

const isoCommands = [
  { name: 'attachIso', isasync: true, vmstates: ['Running', 'Stopped'], params: [{ name: 'id', required: true, type: 'uuid' }, { name: 'virtualmachineid', required: true, type: 'uuid' }] },
  { name: 'detachIso', isasync: true, vmstates: ['Running', 'Stopped'], params: [{ name: 'virtualmachineid', required: true, type: 'uuid' }] },
];

beforeEach(() => {
  invoke.mockReset();
});

describe('ISO actions', () => {
  it('offers Attach ISO… for an empty drive and Detach ISO for a full one, only in the states listApis gives', async () => {
    vi.resetModules();
    answer({ listApis: () => listApisResponse([...listApisFixture(), ...isoCommands]) });
    const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
    await useApiCatalog.getState().load();
    const apis = useApiCatalog.getState().apis;
    const iso = (vm: Vm) => actionsFor(vm, apis).map((a) => a.label).filter((l) => l.includes('ISO'));
    expect(iso({ id: 'a', name: 'a', displayname: 'a', state: 'Running' })).toEqual(['Attach ISO…']);
    expect(iso({ id: 'a', name: 'a', displayname: 'a', state: 'Stopped', isoid: 'iso-1' })).toEqual(['Detach ISO']);
    expect(iso({ id: 'a', name: 'a', displayname: 'a', state: 'Created' })).toEqual([]);
    const detach = actionsFor({ id: 'a', name: 'a', displayname: 'a', state: 'Running', isoid: 'iso-1' }, apis).find((a) => a.id === 'detach-iso')!;
    expect(detach.params({ id: 'a', name: 'a', displayname: 'a', state: 'Running' })).toEqual({ virtualmachineid: 'a' });
    expect(detach.confirm?.(['web-1'])).toBe('Eject the ISO from the CD-ROM drive of web-1?');
  });
});
