/**
 * R48's storage half on every import path (issue 13), on the simulator: importVm
 * importsource=external copies the disks onto the receiving host's default pool (sim-primary), so
 * an offering whose storage tag no host's default pool has is a 533 giving each host's verdict (the
 * disk, the pool and the tag), with nothing written; once the pool has the tag the same import
 * goes through. The CSV bulk run applies R48 per row (planImport's planStorageMoves): the tagged
 * row fails with a 431 naming offering, tag and pool, the others are imported.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { dbFingerprint, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';

const GiB = 1024 ** 3;
let t: TestEngine;
let sim: SimulatorDriver;
let ids: ReturnType<typeof demoIds>;
let clusterid: string;
let tagged: string;

const spec = (name: string, mac: string): VmSpec => ({
  internalName: name, displayName: name, uuid: `${mac.replace(/:/g, '').slice(-8)}-1111-2222-3333-444455556666`, cpuNumber: 1, cpuSpeedMhz: 2000, memoryMiB: 512,
  disks: [{ name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' }],
  nics: [{ macAddress: mac, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
  details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
});

async function tagPool(name: string, tags: string): Promise<void> {
  const pool = ((await t.ok('listStoragePools', { name }))['storagepool'] as { id: string }[])[0]!;
  await t.ok('updateStoragePool', { id: pool.id, tags });
}

beforeEach(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  clusterid = (t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').get() as { uuid: string }).uuid;
  tagged = ((await t.ok('createServiceOffering', { name: 'ssd-root', cpunumber: '1', cpuspeed: '500', memory: '512', tags: 'ssd' }))['serviceoffering'] as { id: string }).id;
});
afterEach(async () => t.close());

describe('storage tags on import', () => {
  it('importVm external: no host whose default pool has the tag is a 533 naming disk, pool and tag per host, writing nothing; with the tag it imports', async () => {
    sim.addExternalHost('old-kvm', 's3cret');
    sim.addUnmanagedVm('old-kvm', spec('ext-web', '52:54:00:ee:00:01'));
    const params = { zoneid: ids.zoneid, hypervisor: 'Simulator', host: 'old-kvm', username: 'root', password: 's3cret', importsource: 'external', clusterid, name: 'ext-web', serviceofferingid: tagged };
    await t.ok('listStoragePools', {});
    // The host's key is pinned on first use (by design, not part of the refusal): list it first.
    await t.ok('listVmsForImport', { zoneid: ids.zoneid, hypervisor: 'Simulator', host: 'old-kvm', username: 'root', password: 's3cret' });
    const before = dbFingerprint(t.engine);
    const refused = await t.call('importVm', params);
    // The receiving host is the planner's choice: every host of the cluster is judged by the default pool its copy would land on.
    const why = "disk ext-web-root.qcow2 would be copied onto the host's default pool sim-primary, which lacks storage tag ssd of service offering ssd-root";
    expect([refused.status, refused.body['errortext']]).toEqual([
      533,
      `Unable to import VM ext-web from old-kvm into cluster Demo Cluster: no suitable host (sim-host-1: ${why}; sim-host-2: ${why}; sim-host-3: ${why})`,
    ]);
    expect(dbFingerprint(t.engine)).toBe(before);
    await tagPool('sim-primary', 'ssd');
    const done = await t.run('importVm', params);
    expect(done['jobstatus'], JSON.stringify(done['jobresult'])).toBe(1);
  });

  it('CSV bulk: the row whose offering asks for a tag its disk pool lacks fails with the same 431; the other is imported', async () => {
    sim.addUnmanagedVm('sim-host-1', spec('csv-plain', '52:54:00:ef:00:01'));
    sim.addUnmanagedVm('sim-host-1', spec('csv-tagged', '52:54:00:ef:00:02'));
    await t.ok('createNetwork', { name: 'l2-100', zoneid: ids.zoneid, guestiptype: 'L2', vlan: '100' });
    await t.ok('createServiceOffering', { name: 'plain 1x512', cpunumber: '1', cpuspeed: '500', memory: '512' });
    const exported = ((await t.ok('exportUnmanagedInstances', { clusterid }))['unmanagedinstancescsv'] as { csv: string }).csv;
    const rows = (parse(exported, { bom: true, columns: true }) as Record<string, string>[]).filter((r) => r['name']!.startsWith('csv-')).sort((a, b) => a['name']!.localeCompare(b['name']!));
    for (const r of rows) Object.assign(r, { serviceoffering: r['name'] === 'csv-tagged' ? 'ssd-root' : 'plain 1x512', 'nic0.network': 'l2-100' });
    const job = await t.run('importUnmanagedInstances', { clusterid, csv: stringify(rows, { header: true, bom: true }) });
    const result = (job['jobresult'] as { bulkimport: { imported: number; failed: number; row: Record<string, unknown>[] } }).bulkimport;
    expect({ imported: result.imported, failed: result.failed }).toEqual({ imported: 1, failed: 1 });
    expect(result.row.find((r) => r['name'] === 'csv-tagged')).toMatchObject({
      status: 'failed', errorcode: 431,
      errortext: 'serviceofferingid: service offering ssd-root needs storage tag ssd, which pool sim-primary holding disk csv-tagged-root.qcow2 of VM csv-tagged lacks; pass migrateallowed=true to move the disk to a pool that has it',
    });
    expect(result.row.find((r) => r['name'] === 'csv-plain')).toMatchObject({ status: 'imported' });
  });
});
