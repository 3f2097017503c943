/**
 * listResourceDetails resourcetype=Zone (CloudStack's ListResourceDetailsCmd): the details set by
 * updateZone and addResourceDetail are listed one `resourcedetail` per key (resourceid,
 * resourcetype, key, value, fordisplay), filtered by resourceid, key and key+value, paged in the
 * query with count the total (an empty list has no count); another resource type, an unknown or
 * deleted zone and a value without key are 431s naming the parameter; any role may list (listZones
 * shows every caller the same details), value and fordisplay are the root admin's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let carol: Caller;
let rackZone: string;
let opsZone: string;

const list = (params: Record<string, string>, caller?: Caller) => t.ok('listResourceDetails', { resourcetype: 'Zone', ...params }, caller);
const errorOf = async (params: Record<string, string>, caller?: Caller) => {
  const r = await t.call('listResourceDetails', params, caller);
  return { status: r.status, text: String(r.body['errortext'] ?? '') };
};
const detail = (resourceid: string, key: string, value: string) => ({ resourceid, resourcetype: 'Zone', key, value, fordisplay: true });

beforeAll(async () => {
  t = await testEngine();
  const domainId = t.engine.db.prepare(`SELECT id FROM domains WHERE path='/'`).pluck().get() as number;
  const { userId } = t.engine.accounts.createAccount({ name: 'carol', role: 'User', domainId, username: 'carol', password: 'secret-pw' });
  carol = t.engine.accounts.byUserId(userId) as Caller;
  rackZone = ((await t.ok('createZone', { name: 'Rack Zone' }))['zone'] as { id: string }).id;
  opsZone = ((await t.ok('createZone', { name: 'Ops Zone' }))['zone'] as { id: string }).id;
  // One zone's details through updateZone, the other's through addResourceDetail.
  await t.ok('updateZone', { id: rackZone, 'details[0].key': 'owner', 'details[0].value': 'lab', 'details[1].key': 'rack', 'details[1].value': 'A4' });
  expect((await t.run('addResourceDetail', { resourcetype: 'Zone', resourceid: opsZone, 'details[0].key': 'owner', 'details[0].value': 'ops', 'details[1].key': 'row', 'details[1].value': '7' }))['jobstatus']).toBe(1);
});
afterAll(() => t.close());

describe('listResourceDetails resourcetype=Zone', () => {
  it("lists a zone's details, set by updateZone or addResourceDetail, one per key", async () => {
    expect(await list({ resourceid: rackZone })).toEqual({ count: 2, resourcedetail: [detail(rackZone, 'owner', 'lab'), detail(rackZone, 'rack', 'A4')] });
    expect(await list({ resourceid: opsZone })).toEqual({ count: 2, resourcedetail: [detail(opsZone, 'owner', 'ops'), detail(opsZone, 'row', '7')] });
    // resourcetype is read in any case, as CloudStack's ResourceObjectType lookup does.
    expect(await list({ resourcetype: 'zone', resourceid: rackZone })).toMatchObject({ count: 2 });
    // Without resourceid: every zone's, zone by zone (listZones' order), key by key.
    expect((await list({}))['resourcedetail']).toEqual([detail(rackZone, 'owner', 'lab'), detail(rackZone, 'rack', 'A4'), detail(opsZone, 'owner', 'ops'), detail(opsZone, 'row', '7')]);
    // What listZones shows as resourcedetails, the list shows as rows.
    const shown = ((await t.ok('listZones', { id: opsZone }))['zone'] as Record<string, unknown>[])[0]!['resourcedetails'];
    expect(shown).toEqual({ owner: 'ops', row: '7' });
  });

  it('filters by key, by key and value, by keyword, and follows removeResourceDetail', async () => {
    expect(await list({ key: 'owner' })).toEqual({ count: 2, resourcedetail: [detail(rackZone, 'owner', 'lab'), detail(opsZone, 'owner', 'ops')] });
    expect(await list({ key: 'owner', value: 'ops' })).toEqual({ count: 1, resourcedetail: [detail(opsZone, 'owner', 'ops')] });
    expect(await list({ resourceid: rackZone, key: 'owner', value: 'ops' })).toEqual({});
    expect(await list({ resourceid: opsZone, key: 'row' })).toEqual({ count: 1, resourcedetail: [detail(opsZone, 'row', '7')] });
    expect(await list({ keyword: 'A4' })).toEqual({ count: 1, resourcedetail: [detail(rackZone, 'rack', 'A4')] });
    expect(await list({ key: 'nope' })).toEqual({});
    const other = ((await t.ok('createZone', { name: 'Short Zone' }))['zone'] as { id: string }).id;
    await t.ok('updateZone', { id: other, 'details[0].key': 'gone', 'details[0].value': 'soon' });
    expect(await list({ resourceid: other })).toMatchObject({ count: 1 });
    expect((await t.run('removeResourceDetail', { resourcetype: 'Zone', resourceid: other, key: 'gone' }))['jobstatus']).toBe(1);
    // A zone without details lists none: an empty list, no count.
    expect(await list({ resourceid: other })).toEqual({});
  });

  it('pages in the query: count is the total on every page, a page past the end has the count only', async () => {
    const all = (await list({}))['resourcedetail'] as unknown[];
    expect(all).toHaveLength(4);
    const pages = [];
    for (const page of ['1', '2']) {
      const answer = await list({ page, pagesize: '3' });
      expect(answer['count']).toBe(4);
      pages.push(...(answer['resourcedetail'] as unknown[]));
    }
    expect(pages).toEqual(all);
    expect(await list({ key: 'owner', page: '2', pagesize: '1' })).toEqual({ count: 2, resourcedetail: [detail(opsZone, 'owner', 'ops')] });
    expect(await list({ key: 'owner', page: '3', pagesize: '1' })).toEqual({ count: 2 });
    expect((await errorOf({ resourcetype: 'Zone', page: '1' })).text).toBe('page: requires pagesize');
  });

  it('fordisplay=true lists every zone detail (Kiln shows them all), false none', async () => {
    expect(await list({ resourceid: rackZone, fordisplay: 'true' })).toEqual(await list({ resourceid: rackZone }));
    expect(await list({ resourceid: rackZone, fordisplay: 'false' })).toEqual({});
  });

  it('refuses another resource type, an unknown or deleted zone and a value without key, naming the parameter', async () => {
    expect(await errorOf({ resourcetype: 'UserVm' })).toEqual({ status: 431, text: 'resourcetype: "UserVm" is not a resource type Kiln keeps details for with listResourceDetails: Zone' });
    expect((await errorOf({})).status).toBe(431);
    const unknown = '6a1f3c2e-0b7d-4e55-9c1a-2f0e8d7b6a51';
    expect(await errorOf({ resourcetype: 'Zone', resourceid: unknown })).toEqual({
      status: 431,
      text: `Unable to execute API command listresourcedetails due to invalid value. Invalid parameter resourceid value=${unknown} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`,
    });
    const deleted = ((await t.ok('createZone', { name: 'Deleted Zone' }))['zone'] as { id: string }).id;
    await t.ok('updateZone', { id: deleted, 'details[0].key': 'owner', 'details[0].value': 'old' });
    await t.ok('deleteZone', { id: deleted });
    expect((await errorOf({ resourcetype: 'Zone', resourceid: deleted })).status).toBe(431);
    expect((await list({ key: 'owner', value: 'old' }))).toEqual({});
    expect(await errorOf({ resourcetype: 'Zone', value: 'lab' })).toEqual({ status: 431, text: 'value: lists by key and value; give key too' });
  });

  it("answers a user as listZones does (the zone's details), and keeps value and fordisplay for the root admin", async () => {
    expect(await list({ resourceid: rackZone }, carol)).toEqual(await list({ resourceid: rackZone }));
    expect(await errorOf({ resourcetype: 'Zone', key: 'owner', value: 'lab' }, carol)).toEqual({ status: 531, text: 'parameter value is for Admin accounts only' });
    expect((await errorOf({ resourcetype: 'Zone', fordisplay: 'true' }, carol)).status).toBe(531);
  });

  it('listApis publishes it with resourcetype required', async () => {
    const api = ((await t.ok('listApis', { name: 'listResourceDetails' }))['api'] as { name: string; params: { name: string; required: boolean }[] }[])[0]!;
    expect(api.params.filter((p) => p.required).map((p) => p.name)).toEqual(['resourcetype']);
    expect(api.params.map((p) => p.name).sort()).toEqual(['fordisplay', 'key', 'keyword', 'page', 'pagesize', 'resourceid', 'resourcetype', 'value']);
  });
});
