/**
 * createNetworksFromCsv and discoverEndpointNetworks' refusals, through the engine's registry on
 * the simulator zone (no endpoint needed): a `kiln discover-networks --format csv` file (BOM, a
 * name with a comma, an untagged portgroup, a VLAN Kiln already has, two portgroups on one VLAN)
 * creates exactly the missing L2 networks with their VLANs; a re-run creates nothing; a bad row
 * refuses the whole file with a 431 naming its line and column, and nothing is created.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'csv-stringify/sync';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let zoneid: string;

const COLUMNS = ['name', 'displaytext', 'vlan', 'switchtype', 'switch', 'clusters', 'hosts', 'vms'];
const csvOf = (rows: string[][]) => stringify(rows, { header: true, bom: true, columns: COLUMNS });
const row = (name: string, vlan: string, sw = 'vSwitch0') => [name, name, vlan, 'standard', sw, 'DC0_C0', 'DC0_C0_H0', 'web;db'];

async function ok(command: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await t.call(command, params);
  if (res.status !== 200) throw new Error(`${command}: ${JSON.stringify(res.body)}`);
  return res.body;
}

const networks = async () =>
  (((await ok('listNetworks', { zoneid }))['network'] as { name: string; vlan?: string; type: string }[] | undefined) ?? []).map((n) => `${n.name}|${n.type}|${n.vlan ?? ''}`).sort();

beforeEach(async () => {
  t = await testEngine();
  zoneid = demoIds(t.engine).zoneid;
});
afterEach(async () => t.close());

describe('createNetworksFromCsv', () => {
  it('creates the missing L2 networks a discovery CSV lists, skips what the zone has, and a re-run creates nothing', async () => {
    const before = await networks();
    expect(before).toContain('Demo L2|L2|100');
    const csv = csvOf([row('PG-VLAN101', '101'), row('DVPG, web', '201', 'DSwitch 1'), row('PG-VLAN100', '100'), row('PG-again-101', '101', 'vSwitch1'), row('VM Network', '')]);
    expect(csv.startsWith('\uFEFF')).toBe(true);
    expect(csv).toContain('"DVPG, web"');
    const res = await t.call('createNetworksFromCsv', { zoneid, csv });
    expect(res.status).toBe(200);
    const result = res.body['networkimport'] as { total: number; created: number; skipped: number; row: { line: number; name: string; vlan?: number; status: string; reason?: string; networkid: string }[] };
    expect([result.total, result.created, result.skipped]).toEqual([5, 3, 2]);
    expect(result.row.map(({ line, name, vlan, status, reason }) => ({ line, name, vlan, status, reason }))).toEqual([
      { line: 2, name: 'PG-VLAN101', vlan: 101, status: 'created', reason: undefined },
      { line: 3, name: 'DVPG, web', vlan: 201, status: 'created', reason: undefined },
      { line: 4, name: 'PG-VLAN100', vlan: 100, status: 'skipped', reason: 'network Demo L2 is already on VLAN 100' },
      { line: 5, name: 'PG-again-101', vlan: 101, status: 'skipped', reason: 'network PG-VLAN101 is already on VLAN 101' },
      { line: 6, name: 'VM Network', vlan: undefined, status: 'created', reason: undefined },
    ]);
    expect(await networks()).toEqual([...before, 'DVPG, web|L2|201', 'PG-VLAN101|L2|101', 'VM Network|L2|'].sort());
    // The skipped row points at the network that serves it.
    expect(result.row[3]!.networkid).toBe(result.row[0]!.networkid);
    // Created through createNetwork itself: its event per network.
    const events = ((await ok('listEvents', { type: 'NETWORK.CREATE' }))['event'] as { description: string }[]).map((e) => e.description);
    expect(events).toEqual(expect.arrayContaining(['L2 network PG-VLAN101 created', 'L2 network DVPG, web created', 'L2 network VM Network created']));

    const again = (await ok('createNetworksFromCsv', { zoneid, csv }))['networkimport'] as { created: number; skipped: number };
    expect([again.created, again.skipped]).toEqual([0, 5]);
    expect((await networks()).length).toBe(before.length + 3);
  });

  it('refuses a file with a bad row as a whole (431 naming the line and column), creating nothing', async () => {
    const before = await networks();
    const refused = async (csv: string) => {
      const res = await t.call('createNetworksFromCsv', { zoneid, csv });
      return [res.body['errorcode'], res.body['errortext']];
    };
    // Line 2 is good, line 3's VLAN is not one: nothing is created, line 2 neither.
    expect(await refused(csvOf([row('PG-VLAN101', '101'), row('PG-bad', '5000')]))).toEqual([431, 'csv: line 3, vlan: a VLAN id from 1 to 4094, not "5000"']);
    expect(await refused(csvOf([row('PG-VLAN101', '101'), row('PG-text', 'ten')]))).toEqual([431, 'csv: line 3, vlan: a VLAN id from 1 to 4094, not "ten"']);
    expect(await refused(csvOf([row('', '101')]))).toEqual([431, 'csv: line 2, name: empty; every network needs a name (the portgroup)']);
    expect(await refused(csvOf([row('x'.repeat(300), '101')]))).toEqual([431, expect.stringMatching(/^csv: line 2: .*Parameter name is 300 characters long; the limit is 255$/)]);
    expect(await refused('name,displaytext\nPG-VLAN101,x\n')).toEqual([431, 'csv: the CSV has no vlan column (kiln discover-networks --format csv writes name, displaytext, vlan, …)']);
    expect(await refused('vlan\n101\n')).toEqual([431, 'csv: the CSV has no name column (kiln discover-networks --format csv writes name, displaytext, vlan, …)']);
    expect(await refused('name,vlan\n')).toEqual([431, 'csv: the CSV has a header but no rows']);
    expect(await refused('name,vlan\n"PG,101\n')).toEqual([431, expect.stringMatching(/^csv: not a valid CSV file: /)]);
    const noZone = await t.call('createNetworksFromCsv', { zoneid: '00000000-0000-0000-0000-000000000000', csv: csvOf([row('PG-VLAN101', '101')]) });
    expect([noZone.body['errorcode'], String(noZone.body['errortext'])]).toEqual([431, expect.stringContaining('zoneid')]);
    expect(await networks()).toEqual(before);
  });
});

describe('discoverEndpointNetworks', () => {
  it('is refused, naming the parameter, for a driver without the networkDiscovery facet and for an unknown hypervisor', async () => {
    const params = { url: 'https://vcenter/DC/C', username: 'u', password: 'p', trustfingerprint: 'AA' };
    const sim = await t.call('discoverEndpointNetworks', { ...params, hypervisor: 'Simulator' });
    expect([sim.body['errorcode'], sim.body['errortext']]).toEqual([431, "hypervisor: the Simulator driver cannot discover an endpoint's networks (none here can)"]);
    const nope = await t.call('discoverEndpointNetworks', { ...params, hypervisor: 'Nope' });
    expect([nope.body['errorcode'], String(nope.body['errortext'])]).toEqual([431, expect.stringMatching(/^hypervisor: no driver for Nope in this Kiln/)]);
    const caps = (await ok('listHypervisorCapabilities', {}))['hypervisorCapabilities'] as { hypervisor: string; networkdiscovery: boolean }[];
    expect(caps.find((c) => c.hypervisor === 'Simulator')?.networkdiscovery).toBe(false);
  });
});
