/**
 * The import wizard brings an exported XenServer VM in, in Chromium against `kiln serve` with a
 * pool on the xapi simulator: an XVA built in the test (test/helpers/xva.ts) is registered into the
 * zone's image store (registerTemplate format=XVA from a local HTTP server); the wizard's VM step
 * offers it, "Import into the pool" runs importVm importsource=xva (xapi's /import), says the VM
 * is in the pool, and the VM is then a row of the unmanaged list, which the wizard's next steps
 * take over like any other. Checked in the page's text, the API and xapi.
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
import { openUi, type UiSession } from './ui-helpers.js';

const MiB = 2 ** 20;

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
    sim = await XapiSim.start({ hosts: [{ name: 'xva-host' }], eventTimeoutClampS: 1, taskDelayMs: 2 });
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
    const ostypeid = ((await ok('listOsTypes', {}))['ostype'] as { id: string }[])[0]!.id;
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
});
