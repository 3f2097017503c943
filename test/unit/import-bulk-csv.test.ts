/**
 * CSV bulk import (R51) on the simulator, through the engine's registry: 20 VMs made outside Kiln
 * (one named with a comma and quotes) are exported as CSV (BOM, quoting), filled in as a
 * spreadsheet would be (offerings and networks by name), with 2 bad rows; one parent job imports
 * 18 with a concurrency cap, each row its own child job, and reports the 2 rows with their lines
 * and reasons; a re-run imports nothing twice.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import type { JobUpdate } from '../../main/engine/jobs.js';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let sim: SimulatorDriver;
let clusterid: string;
const GiB = 1024 ** 3;
const COMMA_NAME = 'bulk, "east" 07';

function spec(name: string, i: number): VmSpec {
  const hex = i.toString(16).padStart(2, '0');
  return {
    internalName: name, displayName: name, uuid: `00000000-1111-2222-3333-0000000000${hex}`,
    cpuNumber: 2, cpuSpeedMhz: 2000, memoryMiB: 2048,
    disks: [
      { name: `bulk-${hex}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' },
      { name: `bulk-${hex}-data.qcow2`, sizeBytes: 1 * GiB, device: 'disk', bus: 'virtio' },
    ],
    nics: [{ macAddress: `52:54:00:cc:00:${hex}`, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
    details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
  };
}

const names = Array.from({ length: 20 }, (_, i) => (i === 6 ? COMMA_NAME : `bulk-${String(i + 1).padStart(2, '0')}`));

async function ok(command: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await t.call(command, params);
  if (res.status !== 200) throw new Error(`${command}: ${JSON.stringify(res.body)}`);
  return res.body;
}

async function unmanagedNames(): Promise<string[]> {
  return (((await ok('listUnmanagedInstances', { clusterid }))['unmanagedinstance'] as { name: string }[] | undefined) ?? []).map((r) => r.name).sort();
}

function vmCount(): number {
  return (t.engine.db.prepare(`SELECT COUNT(*) AS n FROM vm_instances WHERE removed IS NULL AND adopted=1`).get() as { n: number }).n;
}

beforeEach(async () => {
  t = await testEngine();
  sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  clusterid = (t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').get() as { uuid: string }).uuid;
  names.forEach((name, i) => sim.addUnmanagedVm(i % 2 ? 'sim-host-2' : 'sim-host-1', spec(name, i + 1)));
  await ok('createNetwork', { name: 'l2-100', zoneid: demoIds(t.engine).zoneid, guestiptype: 'L2', vlan: '100' });
  await ok('createServiceOffering', { name: 'bulk 2x2048', cpunumber: '2', cpuspeed: '1000', memory: '2048' });
});
afterEach(async () => t.close());

describe('CSV bulk import', () => {
  it('exports the unmanaged list as CSV with a BOM, quoting a name with a comma and quotes', async () => {
    const body = (await ok('exportUnmanagedInstances', { clusterid }))['unmanagedinstancescsv'] as { csv: string; filename: string; count: number };
    expect(body.count).toBe(20);
    expect(body.filename).toMatch(/^unmanaged-.*\.csv$/);
    expect(body.csv.startsWith('\uFEFFname,host,powerstate')).toBe(true);
    expect(body.csv).toContain('"bulk, ""east"" 07"');
    const rows = parse(body.csv, { bom: true, columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r['name']).sort()).toEqual([...names].sort());
    expect(rows.find((r) => r['name'] === 'bulk-01')).toMatchObject({
      host: 'sim-host-1', powerstate: 'PowerOff', cpunumber: '2', memory: '2048', importable: 'true',
      'nic0.id': 'nic0', 'nic0.mac': '52:54:00:cc:00:01', 'nic0.vlan': '100', 'nic0.network': '', 'datadisk0.id': 'bulk-01-data.qcow2', 'datadisk0.capacity': String(GiB), 'datadisk0.diskoffering': '',
    });
  });

  it('imports 18 of 20 rows in one job with a concurrency cap, reports the 2 bad rows with their reasons, and a re-run imports nothing twice', async () => {
    const exported = ((await ok('exportUnmanagedInstances', { clusterid }))['unmanagedinstancescsv'] as { csv: string }).csv;
    const diskOffering = (t.engine.db.prepare('SELECT name FROM disk_offerings WHERE is_customized=1 AND removed IS NULL ORDER BY id LIMIT 1').get() as { name: string }).name;
    // Filled in as a spreadsheet user would: names, not UUIDs; the row order is the file's.
    const rows = (parse(exported, { bom: true, columns: true }) as Record<string, string>[]).sort((a, b) => names.indexOf(a['name']!) - names.indexOf(b['name']!));
    for (const r of rows) {
      Object.assign(r, { serviceoffering: 'bulk 2x2048', 'nic0.network': 'l2-100', 'datadisk0.diskoffering': diskOffering });
      if (r['name'] === COMMA_NAME) r['hostname'] = 'bulk-07';
    }
    rows[4]!['serviceoffering'] = 'no such offering';
    rows[12]!['nic0.ip'] = '10.0.0.13';
    const csv = stringify(rows, { header: true, bom: true });

    // Each host takes 150 ms to take a VM over, so the child jobs overlap and the cap is what limits them.
    for (const { id } of t.engine.db.prepare('SELECT id FROM hosts WHERE removed IS NULL').all() as { id: number }[]) {
      const facet = (await t.engine.hosts.session(id)).import!;
      const adopt = facet.adopt.bind(facet);
      facet.adopt = async (ref) => {
        await new Promise((r) => setTimeout(r, 150));
        return adopt(ref);
      };
    }
    let running = 0;
    let peak = 0;
    const onJob = (u: JobUpdate) => {
      if (u.cmd !== 'importUnmanagedInstance') return;
      if (u.status === 0 && u.progress === 0) peak = Math.max(peak, ++running);
      else if (u.status !== 0) running--;
    };
    t.engine.jobs.updates.on('job', onJob);
    const job = await t.run('importUnmanagedInstances', { clusterid, csv, concurrency: '3' });
    t.engine.jobs.updates.off('job', onJob);
    expect(job['jobstatus']).toBe(1);
    const result = (job['jobresult'] as { bulkimport: { total: number; imported: number; skipped: number; failed: number; row: Record<string, unknown>[] } }).bulkimport;
    expect({ total: result.total, imported: result.imported, skipped: result.skipped, failed: result.failed }).toEqual({ total: 20, imported: 18, skipped: 0, failed: 2 });
    expect(result.row.filter((r) => r['status'] === 'failed')).toEqual([
      { line: 6, name: 'bulk-05', status: 'failed', errorcode: 431, errortext: 'serviceoffering: no service offering named "no such offering"' },
      { line: 14, name: 'bulk-13', status: 'failed', errorcode: 431, errortext: 'nicipaddresslist: NIC nic0 is mapped to L2 network l2-100, which has no IP addresses' },
    ]);
    expect(peak).toBe(3);
    expect(vmCount()).toBe(18);
    expect(await unmanagedNames()).toEqual(['bulk-05', 'bulk-13']);
    // Each imported row is its own finished child job with the VM it made.
    const imported = result.row.find((r) => r['name'] === COMMA_NAME)!;
    expect(imported).toMatchObject({ line: 8, status: 'imported', jobid: expect.any(String), virtualmachineid: expect.any(String) });
    const child = (await ok('queryAsyncJobResult', { jobid: String(imported['jobid']) }));
    expect(child).toMatchObject({ jobstatus: 1, cmd: expect.stringContaining('importUnmanagedInstance') });
    const vm = ((await ok('listVirtualMachines', { id: String(imported['virtualmachineid']) }))['virtualmachine'] as Record<string, unknown>[])[0]!;
    expect(vm).toMatchObject({ name: 'bulk-07', instancename: COMMA_NAME, serviceofferingname: 'bulk 2x2048' });

    const again = await t.run('importUnmanagedInstances', { clusterid, csv });
    const second = (again['jobresult'] as { bulkimport: { imported: number; skipped: number; failed: number; row: Record<string, unknown>[] } }).bulkimport;
    expect({ imported: second.imported, skipped: second.skipped, failed: second.failed }).toEqual({ imported: 0, skipped: 18, failed: 2 });
    expect(second.row.find((r) => r['name'] === 'bulk-01')).toMatchObject({ status: 'skipped', errortext: 'VM bulk-01 is already managed by Kiln' });
    expect(vmCount()).toBe(18);
  });

  it('refuses a file that is not a usable CSV, naming the parameter, with no job', async () => {
    for (const [csv, text] of [['name,host\n', 'csv: the CSV has a header but no rows'], ['host\nx\n', 'csv: the CSV has no name column'], ['name\n"unclosed\n', 'csv: not a valid CSV file']] as const) {
      const before = (t.engine.db.prepare('SELECT COUNT(*) AS n FROM async_jobs').get() as { n: number }).n;
      const res = await t.call('importUnmanagedInstances', { clusterid, csv });
      expect(res.status).toBe(431);
      expect(String(res.body['errortext'])).toContain(text);
      expect((t.engine.db.prepare('SELECT COUNT(*) AS n FROM async_jobs').get() as { n: number }).n).toBe(before);
    }
    const res = await t.call('importUnmanagedInstances', { clusterid, csv: 'name\nx\n', concurrency: '0' });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toContain('concurrency: must be 1..16');
  });
});
