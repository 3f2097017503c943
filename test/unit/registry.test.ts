import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paginate } from '../../main/engine/registry/registry.js';
import { ApiError } from '../../main/engine/registry/errors.js';
import { testEngine, demoIds, type TestEngine } from '../helpers/engine.js';

describe('pagination', () => {
  const items = Array.from({ length: 7 }, (_, i) => ({ id: String(i) }));

  it('counts the total, not the page', () => {
    expect(paginate(items, 2, 3, 500, 'thing')).toEqual({ count: 7, thing: [{ id: '3' }, { id: '4' }, { id: '5' }] });
    expect(paginate(items, 3, 3, 500, 'thing')).toEqual({ count: 7, thing: [{ id: '6' }] });
    expect(paginate(items, undefined, undefined, 500, 'thing')).toMatchObject({ count: 7 });
  });

  it('returns no count at all for an empty list', () => {
    expect(paginate([], undefined, undefined, 500, 'thing')).toEqual({});
  });

  it('needs page and pagesize together and bounds pagesize', () => {
    expect(() => paginate(items, 1, undefined, 500, 'thing')).toThrow(/page: requires pagesize/);
    expect(() => paginate(items, undefined, 3, 500, 'thing')).toThrow(/pagesize: requires page/);
    expect(() => paginate(items, 1, 501, 500, 'thing')).toThrow(/largest page size is 500/);
    expect(paginate(items, undefined, -1, 500, 'thing')).toMatchObject({ count: 7 });
    try {
      paginate(items, 1, 600, 500, 'thing');
    } catch (error) {
      expect((error as ApiError).errorCode).toBe(431);
    }
  });
});

describe('the registry', () => {
  let t: TestEngine;
  beforeAll(async () => {
    t = await testEngine();
  });
  afterAll(() => t.close());

  it('wraps a list in <object> with the total count', async () => {
    const res = await t.call('listZones');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ count: 1, zone: [{ name: 'Demo' }] });
  });

  it('answers an empty list with an empty object', async () => {
    const res = await t.call('listZones', { name: 'nowhere' });
    expect(res.body).toEqual({});
  });

  it('pages through list results', async () => {
    const res = await t.call('listOsTypes', { page: '2', pagesize: '3' });
    expect(res.body['count']).toBeGreaterThan(6);
    expect((res.body['ostype'] as unknown[]).length).toBe(3);
  });

  it('gives 432 for an unknown command, and for one the role cannot see', async () => {
    const res = await t.call('fooBar');
    expect(res.status).toBe(432);
    expect(res.body).toMatchObject({ errorcode: 432, cserrorcode: 9999, uuidList: [] });
    const { accountId } = t.engine.accounts.createAccount({ name: 'bob', role: 'User', domainId: t.admin.domainId, username: 'bob', password: 'secret1' });
    const bob = t.engine.accounts.byUserId((t.engine.db.prepare('SELECT id FROM users WHERE account_id=?').get(accountId) as { id: number }).id)!;
    expect((await t.call('listHosts', {}, bob)).status).toBe(432);
    expect((await t.call('listZones', {}, bob)).status).toBe(200);
  });

  it('wraps a sync object, and an async create as {id, jobid}', async () => {
    const ids = demoIds(t.engine);
    const created = await t.call('createServiceOffering', { name: 'tiny', cpunumber: '1', cpuspeed: '100', memory: '128' });
    expect(created.body).toMatchObject({ serviceoffering: { name: 'tiny', cpunumber: 1, memory: 128 } });
    const deploy = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, startvm: 'false' });
    expect(Object.keys(deploy.body).sort()).toEqual(['id', 'jobid']);
    await t.engine.jobs.drain();
    // Created (never started) cannot be stopped: 431 naming the state.
    const stop = await t.call('stopVirtualMachine', { id: String(deploy.body['id']) });
    expect(stop.status).toBe(431);
    expect(String(stop.body['errortext'])).toMatch(/state Created/);
  });

  it('lists APIs with their parameters and the VM states they apply in', async () => {
    const res = await t.call('listApis', { name: 'startVirtualMachine' });
    const api = (res.body['api'] as Record<string, unknown>[])[0]!;
    expect(api).toMatchObject({ name: 'startVirtualMachine', isasync: true });
    expect(api['vmstates']).toEqual(['Stopped', 'Created', 'Error']);
    expect((api['params'] as { name: string; required: boolean }[]).find((p) => p.name === 'id')?.required).toBe(true);
  });

  it('lists the VM states of a parameter that applies in fewer states than its command', async () => {
    const paramStates = async (command: string) => {
      const api = ((await t.call('listApis', { name: command })).body['api'] as { vmstates?: string[]; params: { name: string; vmstates?: string[] }[] }[])[0]!;
      return { command: api.vmstates, params: Object.fromEntries(api.params.filter((p) => p.vmstates).map((p) => [p.name, p.vmstates])) };
    };
    expect(await paramStates('createVMSnapshot')).toEqual({ command: ['Running', 'Stopped'], params: { snapshotmemory: ['Running'] } });
    const update = await paramStates('updateVirtualMachine');
    expect(update.command).toBeUndefined();
    expect(Object.keys(update.params).sort()).toEqual(['cleanupdetails', 'details', 'isdynamicallyscalable', 'name', 'ostypeid']);
    expect(update.params['name']).toEqual(['Stopped', 'Created']);
  });

  it('maps the 533 of a placement failure with cserrorcode 4335 and writes nothing', async () => {
    const ids = demoIds(t.engine);
    const big = await t.call('createServiceOffering', { name: 'huge', cpunumber: '64', cpuspeed: '2000', memory: '1048576' });
    const before = t.engine.db.prepare('SELECT COUNT(*) AS n FROM vm_instances').get();
    const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: (big.body['serviceoffering'] as { id: string }).id });
    expect(res.status).toBe(533);
    expect(res.body).toMatchObject({ errorcode: 533, cserrorcode: 4335 });
    expect(String(res.body['errortext'])).toMatch(/sim-host-1: cpu: needs 64 cores/);
    expect(t.engine.db.prepare('SELECT COUNT(*) AS n FROM vm_instances').get()).toEqual(before);
  });
});
