/**
 * CSV bulk imports on the simulator (importUnmanagedInstances): a fresh engine with foreign
 * one-disk, one-NIC VMs to take over, the L2 network and the service offering the rows name, and
 * the cluster's exported CSV with those filled in.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { SimulatorDriver } from '../../drivers/simulator/index.js';
import { demoIds, testEngine, type TestEngine } from './engine.js';

export interface BulkVm {
  name: string;
  uuid: string;
  mac: string;
  /** Default sim-host-1. */
  host?: string;
}

/**
 * A new engine whose simulator holds VMS unmanaged (1 vCPU at 2000 MHz, 1 GiB, a 1 GiB root disk
 * NAME-root.qcow2, a virtio NIC on vlanVLAN), with the L2 network l2-VLAN and the service offering
 * OFFERING (1 vCPU at 1000 MHz, 1024 MiB); the demo cluster's id.
 */
export async function bulkImportEngine(vlan: number, offering: string, vms: BulkVm[]): Promise<{ t: TestEngine; clusterid: string }> {
  const t = await testEngine();
  const sim = t.engine.hosts.knownDriver('Simulator') as SimulatorDriver;
  const clusterid = (t.engine.db.prepare('SELECT uuid FROM clusters LIMIT 1').get() as { uuid: string }).uuid;
  for (const { name, uuid, mac, host } of vms) {
    sim.addUnmanagedVm(host ?? 'sim-host-1', {
      internalName: name, displayName: name, uuid, cpuNumber: 1, cpuSpeedMhz: 2000, memoryMiB: 1024,
      disks: [{ name: `${name}-root.qcow2`, sizeBytes: 1024 ** 3, device: 'disk', bus: 'virtio' }],
      nics: [{ macAddress: mac, network: `vlan${vlan}`, vlan, adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    });
  }
  await t.ok('createNetwork', { name: `l2-${vlan}`, zoneid: demoIds(t.engine).zoneid, guestiptype: 'L2', vlan: String(vlan) });
  await t.ok('createServiceOffering', { name: offering, cpunumber: '1', cpuspeed: '1000', memory: '1024' });
  return { t, clusterid };
}

/** The cluster's exportUnmanagedInstances CSV, each row given FILL (e.g. serviceoffering, nic0.network); with byName, its rows in name order. */
export async function bulkCsv(t: TestEngine, clusterid: string, fill: Record<string, string>, options: { byName?: boolean } = {}): Promise<string> {
  const exported = ((await t.ok('exportUnmanagedInstances', { clusterid }))['unmanagedinstancescsv'] as { csv: string }).csv;
  const rows = parse(exported, { bom: true, columns: true }) as Record<string, string>[];
  if (options.byName) rows.sort((a, b) => a['name']!.localeCompare(b['name']!));
  return stringify(rows.map((r) => ({ ...r, ...fill })), { header: true, bom: true });
}
