/**
 * CSV bulk import (R51) with Debian's `cloudstack` client against a real `kiln serve` on its
 * simulator demo zone: 20 VMs made on the simulated hosts outside Kiln (written into the serve's
 * simulator state while it is stopped) are exported with exportUnmanagedInstances, filled in with
 * names (one VM named with a comma), sent back with --post to importUnmanagedInstances with 2 bad
 * rows: 18 imported, the 2 lines with their reasons; a re-run imports nothing twice.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmSpec } from '../../drivers/types.js';
import { csClient } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;
let dataDir: string;
const cs = csClient(() => kiln);
const GiB = 1024 ** 3;
const names = Array.from({ length: 20 }, (_, i) => (i === 2 ? 'cs-bulk, 03' : `cs-bulk-${String(i + 1).padStart(2, '0')}`));

function foreign(name: string, i: number): VmSpec {
  const hex = (i + 1).toString(16).padStart(2, '0');
  return {
    internalName: name, displayName: name, uuid: `cs-bulk-${hex}-uuid`, cpuNumber: 1, cpuSpeedMhz: 2000, memoryMiB: 1024,
    disks: [{ name: `csb-${hex}-root`, sizeBytes: 4 * GiB, device: 'disk', bus: 'virtio' }, { name: `csb-${hex}-data`, sizeBytes: GiB, device: 'disk', bus: 'virtio' }],
    nics: [{ macAddress: `52:54:00:ce:00:${hex}`, network: 'vlan300', vlan: 300, adapterType: 'virtio' }],
    details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
  };
}

describe('cs: CSV bulk import against kiln serve', () => {
  let clusterid = '';

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-cs-bulk-'));
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    await kiln.stop();
    const file = join(dataDir, 'simulator.json');
    const world = JSON.parse(readFileSync(file, 'utf8')) as { hosts: Record<string, { domains: Record<string, unknown> }> };
    names.forEach((name, i) => (world.hosts[i % 2 ? 'sim-host-2' : 'sim-host-1']!.domains[name] = { spec: foreign(name, i), power: 'Stopped', snapshots: [], boots: 0, foreign: {} }));
    writeFileSync(file, JSON.stringify(world));
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    clusterid = ((await cs(['listClusters'])).json['cluster'] as { id: string }[])[0]!.id;
    const zoneid = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    expect((await cs(['createNetwork', `zoneid=${zoneid}`, 'name=l2-300', 'displaytext=l2-300', 'guestiptype=L2', 'vlan=300'])).code).toBe(0);
    expect((await cs(['createServiceOffering', 'name=bulk 1x1024', 'displaytext=bulk', 'cpunumber=1', 'cpuspeed=1000', 'memory=1024'])).code).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await kiln?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('exports, imports 18 of 20 with the 2 bad rows reported, and a re-run imports nothing twice', async () => {
    const exported = await cs(['exportUnmanagedInstances', `clusterid=${clusterid}`]);
    expect(exported.code).toBe(0);
    const csv = (exported.json['unmanagedinstancescsv'] as { csv: string }).csv;
    expect(csv.startsWith('\uFEFF')).toBe(true);
    const diskOffering = (((await cs(['listDiskOfferings'])).json['diskoffering'] as { name: string; iscustomized: boolean }[]).find((d) => d.iscustomized))!.name;
    const rows = (parse(csv, { bom: true, columns: true }) as Record<string, string>[]).sort((a, b) => names.indexOf(a['name']!) - names.indexOf(b['name']!));
    expect(rows.map((r) => r['name'])).toEqual(names);
    for (const r of rows) Object.assign(r, { serviceoffering: 'bulk 1x1024', 'nic0.network': 'l2-300', 'datadisk0.diskoffering': diskOffering });
    rows[2]!['hostname'] = 'cs-bulk-03';
    rows[9]!['nic0.network'] = 'no-such-net';
    rows[15]!['datadisk0.diskoffering'] = '';
    const filled = stringify(rows, { header: true, bom: true });

    const first = await cs(['--post', 'importUnmanagedInstances', `clusterid=${clusterid}`, `csv=${filled}`, 'concurrency=4']);
    expect(first.code).toBe(0);
    const result = first.json['bulkimport'] as { imported: number; skipped: number; failed: number; row: Record<string, unknown>[] };
    expect({ imported: result.imported, skipped: result.skipped, failed: result.failed }).toEqual({ imported: 18, skipped: 0, failed: 2 });
    expect(result.row.filter((r) => r['status'] === 'failed').map(({ line, name, errorcode, errortext }) => ({ line, name, errorcode, errortext }))).toEqual([
      { line: 11, name: 'cs-bulk-10', errorcode: 431, errortext: 'nic0.network: no network named "no-such-net"' },
      { line: 17, name: 'cs-bulk-16', errorcode: 431, errortext: expect.stringContaining('datadiskofferinglist: data disk csb-10-data of VM cs-bulk-16 needs a disk offering') },
    ]);
    const vms = (await cs(['listVirtualMachines'])).json['virtualmachine'] as { name: string; instancename: string }[];
    expect(vms.filter((v) => v.instancename.startsWith('cs-bulk')).length).toBe(18);
    expect(vms.find((v) => v.instancename === 'cs-bulk, 03')?.name).toBe('cs-bulk-03');
    const left = (await cs(['listUnmanagedInstances', `clusterid=${clusterid}`])).json['unmanagedinstance'] as { name: string }[];
    expect(left.map((u) => u.name).sort()).toEqual(['cs-bulk-10', 'cs-bulk-16']);

    const again = await cs(['--post', 'importUnmanagedInstances', `clusterid=${clusterid}`, `csv=${filled}`]);
    const second = again.json['bulkimport'] as { imported: number; skipped: number; failed: number };
    expect({ imported: second.imported, skipped: second.skipped, failed: second.failed }).toEqual({ imported: 0, skipped: 18, failed: 2 });
    expect(((await cs(['listVirtualMachines'])).json['virtualmachine'] as { instancename: string }[]).filter((v) => v.instancename.startsWith('cs-bulk')).length).toBe(18);
  }, 60_000);
});
