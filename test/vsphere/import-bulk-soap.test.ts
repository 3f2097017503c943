/**
 * A CSV bulk import on vSphere asks vCenter the same number of SOAP calls whatever the number of
 * VMs: the run lists the cluster's hosts once (bulk-csv.ts) and hands each VM as listed to the
 * driver's adopt(), which then takes it over from the change-stream-fed inventory cache instead
 * of reading its host's whole inventory again (drivers/vsphere/vm-import.ts). The calls are
 * counted on the driver's own SOAP transport (as driver-endpoint.test does); WaitForUpdatesEx,
 * the change stream's long poll, is left out: its count depends on time, not on the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { vm as vim, waitForTask, type MoRef, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { DriverError } from '../../drivers/types.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { createVmWithDevices, defaultPlacement } from '../helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { recordSoapMethods } from '../helpers/soap-methods.js';

const available = vcsimOrSkip();
const SMALL = ['bulk-a1', 'bulk-a2'];
const LARGE = Array.from({ length: 8 }, (_, i) => `bulk-b${i + 1}`);

describe.skipIf(!available)('bulk import on vcsim: SOAP calls per run', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let gone: MoRef;
  let t: TestEngine;
  let clusterid = '';
  let zoneid = '';
  let recording: ReturnType<typeof recordSoapMethods>;
  let methods: string[] = [];

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-pg-std', '1', '-pg-dv', '0']);
    admin = await sim.connect();
    const where = await defaultPlacement(admin);
    for (const name of [...SMALL, ...LARGE]) await createVmWithDevices(admin, where, { name, disksGiB: [1], nics: ['PG-VLAN101'] });
    gone = await createVmWithDevices(admin, where, { name: 'bulk-gone', disksGiB: [1], nics: ['PG-VLAN101'] });
    recording = recordSoapMethods();
    methods = recording.methods;
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    zoneid = ((await t.ok('createZone', { name: 'VMware Zone' }))['zone'] as { id: string }).id;
    const podid = ((await t.ok('createPod', { name: 'VMware Pod', zoneid }))['pod'] as { id: string }).id;
    clusterid = ((await t.ok('addCluster', {
      zoneid, podid, clustername: 'C0', hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    }))['cluster'] as { id: string }).id;
    await t.ok('createNetwork', { name: 'net-101', zoneid, guestiptype: 'L2', vlan: '101' });
    await t.ok('createServiceOffering', { name: 'bulk-1x64', cpunumber: '1', cpuspeed: '500', memory: '64' });
  }, 90_000);
  afterAll(async () => {
    recording?.stop();
    await t?.close();
    admin?.close();
    sim?.stop();
  });

  /** Runs a bulk import of NAMES; its result, and the SOAP methods sent meanwhile (the stream's long poll aside). */
  const bulk = async (names: string[]) => {
    const from = methods.length;
    const csv = ['name,serviceoffering', ...names.map((n) => `${n},bulk-1x64`)].join('\n');
    const result = (await t.job('importUnmanagedInstances', { clusterid, csv, concurrency: '4' }))['bulkimport'];
    return { result, sent: methods.slice(from).filter((m) => m !== 'WaitForUpdatesEx') };
  };

  it(`imports ${SMALL.length} and then ${LARGE.length} VMs with the same SOAP calls per run`, async () => {
    // The session's first listing makes its property collector once; the runs then start alike.
    const list = async () => ((await t.ok('listUnmanagedInstances', { clusterid }))['unmanagedinstance'] as unknown[]).length;
    expect(await list()).toBe(SMALL.length + LARGE.length + 1);
    const from = methods.length;
    await list();
    const listing = methods.slice(from).filter((m) => m !== 'WaitForUpdatesEx');
    const small = await bulk(SMALL);
    expect(small.result).toMatchObject({ total: SMALL.length, imported: SMALL.length, failed: 0 });
    const large = await bulk(LARGE);
    expect(large.result, JSON.stringify(large.result)).toMatchObject({ total: LARGE.length, imported: LARGE.length, failed: 0 });
    // Each run lists the cluster's two hosts once, as one listUnmanagedInstances does, and sends
    // nothing more: the same calls for 2 rows as for 8 (without the listing handed down: 20 and 50).
    const tally = (sent: string[]) => Object.fromEntries([...new Set(sent)].sort().map((m) => [m, sent.filter((s) => s === m).length]));
    expect(listing.length).toBeGreaterThan(0);
    expect(tally(small.sent)).toEqual(tally(listing));
    expect(tally(large.sent)).toEqual(tally(listing));
    const vms = ((await t.ok('listVirtualMachines', { listall: 'true', zoneid }))['virtualmachine'] as { name: string }[]).map((v) => v.name).sort();
    expect(vms).toEqual([...SMALL, ...LARGE].sort());
  });

  it('refuses a VM that is gone since the listing handed to adopt(), from the cache alone', async () => {
    const row = t.engine.db.prepare(`SELECT h.id FROM hosts h JOIN clusters c ON c.id=h.cluster_id WHERE c.uuid=? ORDER BY h.id`).all(clusterid) as { id: number }[];
    const sessions = await Promise.all(row.map((h) => t.engine.hosts.session(h.id)));
    const listed = (await Promise.all(sessions.map(async (s) => ({ s, vms: await s.import!.list() })))).find((x) => x.vms.some((v) => v.ref === gone.value))!;
    const info = listed.vms.find((v) => v.ref === gone.value)!;
    await waitForTask(admin, (await vim.destroy(admin, gone)).ref);
    // Until the event stream has dropped it (powerState would say Missing at once: it asks vCenter).
    for (let i = 0; i < 100 && (await listed.s.listInstances()).some((v) => v.ref === gone.value); i++) await new Promise((r) => setTimeout(r, 50));
    const from = methods.length;
    const refused = await listed.s.import!.adopt(gone.value, info).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(DriverError);
    expect((refused as DriverError).category).toBe('not-found');
    expect((refused as DriverError).message).toMatch(/^VM bulk-gone \(vm-\d+\) is no longer a VM of host host-\d+ in vCenter; list it again$/);
    expect(methods.slice(from).filter((m) => m !== 'WaitForUpdatesEx')).toEqual([]);
  });
});
