/**
 * Issue 16, P3: listVirtualMachines' `count` for a list filtered by scope and state alone comes
 * from the VM counts per account and state that triggers keep (migration 48), not from a COUNT(*)
 * that reads every VM in scope. The total is CloudStack's either way: every VM the caller may see
 * (users: not destroyed; admins: not expunged), for the root admin, a domain admin and users, with
 * and without a state filter, after starts, destroys, expunges, an owner change, a deleted row,
 * and on a database whose VMs were there before the migration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { cloneVms } from '../helpers/seeded-vms.js';
import { countStatements } from '../helpers/statement-counter.js';
import { scopedCallers } from '../helpers/scoped-callers.js';
import { migrate } from '../../main/engine/db/database.js';
import { MIGRATIONS } from '../../main/engine/db/migrations.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let alice: Caller; // a user in domain sales
let salesAdmin: Caller; // the domain admin of sales
let bob: Caller; // a user in ROOT
let aliceVm: Record<string, string>;
let bobVm: Record<string, string>;

beforeAll(async () => {
  t = await testEngine();
  ({ alice, salesAdmin, bob } = await scopedCallers(t));
  aliceVm = await deployDemo(t, { name: 'alice-0', startvm: 'false' }, alice);
  bobVm = await deployDemo(t, { name: 'bob-0', startvm: 'false' }, bob);
  cloneVms(t.engine.db, aliceVm['id']!, 12, 'alice');
  cloneVms(t.engine.db, bobVm['id']!, 7, 'bob');
  await deployDemo(t, { name: 'root-running' });
}, 60_000);
afterAll(() => t?.close());

/** What the total must be: the VMs CALLER may see, counted row by row. */
function truth(caller: Caller, state?: string): number {
  const hidden = caller.role === 'User' ? `v.state NOT IN ('Destroyed','Expunged')` : `v.state<>'Expunged'`;
  const scope =
    caller.role === 'Admin'
      ? { sql: '1=1', values: [] as unknown[] }
      : caller.role === 'User'
        ? { sql: 'v.account_id=?', values: [caller.accountId] as unknown[] }
        : { sql: `v.account_id IN (SELECT a.id FROM accounts a JOIN domains d ON d.id=a.domain_id WHERE substr(d.path,1,length(?))=?)`, values: [caller.domainPath, caller.domainPath] as unknown[] };
  const byState = state ? ' AND lower(v.state)=lower(?)' : '';
  return t.engine.db.prepare(`SELECT COUNT(*) FROM vm_instances v WHERE ${scope.sql} AND ${hidden}${byState}`).pluck().get(...scope.values, ...(state ? [state] : [])) as number;
}

/** listVirtualMachines' count for CALLER (a 5-row page, as a list view asks), and the SQL it ran. */
async function listed(caller: Caller, state?: string): Promise<{ count: number; sql: string[] }> {
  const params: Record<string, string> = { page: '1', pagesize: '5', ...(caller.role === 'User' ? {} : { listall: 'true' }), ...(state ? { state } : {}) };
  const { result, sql } = await countStatements(t.engine.db, () => t.call('listVirtualMachines', params, caller));
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return { count: (result.body['count'] as number | undefined) ?? 0, sql };
}

const callers = () => ({ root: t.admin, salesAdmin, alice, bob });

async function expectTotalsRight(when: string): Promise<void> {
  for (const [name, caller] of Object.entries(callers())) {
    for (const state of [undefined, 'Stopped', 'running', 'Destroyed']) {
      expect((await listed(caller, state)).count, `${when}: ${name}, state=${state ?? '(any)'}`).toBe(truth(caller, state));
    }
  }
}

describe('listVirtualMachines count from the kept counts', () => {
  it('reads no VM row for the total of a scope-and-state list, and falls back to COUNT(*) for other filters', async () => {
    for (const [name, caller] of Object.entries(callers())) {
      const { sql } = await listed(caller);
      const counts = sql.filter((s) => /\bCOUNT\(|\bSUM\(/i.test(s));
      expect(counts, name).toHaveLength(1);
      expect(counts[0], `${name}: the total is a sum of kept counts`).toMatch(/FROM vm_instance_counts\b/);
      expect(counts[0], name).not.toMatch(/\bvm_instances\b/);
    }
    const filtered = await countStatements(t.engine.db, () => t.call('listVirtualMachines', { listall: 'true', keyword: 'alice', page: '1', pagesize: '5' }));
    expect(filtered.result.body['count']).toBe(13);
    expect(filtered.sql.some((s) => /COUNT\(\*\).*FROM vm_instances v/s.test(s))).toBe(true);
  });

  it('is the same total as counting the rows, for every scope and state, as VMs change', async () => {
    await expectTotalsRight('seeded');
    await t.job('startVirtualMachine', { id: aliceVm['id']! }, alice);
    await expectTotalsRight('after a start');
    await t.job('destroyVirtualMachine', { id: bobVm['id']! }, bob);
    await expectTotalsRight('after a destroy (users no longer see it, admins do)');
    await t.job('destroyVirtualMachine', { id: aliceVm['id']!, expunge: 'true' }, t.admin);
    await expectTotalsRight('after an expunge');
    // An owner change (assignVirtualMachine's write) moves the VM between the accounts' totals.
    const moved = t.engine.db.prepare(`SELECT id FROM vm_instances WHERE hostname='alice-00003'`).pluck().get() as number;
    t.engine.db.prepare('UPDATE vm_instances SET account_id=?, domain_id=? WHERE id=?').run(bob.accountId, bob.domainId, moved);
    await expectTotalsRight('after an owner change');
    // A row deleted outright (with what refers to it) leaves the totals too.
    const gone = t.engine.db.prepare(`SELECT id FROM vm_instances WHERE hostname='bob-00002'`).pluck().get() as number;
    t.engine.db.transaction(() => {
      t.engine.db.prepare('DELETE FROM nics WHERE vm_id=?').run(gone);
      t.engine.db.prepare('DELETE FROM volumes WHERE vm_id=?').run(gone);
      t.engine.db.prepare('DELETE FROM vm_instances WHERE id=?').run(gone);
    })();
    await expectTotalsRight('after a deleted row');
    cloneVms(t.engine.db, bobVm['id']!, 3, 'bob-more');
    await expectTotalsRight('after more copies');
  });

  it("pages a domain admin's VMs in id order, walking vm_instances without sorting the whole scope where the domain holds most VMs", async () => {
    const db = t.engine.db;
    const expected = () =>
      db.prepare(`SELECT v.uuid FROM vm_instances v JOIN accounts a ON a.id=v.account_id JOIN domains d ON d.id=a.domain_id WHERE substr(d.path,1,length(?))=? AND v.state<>'Expunged' ORDER BY v.id`).pluck().all(salesAdmin.domainPath, salesAdmin.domainPath) as string[];
    /** Every page of SIZE as the domain admin sees it, and the plans of the page statements. */
    const pages = async (size: number) => {
      const uuids: string[] = [];
      const plans: string[] = [];
      for (let page = 1; ; page++) {
        const { result, sql } = await countStatements(db, () => t.call('listVirtualMachines', { listall: 'true', page: String(page), pagesize: String(size) }, salesAdmin));
        const rows = (result.body['virtualmachine'] as { id: string }[] | undefined) ?? [];
        for (const s of sql.filter((q) => /LIMIT \? OFFSET \?/.test(q) && /FROM vm_instances v/.test(q))) {
          plans.push((db.prepare(`EXPLAIN QUERY PLAN ${s}`).all(...[...s.matchAll(/\?/g)].map(() => null)) as { detail: string }[]).map((r) => r.detail).join('; '));
        }
        if (rows.length === 0) break;
        uuids.push(...rows.map((r) => r.id));
      }
      return { uuids, plans };
    };
    const firstOf = (accountId: number) => db.prepare(`SELECT uuid FROM vm_instances WHERE account_id=? AND state<>'Expunged' ORDER BY id LIMIT 1`).pluck().get(accountId) as string;
    // A domain that holds few of the VMs: the pages near the front walk, the later ones go through the account index.
    cloneVms(db, firstOf(bob.accountId), 150, 'bob-many');
    const sparse = await pages(4);
    expect(sparse.uuids).toEqual(expected());
    expect(sparse.plans.some((p) => /TEMP B-TREE/.test(p)) && sparse.plans.some((p) => !/TEMP B-TREE/.test(p)), sparse.plans.join('\n')).toBe(true);
    // One that holds most: the same pages, and no page sorts the domain's VMs.
    cloneVms(db, firstOf(alice.accountId), 1500, 'alice-many');
    const dense = await pages(50);
    expect(dense.uuids).toEqual(expected());
    expect(dense.uuids.length).toBeGreaterThan(1500);
    expect(dense.plans.filter((p) => /TEMP B-TREE/.test(p)), dense.plans.join('\n')).toEqual([]);
  });

  it('counts the VMs a database already held when migration 48 runs', async () => {
    const db = t.engine.db;
    const version = db.pragma('user_version', { simple: true }) as number;
    db.exec(`DROP TRIGGER vm_instance_counts_insert; DROP TRIGGER vm_instance_counts_delete; DROP TRIGGER vm_instance_counts_update; DROP TABLE vm_instance_counts;`);
    db.pragma('user_version = 47');
    migrate(db, MIGRATIONS.filter((m) => m.version === 48));
    db.pragma(`user_version = ${version}`);
    await expectTotalsRight('after the migration on existing VMs');
  });
});
