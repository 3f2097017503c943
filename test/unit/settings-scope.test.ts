/** Cluster-scoped settings: the overprovisioning factors, as CloudStack names and scopes them. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../main/engine/db/database.js';
import { MIGRATIONS } from '../../main/engine/db/migrations.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let cluster: string;

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  cluster = t.engine.db.prepare('SELECT uuid FROM clusters ORDER BY id LIMIT 1').pluck().get() as string;
});
afterAll(() => t.close());

describe('cluster-scoped configuration', () => {
  it("sets a factor for one cluster, lists it there, leaves the global value, and placement follows it", async () => {
    const set = await t.call('updateConfiguration', { name: 'mem.overprovisioning.factor', value: '0.01', clusterid: cluster });
    expect(set.body['configuration']).toMatchObject({ name: 'mem.overprovisioning.factor', value: '0.01', scope: 'cluster', id: cluster });
    const listed = (await t.call('listConfigurations', { clusterid: cluster })).body['configuration'] as { name: string; value: string; scope: string }[];
    expect(listed.every((c) => c.scope === 'cluster')).toBe(true);
    expect(listed.find((c) => c.name === 'mem.overprovisioning.factor')?.value).toBe('0.01');
    const global = (await t.call('listConfigurations', { name: 'mem.overprovisioning.factor' })).body['configuration'] as { value: string }[];
    expect(global[0]!.value).toBe('1');
    expect((await t.call('listClusters', { id: cluster })).body['cluster']).toMatchObject([{ memoryovercommitratio: '0.01', cpuovercommitratio: '1' }]);
    // listHosts reports each host's capacity after its cluster's factors, as CloudStack does.
    const host = ((await t.call('listHosts', { clusterid: cluster })).body['host'] as { memorytotal: number; memorywithoverprovisioning: string; cpuwithoverprovisioning: string; cpunumber: number; cpuspeed: number }[])[0]!;
    expect(Number(host.memorywithoverprovisioning)).toBe(Math.floor((host.memorytotal / 1024 / 1024) * 0.01) * 1024 * 1024);
    expect(host.cpuwithoverprovisioning).toBe(String(host.cpunumber * host.cpuspeed));

    // 1% of a simulated 16 GB host is 163 MB: no host in the cluster can take a 512 MB VM now.
    const refused = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small });
    expect(refused.status).toBe(533);
    expect(String(refused.body['errortext'])).toMatch(/memory: needs 512 MB, -?\d+ MB free/);
    await t.call('updateConfiguration', { name: 'mem.overprovisioning.factor', value: '1', clusterid: cluster });
    const fits = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small });
    expect(fits['jobstatus']).toBe(1);
  });

  it('refuses a zone and a cluster at once, a scope the setting does not have, and a factor of 0, writing nothing', async () => {
    const before = dbFingerprint(t.engine);
    const both = await t.call('updateConfiguration', { name: 'mem.overprovisioning.factor', value: '2', clusterid: cluster, zoneid: ids.zoneid });
    expect([both.status, both.body['errortext']]).toEqual([431, 'clusterid: give zoneid or clusterid, not both']);
    const wrongScope = await t.call('updateConfiguration', { name: 'expunge.delay', value: '5', clusterid: cluster });
    expect([wrongScope.status, wrongScope.body['errortext']]).toEqual([431, 'clusterid: configuration expunge.delay has global scope, not cluster']);
    const zero = await t.call('updateConfiguration', { name: 'cpu.overprovisioning.factor', value: '0', clusterid: cluster });
    expect([zero.status, zero.body['errortext']]).toEqual([431, 'value: cpu.overprovisioning.factor must be greater than 0']);
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});

describe('settings migration', () => {
  it("renames Kiln's old overcommit settings to CloudStack's names, keeping their values", async () => {
    // A data dir from before migration 8 (its schema built by migrations 1-7 only), with the old names set.
    const dataDir = mkdtempSync(join(tmpdir(), 'kiln-test-'));
    const db = openDatabase(join(dataDir, 'kiln.db'), MIGRATIONS.filter((m) => m.version <= 7));
    db.prepare(`INSERT INTO configuration (name, scope, scope_id, value, updated) VALUES ('mem.overcommit.ratio', 'global', 0, '1.5', '2026-01-01T00:00:00Z')`).run();
    db.close();
    const upgraded = await testEngine({ dataDir });
    try {
      expect(upgraded.engine.settings.raw('mem.overprovisioning.factor')).toBe('1.5');
      expect(upgraded.engine.db.prepare(`SELECT COUNT(*) FROM configuration WHERE name LIKE '%overcommit.ratio'`).pluck().get()).toBe(0);
    } finally {
      await upgraded.close();
    }
  });
});
