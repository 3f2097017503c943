/**
 * A bulk import asks the cluster's hosts for their VMs once per run, not once per row: the
 * import facet's list() calls are counted on every host of the simulator's demo cluster while
 * a 30-row CSV is imported. Before, each row's checks listed every host again (O(N²) in rows).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let clusterid: string;
const ROWS = 30;

async function ok(command: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await t.call(command, params);
  if (res.status !== 200) throw new Error(`${command}: ${JSON.stringify(res.body)}`);
  return res.body;
}

beforeEach(async () => {
  t = await testEngine();
  const sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  clusterid = (t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').get() as { uuid: string }).uuid;
  for (let i = 0; i < ROWS; i++) {
    const hex = i.toString(16).padStart(2, '0');
    sim.addUnmanagedVm(i % 2 ? 'sim-host-2' : 'sim-host-1', {
      internalName: `many-${hex}`, displayName: `many-${hex}`, uuid: `00000000-4444-2222-3333-0000000000${hex}`, cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 512,
      disks: [{ name: `many-${hex}.qcow2`, sizeBytes: 2 ** 30, device: 'disk', bus: 'virtio' }],
      nics: [{ macAddress: `52:54:00:dd:00:${hex}`, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    });
  }
  await ok('createNetwork', { name: 'l2-100', zoneid: demoIds(t.engine).zoneid, guestiptype: 'L2', vlan: '100' });
  await ok('createServiceOffering', { name: 'many 1x512', cpunumber: '1', cpuspeed: '1000', memory: '512' });
});
afterEach(async () => t.close());

describe('bulk import listing', () => {
  it('lists each host of the cluster once per run, whatever the number of rows', async () => {
    const exported = ((await ok('exportUnmanagedInstances', { clusterid }))['unmanagedinstancescsv'] as { csv: string }).csv;
    const rows = (parse(exported, { bom: true, columns: true }) as Record<string, string>[]).map((r) => ({ ...r, serviceoffering: 'many 1x512', 'nic0.network': 'l2-100' }));
    expect(rows).toHaveLength(ROWS);
    const hostIds = t.engine.db.prepare(`SELECT id FROM hosts WHERE cluster_id=(SELECT id FROM clusters WHERE uuid=?) AND removed IS NULL AND state='Up'`).pluck().all(clusterid) as number[];
    let lists = 0;
    for (const id of hostIds) {
      const facet = (await t.engine.hosts.session(id)).import!;
      const list = facet.list.bind(facet);
      facet.list = async () => {
        lists++;
        return list();
      };
    }
    const job = await t.run('importUnmanagedInstances', { clusterid, csv: stringify(rows, { header: true, bom: true }), concurrency: '4' });
    const result = (job['jobresult'] as { bulkimport: { imported: number; failed: number } }).bulkimport;
    expect(result).toMatchObject({ imported: ROWS, failed: 0 });
    expect(lists).toBe(hostIds.length);
  });
});
