/**
 * Deleting a template or ISO removes Kiln's image VDI from the pool (the storage facet's
 * removeImage) against the xapi simulator, through the engine's API: an ISO's VDI goes with
 * deleteIso; a forced deleteTemplate keeps the VDI while its VM exists and removes it with the
 * VM's expunge; a deleteIso while the pool master is away settles at once (the ISO gone, the VDI
 * written down for both hosts with the connection's error) and the VDI goes at the sweep after
 * the master is back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestEngine } from '../helpers/engine.js';
import type { XapiSim } from '../helpers/xapi-sim.js';
import { deleteIsoRemovesCopy, copyName, forcedDeleteKeepsCopyUntilExpunge, owed, registerDownloaded, type CopyZone } from '../helpers/image-copies.js';
import { xenEngineSuite, type XenEngineSuite } from '../helpers/xen-engine.js';
import type { Session } from '../xapi-sim/rpc-client.js';
import { RAW_IMAGE } from '../vsphere/vmware-zone.js';

type Rec = Record<string, unknown>;

describe('image copies in a XenServer pool (xapi simulator)', () => {
  const suite = xenEngineSuite({ hosts: 2, eventTimeoutClampS: 1, taskDelayMs: 2 });
  let sim: XapiSim;
  let xapi: Session;
  let t: TestEngine;
  let z: CopyZone;
  let images: XenEngineSuite['images'];
  let zoneid: string;

  /** Kiln's image VDIs of that name in the pool. */
  const imageVdis = async (name: string) => Object.values(await xapi.call<Record<string, Rec>>('VDI.get_all_records')).filter((v) => v['name_label'] === name && (v['other_config'] as Record<string, string>)['kiln_image'] !== undefined);

  beforeAll(() => {
    ({ sim, x: xapi, t, images, zoneid } = suite);
    z = { t, zoneid, serviceofferingid: suite.small, networkid: suite.networkid, probe: async (name) => (await imageVdis(name)).length > 0 };
  });

  const template = (name: string) => registerDownloaded(t, 'registerTemplate', { name, format: 'RAW', hypervisor: 'XenServer', zoneid, url: images.url, size: String(RAW_IMAGE.length) });
  const iso = (name: string) => registerDownloaded(t, 'registerIso', { name, zoneid, url: images.isoUrl });

  it('publishes removeImage for the pool\'s hosts', async () => {
    const hosts = (await t.ok('listHosts', { zoneid }))['host'] as { capabilities: Record<string, unknown> }[];
    expect(hosts.map((h) => h.capabilities['removeImage'])).toEqual([true, true]);
  });

  let vm = '';
  it('a forced deleteTemplate keeps the image VDI its VM uses, and the VM\'s expunge removes it', async () => {
    await forcedDeleteKeepsCopyUntilExpunge(z, await template('xen-forced'), 'xen-copy-user');
  });

  it('deleteIso removes the ISO\'s VDI from the pool', async () => {
    const templateid = await template('xen-base');
    vm = ((await t.job('deployVirtualMachine', { zoneid, templateid, serviceofferingid: z.serviceofferingid, networkids: z.networkid!, name: 'xen-iso-user' }))['virtualmachine'] as { id: string }).id;
    await deleteIsoRemovesCopy(z, await iso('xen-iso'), vm);
  });

  it('deleteIso while the pool master is away settles at once; the VDI goes at the sweep once it is back', async () => {
    const id = await iso('xen-iso-away');
    const name = copyName(t, id);
    await t.job('attachIso', { id, virtualmachineid: vm });
    await t.job('detachIso', { virtualmachineid: vm });
    expect(await z.probe(name)).toBe(true);
    await sim.hostDown(0);
    try {
      const done = await t.run('deleteIso', { id });
      expect(done['jobstatus'], JSON.stringify(done['jobresult'])).toBe(1);
      expect(((await t.ok('listIsos', { isofilter: 'all', id }))['iso'] as unknown[] | undefined) ?? []).toEqual([]);
      const debts = owed(t, id);
      expect(debts).toHaveLength(2);
      expect(debts.map((d) => d.host)).toEqual(['xs-host-1', 'xs-host-2']);
      for (const d of debts) expect(d.reason).toMatch(/^host xs-host-\d is not reachable: .*the pool master is unreachable/);
      const warn = t.engine.db.prepare(`SELECT description FROM events WHERE type='ISO.DELETE' AND level='WARN' ORDER BY id DESC LIMIT 1`).pluck().get() as string;
      expect(warn).toMatch(/^ISO xen-iso-away: its copy is still to remove on host /);
    } finally {
      await sim.hostUp(0);
    }
    expect(await z.probe(name)).toBe(true);
    await expect
      .poll(async () => {
        await t.engine.background.sweep();
        return owed(t, id).length;
      }, { timeout: 30_000, interval: 500 })
      .toBe(0);
    expect(await z.probe(name)).toBe(false);
    await t.job('destroyVirtualMachine', { id: vm, expunge: 'true' });
  }, 60_000);
});
