/**
 * Issue 16: the SQL statements a list call runs are bounded by a constant, not by the rows it
 * answers, for every list command of the registry (a new one is covered automatically). With
 * several rows of every kind and their related rows (seed-every-kind), each list runs the same
 * statements for a one-row page as for all its rows (pagesize=-1), and the same again once as
 * many rows again were added. A list that builds each row's response with its own lookups fails
 * here, naming the statements it repeated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { countStatements } from '../helpers/statement-counter.js';
import { seedEveryKind } from '../helpers/seed-every-kind.js';
import { ASKS_THE_HOST, listCommands, requiredParams } from '../helpers/list-commands.js';

let t: TestEngine;

beforeAll(async () => {
  t = await testEngine();
  await seedEveryKind(t, 'a');
}, 120_000);
afterAll(() => t?.close());

interface Measure {
  rows: number;
  statements: number;
  sql: string[];
}

async function measure(command: string, params: Record<string, string>): Promise<Measure> {
  const { result, statements, sql } = await countStatements(t.engine.db, () => t.call(command, params));
  expect(result.status, `${command} ${JSON.stringify(params)}: ${JSON.stringify(result.body).slice(0, 300)}`).toBe(200);
  return { rows: (result.body['count'] as number | undefined) ?? 0, statements, sql };
}

/**
 * The statements that ran more often in B than in A and more than once in B: what a list repeats
 * per row. (A statement that runs once only when the page has rows that need it, such as the OS
 * categories of hosts that have one, is one per page, not one per row.)
 */
function repeated(a: string[], b: string[]): string[] {
  const inA = new Map<string, number>();
  const inB = new Map<string, number>();
  for (const s of a) inA.set(s, (inA.get(s) ?? 0) + 1);
  for (const s of b) inB.set(s, (inB.get(s) ?? 0) + 1);
  return [...inB].filter(([s, n]) => n > 1 && n > (inA.get(s) ?? 0)).map(([s, n]) => `${n - (inA.get(s) ?? 0)}x more: ${s.replace(/\s+/g, ' ').slice(0, 160)}`);
}

/** Lists that still run statements per row (issue 16, not yet batched), and why; any other list that does fails. */
const STILL_PER_ROW: Record<string, string> = {
};

/** Lists whose rows the seed cannot multiply: fixed by the code, not by the inventory. */
const FIXED_SIZE = new Set([
  'listAffinityGroupTypes', 'listApis', 'listBackupProviders', 'listCapabilities', 'listHypervisorCapabilities', 'listOsCategories', 'listOsTypes',
  'listConfigurations', 'listDetailOptions', 'listTemplateOvfProperties', 'listBackupProviderOfferings',
  // One VM's schedules: at most one per interval type; the seed gives the VM two.
  'listBackupSchedule',
  // The pools a volume could move to: the seed's hosts add none beside the volume's own shared pool.
  'findStoragePoolsForMigration',
]);

describe('statements per list call', () => {
  it('are the same for one row as for all rows, and stay so with twice the rows, for every list command', async () => {
    const lists = listCommands(t).map((d) => d.name);
    expect(lists.length).toBeGreaterThan(30);
    const first: Record<string, Measure> = {};
    const growing: Record<string, string[]> = {};
    const tooFew: string[] = [];
    for (const command of lists) {
      const params = requiredParams(t, command);
      if (!params) continue;
      const one = await measure(command, { ...params, page: '1', pagesize: '1' });
      const all = await measure(command, { ...params, pagesize: '-1' });
      first[command] = all;
      if (!FIXED_SIZE.has(command) && all.rows < 2) tooFew.push(`${command}: ${all.rows} rows`);
      const more = repeated(one.sql, all.sql);
      if (more.length > 0) growing[command] = more;
    }
    await seedEveryKind(t, 'b');
    for (const command of Object.keys(first)) {
      const again = await measure(command, { ...requiredParams(t, command)!, pagesize: '-1' });
      if (!FIXED_SIZE.has(command) && again.rows <= first[command]!.rows) tooFew.push(`${command}: the second seed added no rows`);
      if (again.statements !== first[command]!.statements) growing[command] ??= [`${first[command]!.statements} statements, ${again.statements} with more rows`, ...repeated(first[command]!.sql, again.sql)];
    }
    console.log(Object.entries(first).map(([c, m]) => `${c}: ${m.rows} rows, ${m.statements} statements${growing[c] ? ' GROWS' : ''}`).join('\n'));
    expect(tooFew, 'every list has several rows from the seed, and more after the second').toEqual([]);
    expect(Object.keys(growing).filter((c) => !(c in STILL_PER_ROW)), JSON.stringify(growing, null, 1)).toEqual([]);
    // The largest is findHostsForMigration: the placement pipeline over every host reads a fact once each (26).
    for (const [command, m] of Object.entries(first)) if (!(command in STILL_PER_ROW)) expect(m.statements, command).toBeLessThanOrEqual(30);
  });
});

/**
 * Lists built in memory, not read from a table of Kiln's rows, so there is no query to page:
 * they are paged by the registry (pageOfArray), and why.
 */
const PAGED_IN_MEMORY: Record<string, string> = {
  findHostsForMigration: 'the placement verdict of every host of the zone, ordered by the planner',
  findStoragePoolsForMigration: "the volume's cluster's pools with a verdict each, after a refresh from its hosts",
  listAffinityGroupTypes: 'fixed by the code',
  listApis: 'the registry',
  listBackupProviderOfferings: "the provider's offerings (its policies, the nas provider's repositories)",
  listBackupProviders: 'fixed by the code',
  listConfigurations: 'the setting definitions, each with the value that applies',
  listTemplateOvfProperties: "the template's OVF properties, one JSON column",
  listUnmanagedInstances: 'what a host reports',
};

describe('paging in the query', () => {
  it('every list of rows reads only its page (LIMIT/OFFSET in SQL), not every row for the registry to slice', async () => {
    const inMemory: string[] = [];
    for (const command of listCommands(t).map((d) => d.name)) {
      const params = requiredParams(t, command);
      if (!params) continue;
      const { sql } = await measure(command, { ...params, page: '1', pagesize: '1' });
      if (!sql.some((s) => /LIMIT \? OFFSET \?/.test(s))) inMemory.push(command);
    }
    expect(inMemory.sort()).toEqual(Object.keys(PAGED_IN_MEMORY).sort());
  });
});

describe('the first list call after a start', () => {
  it('runs the same statements as the next one: no list connects a host in-line (Kiln connects them at start, in the background)', async () => {
    // What a start leaves: the hosts in the database, no session open.
    const hostIds = t.engine.db.prepare('SELECT id FROM hosts WHERE removed IS NULL').pluck().all() as number[];
    for (const id of hostIds) await t.engine.hosts.drop(id);
    expect(hostIds.length).toBeGreaterThan(1);
    const differs: string[] = [];
    const connected: string[] = [];
    for (const command of listCommands(t).map((d) => d.name)) {
      const params = requiredParams(t, command);
      if (!params || command in ASKS_THE_HOST) continue;
      const open = () => hostIds.filter((id) => t.engine.hosts.openSession(id) !== undefined).length;
      const before = open();
      const first = await measure(command, params);
      if (open() > before) connected.push(`${command}: connected ${open() - before} host(s)`);
      const second = await measure(command, params);
      if (first.statements !== second.statements) differs.push(`${command}: ${first.statements} statements first, ${second.statements} after`, ...repeated(second.sql, first.sql));
    }
    expect(connected).toEqual([]);
    expect(differs).toEqual([]);
  });
});
