/**
 * A running XenServer VM's devices in Chromium against `kiln serve` with a pool on the xapi
 * simulator (its default SR NFS, which resizes only disks not in use). The Volumes tab disables
 * Resize of the running VM's disks, saying why (listHosts liveVolumeResize false), as the engine
 * refuses it; the NICs tab adds a NIC on a second network (addNicToVirtualMachine: a VIF hot-plugged
 * in the pool) and removes it again (removeNicFromVirtualMachine: the VIF gone); stopped, the VM's
 * "Move to another cluster…" moves it with its disks to a second pool's SR (migrateVirtualMachine
 * storageid). Each step checked in the page's text, the API and xapi. Screenshots: test-results/screenshots/xen-devices-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';
import { openUi, waitJob, type UiSession } from './ui-helpers.js';

const POOL_TEMPLATE = '/srv/xen-templates/kiln-xen-devices';
type Rec = Record<string, unknown>;

describe('a running XenServer VM\'s disks and NICs in Chromium (xapi simulator)', () => {
  let sim: XapiSim;
  let other: XapiSim;
  let xapi: Session;
  let kiln: KilnProcess;
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  const ids: Record<string, string> = {};
  const ok = async (command: string, params: Record<string, string>) => {
    const r = await ui.api(command, params);
    if (r['errorcode']) throw new Error(`${command}: ${JSON.stringify(r)}`);
    return r;
  };
  const job = async (command: string, params: Record<string, string>) => waitJob(ui, String((await ok(command, params))['jobid']));
  const notices = () => page.locator('.notices').innerText();
  /** The VM's VIFs in the pool: MAC, network name, plugged. */
  const vifs = async () => {
    const [ref] = Object.entries(await xapi.call<Record<string, Rec>>('VM.get_all_records')).find(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === ids['vm'])!;
    const all = await Promise.all((await xapi.call<string[]>('VM.get_VIFs', ref)).map((v) => xapi.call<Rec>('VIF.get_record', v)));
    return Promise.all(all.map(async (v) => ({ mac: v['MAC'], network: await xapi.call('network.get_name_label', v['network']), plugged: v['currently_attached'] })));
  };

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ name: 'xen-devices', memoryGiB: 64 }], vms: [{ name: POOL_TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 2 });
    await sim.control('add-network', { name: 'Backend', bridge: 'xapi1' });
    xapi = await Session.login(sim.url, sim.username, sim.password);
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    ids['zone'] = ((await ok('createZone', { name: 'Xen devices' }))['zone'] as { id: string }).id;
    const podid = ((await ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'nfs-pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    other = await XapiSim.start({ hosts: [{ name: 'xen-ceph', memoryGiB: 64 }], sharedSrType: 'rbd', vms: [{ name: POOL_TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 2 });
    await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'ceph-pool', hypervisor: 'XenServer', url: other.url, username: other.username, password: other.password });
    const networkid = ((await ok('createNetwork', { name: 'Front', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    await ok('createNetwork', { name: 'Backend', zoneid: ids['zone'], guestiptype: 'Shared', vlan: '120', gateway: '10.20.0.1', netmask: '255.255.255.0', startip: '10.20.0.10', endip: '10.20.0.20' });
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await ok('listOsTypes', {}))['ostype'] as { id: string }[])[0]!.id;
    const templateid = ((await ok('registerTemplate', { name: 'xen-devices', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: POOL_TEMPLATE, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
    const offering = ((await ok('listServiceOfferings', {}))['serviceoffering'] as { id: string }[])[0]!.id;
    const hostid = (((await ok('listHosts', { name: 'xen-devices' }))['host'] as { id: string }[])[0]!).id;
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zone'], templateid, serviceofferingid: offering, networkids: networkid, name: 'xen-dev-1', hostid });
    expect(deployed['jobstatus']).toBe(1);
    ids['vm'] = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const custom = ((await ok('listDiskOfferings', {}))['diskoffering'] as { id: string; iscustomized: boolean }[]).find((o) => o.iscustomized)!.id;
    expect((await job('createVolume', { virtualmachineid: ids['vm'], diskofferingid: custom, size: '2', name: 'xen-data' }))['jobstatus']).toBe(1);
  }, 60_000);
  afterAll(async () => {
    if (ids['vm']) await job('destroyVirtualMachine', { id: ids['vm'], expunge: 'true' }).catch(() => undefined);
    await browser?.close();
    await kiln?.stop();
    await sim?.stop();
    await other?.stop();
  });

  it('Volumes: Resize of the running VM\'s disks is disabled with the reason, and the engine refuses it alike', async () => {
    await page.goto(new URL(`/#/vms/${ids['vm']}/volumes`, kiln.apiUrl).toString());
    const resize = page.getByRole('table', { name: 'Volumes', exact: true }).getByRole('button', { name: 'Resize xen-data' });
    await resize.waitFor();
    // The host's capabilities arrive with listHosts (read again for a host the page has not seen yet).
    await expect.poll(() => resize.isDisabled(), { timeout: 10_000 }).toBe(true);
    expect(await resize.getAttribute('title')).toBe('the host of xen-dev-1 cannot resize the disks of a running VM; stop it to resize them');
    expect(await page.locator('.vm-volumes .volume-resize-rule').innerText()).toBe('Disks can be resized while the VM is stopped: the host of xen-dev-1 cannot resize the disks of a running VM.');
    const volume = ((await ok('listVolumes', { name: 'xen-data' }))['volume'] as { id: string }[])[0]!.id;
    const refused = await ui.api('resizeVolume', { id: volume, size: '3' });
    expect([refused['errorcode'], String(refused['errortext'])]).toEqual([431, expect.stringMatching(/^id: the hypervisor of host xen-devices cannot resize a disk of running VM xen-dev-1/)]);
    await ui.shot('xen-devices-resize-disabled');
  });

  it('NICs: adds a NIC on Backend (a VIF hot-plugged in the pool) and removes it again', async () => {
    await page.goto(new URL(`/#/vms/${ids['vm']}/nics`, kiln.apiUrl).toString());
    const form = page.getByRole('form', { name: 'Add a NIC' });
    await form.getByLabel('Network').selectOption({ label: 'Backend' });
    await form.getByLabel('IP address').fill('10.20.0.12');
    await form.getByRole('button', { name: 'Add NIC' }).click();
    await expect.poll(notices).toContain('xen-dev-1: NIC on Backend added');
    const row = page.getByRole('table', { name: 'NICs' }).locator('tr[data-nic="Backend"]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.innerText()).toMatch(/^1\s+Backend\s+Shared\s+10\.20\.0\.12\s+02:00:/);
    const mac = (await row.locator('td.mono').nth(1).innerText()).trim();
    expect(await vifs()).toContainEqual({ mac, network: 'Backend', plugged: true });
    // The default NIC has no Remove.
    expect(await page.getByRole('table', { name: 'NICs' }).locator('tr[data-nic="Front"] button').count()).toBe(0);
    await ui.shot('xen-devices-nic-added');

    await row.getByRole('button', { name: 'Remove NIC on Backend' }).click();
    await page.getByRole('dialog', { name: 'Remove the NIC on Backend from xen-dev-1?' }).getByRole('button', { name: 'Remove' }).click();
    await expect.poll(notices).toContain('xen-dev-1: NIC on Backend removed');
    await expect.poll(() => row.count()).toBe(0);
    expect((await vifs()).map((v) => v.network)).toEqual(['Pool-wide network associated with eth0']);
    const listed = ((await ok('listVirtualMachines', { id: ids['vm']! }))['virtualmachine'] as { nic: { networkname: string }[] }[])[0]!;
    expect(listed.nic.map((n) => n.networkname)).toEqual(['Front']);
    await ui.shot('xen-devices-nic-removed');
  });

  it('Move to another cluster…: the stopped VM and its disks go to the Ceph pool\'s SR (the dialog says it starts there next)', async () => {
    expect((await job('stopVirtualMachine', { id: ids['vm']! }))['jobstatus']).toBe(1);
    await page.goto(new URL(`/#/vms/${ids['vm']}`, kiln.apiUrl).toString());
    await page.getByRole('button', { name: 'Move to another cluster…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Move xen-dev-1' });
    await dialog.getByLabel('Storage pool').selectOption({ label: 'Ceph RBD virtual disk storage (cluster ceph-pool)' });
    await ui.shot('xen-devices-move-dialog');
    await dialog.getByRole('button', { name: 'Move' }).click();
    const outcome = page.getByRole('dialog', { name: 'Move xen-dev-1' });
    await expect.poll(() => outcome.innerText(), { timeout: 30_000 }).toContain('xen-dev-1 is Stopped, its volumes on Ceph RBD virtual disk storage (cluster ceph-pool); it starts there next.');
    const inOther = Object.values(await (await Session.login(other.url, other.username, other.password)).call<Record<string, Rec>>('VM.get_all_records')).filter((v) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === ids['vm']);
    expect(inOther.map((v) => v['power_state'])).toEqual(['Halted']);
    expect(Object.values(await xapi.call<Record<string, Rec>>('VM.get_all_records')).filter((v) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === ids['vm'])).toEqual([]);
    await ui.shot('xen-devices-moved');
  });
});
