/**
 * Every list command pages in its query: `count` is the total on every page, the pages together
 * are the unpaged list in the same order, the last page holds the rest, a page past the end has
 * the count and no objects, and an empty list has no count. The same holds for a user, a domain
 * admin and the root admin, and with filters. And a list call runs a number of SQL statements
 * that does not grow with the rows it matched (a statement counter on the database).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { cloneVms } from '../helpers/seeded-vms.js';
import { countStatements } from '../helpers/statement-counter.js';
import { scopedCallers } from '../helpers/scoped-callers.js';
import { listCommands, requiredParams as requiredListParams } from '../helpers/list-commands.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let alice: Caller; // a user in domain sales
let salesAdmin: Caller; // the domain admin of sales
let bob: Caller; // a user in ROOT
let aliceVm: Record<string, string>;

type Body = Record<string, unknown>;

beforeAll(async () => {
  t = await testEngine();
  ({ alice, salesAdmin, bob } = await scopedCallers(t));
  aliceVm = await deployDemo(t, { name: 'alice-0', startvm: 'false' }, alice);
  const bobVm = await deployDemo(t, { name: 'bob-0', startvm: 'false' }, bob);
  cloneVms(t.engine.db, aliceVm['id']!, 30, 'alice');
  cloneVms(t.engine.db, bobVm['id']!, 10, 'bob');
  await deployDemo(t, { name: 'root-running' });
  // The backup lists answer only where the framework is on (issue 15); page them too.
  const zoneid = t.engine.db.prepare('SELECT uuid FROM zones ORDER BY id LIMIT 1').pluck().get() as string;
  expect((await t.call('updateConfiguration', { name: 'backup.framework.enabled', value: 'true', zoneid })).status).toBe(200);
}, 60_000);
afterAll(() => t?.close());

/** What a list command needs to be called at all (shared with list-statements). */
const requiredParams = (command: string) => requiredListParams(t, command);

async function ok(command: string, params: Record<string, string>, caller: Caller = t.admin): Promise<Body> {
  const res = await t.call(command, params, caller);
  expect(res.status, `${command} ${JSON.stringify(params)}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
}

/** Pages of SIZE through the whole list: each has the total; together they are the unpaged list. */
async function expectPagesMatch(command: string, key: string, params: Record<string, string>, caller: Caller, size: number): Promise<number> {
  const all = await ok(command, params, caller);
  const total = (all['count'] as number | undefined) ?? 0;
  if (total === 0) {
    expect(all, `${command}: an empty list has no count`).toEqual({});
    expect(await ok(command, { ...params, page: '1', pagesize: String(size) }, caller)).toEqual({});
    return 0;
  }
  const items = all[key] as unknown[];
  expect(items.length, `${command}: unpaged answers every row`).toBe(total);
  const pages = Math.ceil(total / size);
  const seen: unknown[] = [];
  for (let page = 1; page <= pages; page++) {
    const body = await ok(command, { ...params, page: String(page), pagesize: String(size) }, caller);
    expect(body['count'], `${command} page ${page}: count is the total`).toBe(total);
    const rows = body[key] as unknown[];
    expect(rows.length).toBe(page < pages ? size : total - size * (pages - 1));
    seen.push(...rows);
  }
  expect(seen, `${command}: the pages together are the list, in order`).toEqual(items);
  expect(await ok(command, { ...params, page: String(pages + 1), pagesize: String(size) }, caller), `${command}: past the last page`).toEqual({ count: total });
  return total;
}

describe('paging every list command', () => {
  it('pages every list command the root admin can call: count, last page, past the end, and pagesize=-1', async () => {
    const lists = listCommands(t);
    expect(lists.length).toBeGreaterThan(20);
    const totals: Record<string, number> = {};
    for (const def of lists) {
      const params = requiredParams(def.name);
      if (!params) continue;
      totals[def.name] = await expectPagesMatch(def.name, def.response, params, t.admin, 2);
      if (totals[def.name]! > 0) expect((await ok(def.name, { ...params, pagesize: '-1' }))['count']).toBe(totals[def.name]);
    }
    // The demo zone's 2 VMs and the fixture's 43, their root volumes, the jobs and events of the deploys.
    expect(totals['listVirtualMachines']).toBe(45);
    expect(totals['listVolumes']).toBeGreaterThanOrEqual(45);
    expect(totals['listAsyncJobs']).toBeGreaterThanOrEqual(3);
    expect(totals['listEvents']).toBeGreaterThanOrEqual(3);
  });

  it('pages by scope: a user sees its own, a domain admin its domain, the root admin all', async () => {
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', {}, alice, 10)).toBe(31);
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', { listall: 'true' }, salesAdmin, 10)).toBe(31);
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', {}, bob, 4)).toBe(11);
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', { listall: 'true' }, t.admin, 20)).toBe(45);
    expect(await expectPagesMatch('listVolumes', 'volume', {}, bob, 4)).toBe(11);
    expect(await expectPagesMatch('listVolumes', 'volume', { listall: 'true' }, salesAdmin, 7)).toBe(31);
    expect(await expectPagesMatch('listAsyncJobs', 'asyncjobs', {}, alice, 1)).toBe(1);
    expect(await expectPagesMatch('listAccounts', 'account', { listall: 'true' }, salesAdmin, 1)).toBe(2);
    expect(await expectPagesMatch('listUsers', 'user', { listall: 'true' }, salesAdmin, 1)).toBe(2);
    const page = await ok('listVirtualMachines', { page: '4', pagesize: '10' }, alice);
    expect((page['virtualmachine'] as { account: string }[]).map((v) => v.account)).toEqual(['alice']);
  });

  it('pages with filters, and the count follows the filter', async () => {
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', { listall: 'true', keyword: 'bob' }, t.admin, 3)).toBe(11);
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', { listall: 'true', state: 'Created' }, t.admin, 5)).toBe(42);
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', { listall: 'true', state: 'running' }, t.admin, 5)).toBe(3);
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', { name: 'alice-00007' }, alice, 5)).toBe(1);
    expect(await expectPagesMatch('listVirtualMachines', 'virtualmachine', { name: 'nobody' }, alice, 5)).toBe(0);
    expect(await expectPagesMatch('listVolumes', 'volume', { virtualmachineid: aliceVm['id']! }, alice, 5)).toBe(1);
    expect(await expectPagesMatch('listEvents', 'event', { keyword: 'bob-0' }, t.admin, 1)).toBeGreaterThanOrEqual(1);
  });

  it('keeps the page rules: page and pagesize need each other, default.page.size caps, -1 takes no page', async () => {
    const err = async (params: Record<string, string>) => {
      const res = await t.call('listVirtualMachines', params);
      expect(res.status).toBe(431);
      return String(res.body['errortext']);
    };
    expect(await err({ page: '1' })).toMatch(/page: requires pagesize/);
    expect(await err({ pagesize: '5' })).toMatch(/pagesize: requires page/);
    expect(await err({ page: '1', pagesize: '501' })).toMatch(/pagesize: the largest page size is 500/);
    expect(await err({ page: '1', pagesize: '-1' })).toMatch(/page: cannot be combined with pagesize=-1/);
    expect(await err({ page: '0', pagesize: '5' })).toMatch(/page: must be 1 or more/);
    expect((await ok('listVirtualMachines', { listall: 'true', pagesize: '-1' }))['count']).toBe(45);
  });
});

describe('details=min on listVirtualMachines', () => {
  it('keeps identity, owner, state, zone and host, and drops the groups not asked for', async () => {
    const full = ((await ok('listVirtualMachines', { name: 'root-running' }))['virtualmachine'] as Body[])[0]!;
    const min = ((await ok('listVirtualMachines', { name: 'root-running', details: 'min' }))['virtualmachine'] as Body[])[0]!;
    for (const key of ['id', 'name', 'displayname', 'account', 'domainid', 'state', 'zoneid', 'zonename', 'hostid', 'hostname', 'created']) expect(min[key], key).toEqual(full[key]);
    for (const key of ['nic', 'affinitygroup', 'details', 'serviceofferingname', 'templatename', 'memory']) {
      expect(full[key], key).toBeDefined();
      expect(min[key], key).toBeUndefined();
    }
    const withNics = ((await ok('listVirtualMachines', { name: 'root-running', details: 'min,nics' }))['virtualmachine'] as Body[])[0]!;
    expect(withNics['nic']).toEqual(full['nic']);
    expect(withNics['serviceofferingname']).toBeUndefined();
    expect(JSON.stringify(min).length).toBeLessThan(JSON.stringify(full).length * 0.6);
    const bad = await t.call('listVirtualMachines', { details: 'min,everything' });
    expect(bad.status).toBe(431);
    expect(bad.body['errortext']).toMatch(/details: everything is not one of all, min/);
  });
});

describe('statements per list call', () => {
  const measured = [
    ['listVirtualMachines', { listall: 'true' }],
    ['listVolumes', { listall: 'true' }],
    ['listEvents', {}],
    ['listAsyncJobs', {}],
  ] as const;

  it('stays the same whatever the page size and however many rows match', async () => {
    const statements = async (command: string, params: Record<string, string>) => {
      const { result, statements: n, sql } = await countStatements(t.engine.db, () => t.call(command, params));
      expect(result.status).toBe(200);
      return { n, sql };
    };
    const before: Record<string, number> = {};
    for (const [command, params] of measured) {
      const one = await statements(command, { ...params, page: '1', pagesize: '1' });
      const all = await statements(command, { ...params, pagesize: '-1' });
      expect(all.n, `${command}: all rows vs one row\n${all.sql.join('\n')}`).toBe(one.n);
      before[command] = all.n;
    }
    // Ten times the VMs (and their volumes): the list calls run the same statements.
    cloneVms(t.engine.db, aliceVm['id']!, 400, 'more');
    for (const [command, params] of measured) {
      const after = await statements(command, { ...params, pagesize: '-1' });
      expect(after.n, `${command} at 445 VMs`).toBe(before[command]);
      expect(after.n).toBeLessThanOrEqual(12);
    }
    expect((await ok('listVirtualMachines', { listall: 'true', page: '1', pagesize: '1' }))['count']).toBe(445);
  });
});
