/**
 * A Kiln template staged into a pool member's local SR, through the engine's API against the xapi
 * simulator (two hosts, the pool's default SR set to "Local storage on xs-host-2", as in a pool
 * without shared storage whose admin made the member's disk the default). The image's VDI is
 * made there (VDI.create), and its bytes go with PUT /import_raw_vdi to the master, which answers
 * 302 to xs-host-2 as xapi's import_raw_vdi.ml does for an SR it does not see; Kiln follows it
 * (the same code that follows /import's, drivers/xenserver/sr-upload.ts): the VDI is filled
 * there, marked complete, and a VM deployed on xs-host-2 from it runs.
 *
 * A 302 to a host outside the pool (the simulator's fault, at the pool's port on an address that
 * is no host of it) is refused before a byte goes there: no connection reaches that address, the
 * deploy fails naming the Location (without its query, which holds the session), and no image
 * VDI and no task is left in the pool.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestEngine } from '../helpers/engine.js';
import { copyName, registerDownloaded } from '../helpers/image-copies.js';
import { strangerHost, xenEngineSuite, type XenEngineSuite } from '../helpers/xen-engine.js';
import type { XapiSim } from '../helpers/xapi-sim.js';
import type { Session } from '../xapi-sim/rpc-client.js';
import { RAW_IMAGE, RAW_SHA256 } from '../vsphere/vmware-zone.js';

type Rec = Record<string, unknown>;

describe('a template staged into a member\'s local SR follows xapi\'s 302 (engine, xapi simulator)', () => {
  const suite = xenEngineSuite({ hosts: [{ name: 'xs-host-1' }, { name: 'xs-host-2' }], eventTimeoutClampS: 1, taskDelayMs: 2 }, {
    before: async ({ x }) => {
      const local2 = (await x.call<string[]>('SR.get_by_name_label', 'Local storage on xs-host-2'))[0]!;
      await x.call('pool.set_default_SR', (await x.call<string[]>('pool.get_all'))[0]!, local2);
    },
  });
  let sim: XapiSim;
  let x: Session;
  let t: TestEngine;
  let images: XenEngineSuite['images'];
  const ids: Record<string, string> = {};

  /** Kiln's image VDIs of that name in the pool, with their SR's name. */
  const imageVdis = async (name: string) => Promise.all(Object.entries(await x.call<Record<string, Rec>>('VDI.get_all_records'))
    .filter(([, v]) => v['name_label'] === name && (v['other_config'] as Record<string, string>)['kiln_image'] !== undefined)
    .map(async ([ref, v]) => ({ ref, sr: await x.call<string>('SR.get_name_label', v['SR'] as string), complete: (v['other_config'] as Record<string, string>)['kiln_image_sha256'] })));
  const template = (name: string) => registerDownloaded(t, 'registerTemplate', { name, format: 'RAW', hypervisor: 'XenServer', zoneid: ids['zone']!, url: images.url, size: String(RAW_IMAGE.length) });
  const deploy = (templateid: string, name: string) => ({ zoneid: ids['zone']!, templateid, serviceofferingid: ids['small']!, networkids: ids['network']!, hostid: ids['host2']!, name });

  beforeAll(async () => {
    ({ sim, x, t, images } = suite);
    ids['zone'] = suite.zoneid;
    ids['network'] = suite.networkid;
    ids['small'] = suite.small;
    ids['host2'] = (((await t.ok('listHosts', { name: 'xs-host-2' }))['host'] as { id: string }[])[0]!).id;
  });

  it('the image VDI is made on xs-host-2\'s local SR and filled there through the redirect; a VM deployed on xs-host-2 from it runs', async () => {
    const id = await template('member-local');
    const name = copyName(t, id);
    expect(await imageVdis(name)).toEqual([]);
    const vm = (await t.job('deployVirtualMachine', deploy(id, 'on-member')))['virtualmachine'] as Rec;
    expect([vm['state'], vm['hostname']]).toEqual(['Running', 'xs-host-2']);
    const staged = await imageVdis(name);
    expect(staged.map((v) => [v.sr, v.complete])).toEqual([['Local storage on xs-host-2', RAW_SHA256]]);
    // The bytes themselves arrived (the simulator keeps their digest): xs-host-2 took them.
    const record = await sim.control<{ hidden: Record<string, unknown> }>('record', { ref: staged[0]!.ref });
    expect([record.hidden['sha256'], record.hidden['bytes']]).toEqual([RAW_SHA256, RAW_IMAGE.length]);
  }, 60_000);

  it('a redirect to a host outside the pool is refused before a byte goes there: the deploy fails naming it, no image VDI and no task is left', async () => {
    // On the pool's port, at an address that is no host of the pool.
    const stranger = await strangerHost(sim);
    try {
      const { origin } = stranger;
      const id = await template('stray');
      const name = copyName(t, id);
      const tasks = (await x.call<string[]>('task.get_all')).length;
      await sim.fault('PUT /import_raw_vdi', { redirect: origin });
      const job = await t.run('deployVirtualMachine', deploy(id, 'stray-vm'));
      expect(job['jobstatus']).toBe(2);
      const text = String((job['jobresult'] as Rec)['errortext']);
      expect(text).toContain(`xapi redirected the import to ${origin}/import_raw_vdi, which Kiln does not follow: it is no host of this pool`);
      expect(text).not.toMatch(/session_id|OpaqueRef/);
      expect(stranger.connections()).toBe(0);
      expect(await imageVdis(name)).toEqual([]);
      expect((await x.call<string[]>('task.get_all')).length).toBe(tasks);
    } finally {
      stranger.close();
    }
  }, 60_000);
});
