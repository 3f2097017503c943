/**
 * The import wizard brings an exported XenServer VM in, in Chromium against `kiln serve` with a
 * pool on the xapi simulator: an XVA built in the test (test/helpers/xva.ts) is registered into the
 * zone's image store (registerTemplate format=XVA from a local HTTP server); the wizard's VM step
 * offers it, "Import into the pool" runs importVm importsource=xva (xapi's /import), says the VM
 * is in the pool, and the VM is then a row of the unmanaged list, which the wizard's next steps
 * take over like any other. Its xapi OS name (Debian Bookworm 12) maps onto no guest OS of Kiln's,
 * so the row says it needs a template and can still be chosen: the offerings step asks for a
 * template of the zone's XenServer templates (refusing to go on without one), the review names
 * it, and importUnmanagedInstance with that templateid makes it a Kiln VM with the template's OS,
 * listed among the VMs. Checked in the page's text, the API and xapi.
 * Screenshots: test-results/screenshots/xva-import-*.png.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { buildXva } from '../helpers/xva.js';
import { Session } from '../xapi-sim/rpc-client.js';
import { openUi, vmRow, type UiSession } from './ui-helpers.js';

const MiB = 2 ** 20;
/** A template the pool holds, registered by its name as a host path (inside kiln.template.local.dir): nothing is copied. */
const POOL_TEMPLATE = '/srv/xen-templates/kiln-xva-e2e';

describe('import wizard: an XVA into a XenServer pool (Chromium, xapi simulator)', () => {
  let sim: XapiSim;
  let xapi: Session;
  let kiln: KilnProcess;
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let files: Server;
  const ok = async (command: string, params: Record<string, string>) => {
    const r = await ui.api(command, params);
    if (r['errorcode']) throw new Error(`${command}: ${JSON.stringify(r)}`);
    return r;
  };

  beforeAll(async () => {
    sim = await XapiSim.start({ hosts: [{ name: 'xva-host' }], vms: [{ name: POOL_TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 2 });
    xapi = await Session.login(sim.url, sim.username, sim.password);
    const disk = Buffer.alloc(3 * MiB, 0);
    disk.write('xva boot sector', 0, 'latin1');
    const { archive } = buildXva({ name: 'exported-app', vcpus: 1, memoryMiB: 512, os: 'Debian Bookworm 12', disks: [{ name: 'app root', bytes: disk }], nics: [{ network: 'Pool-wide network associated with eth0' }] });
    files = createServer((req, res) => void (req.url === '/app.xva' ? res.writeHead(200, { 'Content-Length': archive.length }).end(archive) : res.writeHead(404).end()));
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    page = ui.page;
    page.setDefaultTimeout(15_000);
    const zoneid = ((await ok('createZone', { name: 'Xva zone' }))['zone'] as { id: string }).id;
    const podid = ((await ok('createPod', { name: 'Pod', zoneid }))['pod'] as { id: string }).id;
    await ok('addCluster', { zoneid, podid, clustername: 'xva-pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password });
    const ostypes = (await ok('listOsTypes', {}))['ostype'] as { id: string; description: string }[];
    const ostypeid = ostypes[0]!.id;
    // What the unmapped VM becomes: a template of the zone with a guest OS of Kiln's list.
    await ok('createNetwork', { name: 'Xva net', zoneid, userdataprovider: 'VirtualRouter' });
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const debian = ostypes.find((o) => o.description === 'Debian GNU/Linux 12 (64-bit)')!.id;
    await ok('registerTemplate', { name: 'Debian 12 on Xen', displaytext: 'Debian 12', format: 'VHD', hypervisor: 'XenServer', ostypeid: debian, zoneid, url: POOL_TEMPLATE, size: String(2 ** 30) });
    const registered = ((await ok('registerTemplate', { name: 'app.xva', displaytext: 'exported app', format: 'XVA', hypervisor: 'XenServer', ostypeid, zoneid, url: `http://127.0.0.1:${(files.address() as AddressInfo).port}/app.xva` }))['template'] as { id: string }[])[0]!;
    for (let i = 0; i < 400 && !(((await ok('listTemplates', { id: registered.id, templatefilter: 'all' }))['template'] as { isready: boolean }[])[0]!).isready; i++) await new Promise((r) => setTimeout(r, 50));
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
    await sim?.stop();
    files?.close();
  });

  it('offers the XVA in the VM step, imports it into the pool, and lists the VM as unmanaged', async () => {
    await page.getByRole('link', { name: 'Import VMs' }).click();
    await page.getByRole('heading', { name: 'Import virtual machines', level: 1 }).waitFor();
    const cluster = page.getByRole('combobox', { name: 'Cluster' });
    const option = await cluster.locator('option', { hasText: 'xva-pool' }).getAttribute('value');
    await cluster.selectOption(option!);
    await page.getByRole('button', { name: 'Next' }).click();
    const panel = page.getByRole('group', { name: 'Bring in an exported XenServer VM (XVA)' });
    await panel.waitFor();
    expect(await panel.getByRole('combobox', { name: 'XVA' }).locator('option').allInnerTexts()).toEqual(['Choose…', 'app.xva']);
    await panel.getByRole('textbox', { name: 'Name in the pool' }).fill('app-from-xva');
    await ui.shot('xva-import-panel');
    await panel.getByRole('button', { name: 'Import into the pool' }).click();
    await expect.poll(() => panel.getByRole('status').innerText().catch(() => ''), { timeout: 20_000 }).toBe('app-from-xva is in the pool; choose it below to take it over.');
    const table = page.getByRole('table', { name: 'Unmanaged VMs' });
    await expect.poll(() => table.innerText(), { timeout: 20_000 }).toContain('app-from-xva');
    await ui.shot('xva-import-listed');
    const [ref] = await xapi.call<string[]>('VM.get_by_name_label', 'app-from-xva');
    expect(await xapi.call('VM.get_power_state', ref)).toBe('Halted');
    expect(ui.pageErrors).toEqual([]);
  }, 60_000);

  it('the listed VM whose OS Kiln cannot map is chosen, given a template in the offerings step, imported, and listed as a Kiln VM with the template\'s OS', async () => {
    const table = page.getByRole('table', { name: 'Unmanaged VMs' });
    const row = table.locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'app-from-xva', exact: true }) });
    expect(await row.innerText()).toContain('With a template (chosen in the Offerings step): VM app-from-xva: no guest OS in Kiln\'s list matches "Debian Bookworm 12"; give templateid to import it');
    const select = page.getByRole('checkbox', { name: 'Select app-from-xva' });
    expect(await select.isDisabled()).toBe(false);
    await select.check();
    await page.getByRole('button', { name: 'Next' }).click();
    // Its NIC is on a pool network without a VLAN: mapped by hand.
    await page.getByRole('heading', { name: '3. Networks' }).waitFor();
    const nic = page.locator('[data-nic^="app-from-xva/"] select');
    await nic.selectOption({ label: 'Xva net (L2)' });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '4. Offerings' }).waitFor();
    const template = page.getByRole('combobox', { name: 'Template for app-from-xva' });
    await expect.poll(() => template.locator('option').allInnerTexts()).toEqual(['Choose…', 'Debian 12 on Xen']);
    expect(await page.locator('[data-template-for="app-from-xva"]').innerText()).toBe('Its OS “Debian Bookworm 12” maps onto no guest OS of Kiln\'s: the VM gets the template\'s OS, and the template is the one it can be restored to.');
    expect(await page.getByLabel('Service offering for app-from-xva').locator('option:checked').innerText()).toBe('Small Instance (1 vCPU, 512 MB)');
    // Not without one.
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Choose a template for app-from-xva: its OS "Debian Bookworm 12" maps onto no guest OS of Kiln\'s, and the template\'s OS becomes the VM\'s.');
    await ui.shot('xva-import-template-missing');
    await template.selectOption({ label: 'Debian 12 on Xen' });
    await ui.shot('xva-import-template-chosen');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '5. Data disks' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    const review = page.getByRole('table', { name: 'Import review' });
    await review.waitFor();
    expect(await review.locator('tbody tr').innerText()).toMatch(/app-from-xva \(xva-pool\)[\s\S]*→ Xva net\s+Small Instance\s+Debian 12 on Xen\s+—/);
    await ui.shot('xva-import-template-review');
    await page.getByRole('button', { name: 'Import 1 VM' }).click();
    const results = page.getByRole('table', { name: 'Import results' });
    const result = results.locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'app-from-xva', exact: true }) });
    await expect.poll(() => result.getAttribute('data-result'), { timeout: 30_000 }).toBe('done');
    expect(await result.innerText()).toContain('Imported Open app-from-xva');
    await ui.shot('xva-import-template-done');

    const vms = (await ok('listVirtualMachines', { name: 'app-from-xva' }))['virtualmachine'] as { name: string; state: string; templatename: string; ostypeid: string; guestosid?: string }[];
    expect(vms.map((v) => [v.name, v.state, v.templatename])).toEqual([['app-from-xva', 'Stopped', 'Debian 12 on Xen']]);
    const debian = ((await ok('listOsTypes', {}))['ostype'] as { id: string; description: string }[]).find((o) => o.description === 'Debian GNU/Linux 12 (64-bit)')!.id;
    expect(vms[0]!.ostypeid ?? vms[0]!.guestosid).toBe(debian);
    expect(((await ok('listUnmanagedInstances', { clusterid: String(((await ok('listClusters', { name: 'xva-pool' }))['cluster'] as { id: string }[])[0]!.id), name: 'app-from-xva' }))['unmanagedinstance'] as unknown[] | undefined) ?? []).toEqual([]);
    await page.getByRole('link', { name: 'Back to the list' }).click();
    await expect.poll(() => vmRow(page, 'app-from-xva').locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Stopped');
    await ui.shot('xva-import-template-vm-list');
    expect(ui.pageErrors).toEqual([]);
  }, 90_000);
});
