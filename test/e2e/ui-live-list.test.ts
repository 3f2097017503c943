/**
 * The VM list follows changes in Chromium against `kiln serve`, without fetching the list again:
 * VMs stopped and started under it by another client (Debian's `cloudstack`, signed) change
 * state in their rows, a bulk stop from the UI itself ends with every row Stopped, a VM deployed
 * by the other client appears and an expunged one disappears. Every listVirtualMachines request
 * the page makes is counted (playwright's request events): after the first load none reads the
 * whole list again (at most a single VM, by id, to name a finished job's VM).
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Request } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { demoCatalog, openUi, vmRow, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;
/** The page's listVirtualMachines requests, as their form parameters. */
const listCalls: URLSearchParams[] = [];

/** A signed call by another client: the real `cloudstack` CLI (HMAC-SHA1), waiting for its job. */
function cs(...args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      'cloudstack',
      args,
      { env: { ...process.env, CLOUDSTACK_ENDPOINT: kiln.apiUrl, CLOUDSTACK_KEY: kiln.apiKey, CLOUDSTACK_SECRET: kiln.secretKey, CLOUDSTACK_POLL_INTERVAL: '0.2' } },
      (error, stdout, stderr) => (error ? reject(new Error(`cloudstack ${args.join(' ')}: ${stderr || stdout}`)) : resolve(JSON.parse(stdout) as Record<string, unknown>)),
    );
  });
}

const stateOf = (name: string) => vmRow(ui.page, name).locator('[data-state]').getAttribute('data-state');
const fullLoads = () => listCalls.filter((p) => !p.has('id'));
const NAMES = Array.from({ length: 8 }, (_, i) => `live-${i + 1}`);

describe('the VM list follows changes without refetching', () => {
  beforeAll(async () => {
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    ui.page.on('request', (request: Request) => {
      const body = request.postData();
      if (!body) return;
      const params = new URLSearchParams(body);
      if (params.get('command') === 'listVirtualMachines') listCalls.push(params);
    });
    const catalog = await demoCatalog(ui);
    await Promise.all(NAMES.map((name) => cs('deployVirtualMachine', `zoneid=${catalog.zoneid}`, `templateid=${catalog.templateid}`, `serviceofferingid=${catalog.serviceofferingid}`, `name=${name}`)));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('loads the list once in pages, then shows VMs deployed and stopped by another client from the live channel', async () => {
    const { page } = ui;
    await page.reload();
    await page.getByRole('table', { name: 'Virtual machines' }).waitFor();
    for (const name of NAMES) await expect.poll(() => stateOf(name), { timeout: 15_000 }).toBe('Running');
    // The first load: one page (listall, page 1 of 100), since the list is shorter than a page.
    expect(fullLoads().map((p) => `${p.get('page')}x${p.get('pagesize')}`)).toEqual(['1x100']);
    listCalls.length = 0;

    const ids = Object.fromEntries(((await ui.api('listVirtualMachines', { listall: 'true' }))['virtualmachine'] as { id: string; name: string }[]).map((v) => [v.name, v.id]));
    await Promise.all(NAMES.slice(0, 4).map((name) => cs('stopVirtualMachine', `id=${ids[name]}`)));
    for (const name of NAMES.slice(0, 4)) await expect.poll(() => stateOf(name), { timeout: 15_000 }).toBe('Stopped');
    for (const name of NAMES.slice(4)) expect(await stateOf(name)).toBe('Running');
    // The host column follows too: a stopped VM has none.
    expect(await vmRow(page, NAMES[0]!).innerText()).not.toContain('sim-host');
    await ui.shot('live-list-stopped-by-cs');
    expect(fullLoads()).toEqual([]);
  });

  it('bulk-stops the running VMs from the UI with no list reload', async () => {
    const { page } = ui;
    listCalls.length = 0;
    const running = NAMES.slice(4);
    for (const name of running) await page.getByRole('checkbox', { name: `Select ${name}` }).check();
    const bar = page.getByRole('toolbar', { name: 'Bulk actions' });
    await expect.poll(() => bar.innerText()).toContain(`${running.length} selected`);
    await bar.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: `Stop all ${running.length}` }).click();
    const run = page.getByRole('region', { name: 'Bulk Stop' });
    await expect.poll(() => run.locator('.bulk-summary').innerText(), { timeout: 30_000 }).toBe(`Done: ${running.length} succeeded, 0 failed`);
    for (const name of running) await expect.poll(() => stateOf(name), { timeout: 15_000 }).toBe('Stopped');
    await page.waitForTimeout(1000);
    await ui.shot('live-list-bulk-stopped');
    // The goal is at most 2 list requests for a bulk action; the live channel needs none.
    expect(fullLoads().length).toBe(0);
    expect(listCalls.length).toBeLessThanOrEqual(2);
  });

  it('shows a VM another client deploys, and drops one it expunges', async () => {
    const { page } = ui;
    listCalls.length = 0;
    const catalog = await demoCatalog(ui);
    const deployed = await cs('deployVirtualMachine', `zoneid=${catalog.zoneid}`, `templateid=${catalog.templateid}`, `serviceofferingid=${catalog.serviceofferingid}`, 'name=from-cs');
    expect(JSON.stringify(deployed)).toContain('from-cs');
    await expect.poll(() => stateOf('from-cs'), { timeout: 15_000 }).toBe('Running');
    const id = ((await ui.api('listVirtualMachines', { name: 'from-cs' }))['virtualmachine'] as { id: string }[])[0]!.id;
    await ui.shot('live-list-deployed-by-cs');

    await cs('destroyVirtualMachine', `id=${id}`, 'expunge=true');
    await expect.poll(() => vmRow(page, 'from-cs').count(), { timeout: 15_000 }).toBe(0);
    await expect.poll(() => page.locator('.count').innerText()).toContain(String(NAMES.length + 2));
    await ui.shot('live-list-expunged-by-cs');
    expect(fullLoads()).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
