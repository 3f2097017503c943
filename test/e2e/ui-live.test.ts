/**
 * The live channel and what rides on it, in Chromium against `kiln serve`: the serial console
 * of a running demo VM (banner, typed command, its output; the key-combo menu; the clear
 * message once the VM is stopped), the settings editor (a change that sticks after a reload),
 * and `/kiln/live` refusing a client without the UI session or from another origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { inPage, openUi, vmRow, waitJob, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;

const terminalText = (page: Page) => page.locator('.console-terminal .xterm-rows').innerText();

describe('live channel, console and settings in Chromium', () => {
  beforeAll(async () => {
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('opens the serial console of a running VM, shows the banner and echoes a command', async () => {
    const { page } = ui;
    await vmRow(page, 'demo-web').getByRole('button', { name: 'Actions for demo-web' }).click();
    await page.getByRole('menu', { name: 'Actions for demo-web' }).getByRole('menuitem', { name: 'Console' }).click();
    await expect.poll(() => inPage<string>(page, 'location.hash')).toMatch(/\/console$/);
    await expect.poll(() => terminalText(page), { timeout: 15_000 }).toContain('KILN-GUEST-READY');
    expect(await page.getByRole('toolbar', { name: 'Console' }).getByRole('status').innerText()).toBe('Connected');
    await page.locator('.console-terminal').click();
    await page.keyboard.type('echo hello-kiln');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await terminalText(page)).split('\n').map((l) => l.trim())).toContain('hello-kiln');
    expect(await terminalText(page)).toContain('# echo hello-kiln');

    // Paste as keystrokes.
    await page.getByRole('button', { name: 'Paste as keystrokes…' }).click();
    await page.getByLabel('Text to type into the console').fill('echo pasted-as-keys\n');
    await page.getByRole('button', { name: 'Type it' }).click();
    await expect.poll(async () => (await terminalText(page)).split('\n').map((l) => l.trim())).toContain('pasted-as-keys');

    // The key-combo menu offers the combinations a browser keeps for itself.
    await page.getByRole('button', { name: 'Send keys' }).click();
    const combos = await page.getByRole('menu', { name: 'Send keys' }).getByRole('menuitem').allInnerTexts();
    expect(combos).toEqual(['Ctrl+Alt+Del', 'Ctrl+C', 'Ctrl+]']);
    await page.keyboard.press('Escape');
    await ui.shot('console-light');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await page.waitForTimeout(300);
    await ui.shot('console-dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();
  });

  it('says plainly that the console needs a running VM once the VM stops', async () => {
    const { page } = ui;
    const id = (await inPage<string>(page, 'location.hash')).split('/')[2]!;
    const stop = await ui.api('stopVirtualMachine', { id });
    expect((await waitJob(ui, String(stop['jobid'])))['jobstatus']).toBe(1);
    await expect.poll(() => page.locator('.tab-panel').innerText(), { timeout: 15_000 }).toContain('The console is not available: demo-web is Stopped.');
    await ui.shot('console-vm-stopped-light');
    const start = await ui.api('startVirtualMachine', { id });
    expect((await waitJob(ui, String(start['jobid'])))['jobstatus']).toBe(1);
    // Running again: the console connects by itself.
    await expect.poll(() => terminalText(page), { timeout: 15_000 }).toContain('KILN-GUEST-READY');
  });

  it('changes a setting in the editor and the value sticks after a reload', async () => {
    const { page } = ui;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    const row = page.locator('tr[data-config="expunge.delay"]');
    const input = row.getByRole('textbox', { name: 'expunge.delay' });
    await expect.poll(() => input.inputValue()).toBe('86400');
    await input.fill('600');
    await row.getByRole('button', { name: 'Save expunge.delay' }).click();
    await expect.poll(() => page.locator('.notices').innerText()).toContain('expunge.delay set to 600');
    await ui.shot('settings-light');
    // The filter field shows its whole placeholder (it was cut at "descr"). (A string: no DOM library here.)
    const fits = await inPage<boolean>(
      page,
      `(() => { const e = document.querySelector('input[aria-label="Filter settings"]'); const s = getComputedStyle(e); const c = document.createElement('canvas').getContext('2d'); c.font = s.font; return c.measureText(e.placeholder).width <= e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); })()`,
    );
    expect(fits).toBe(true);
    await page.reload();
    await expect.poll(() => page.locator('tr[data-config="expunge.delay"]').getByRole('textbox').inputValue()).toBe('600');
    const listed = await ui.api('listConfigurations', { name: 'expunge.delay' });
    expect((listed['configuration'] as { value: string }[])[0]!.value).toBe('600');
    // The API key is shown (never the secret) with a copy button.
    expect(await page.getByRole('table', { name: 'API keys' }).innerText()).toContain(kiln.apiKey);
    expect(await page.getByRole('table', { name: 'API keys' }).innerText()).not.toContain(kiln.secretKey);
    await page.getByRole('button', { name: 'Copy the API key of admin' }).waitFor();

    // A cluster-scoped setting, set for one cluster: the global value stays.
    const cluster = ((await ui.api('listClusters'))['cluster'] as { id: string; name: string }[])[0]!;
    await page.getByLabel('Scope').selectOption({ label: `Cluster ${cluster.name}` });
    const factor = page.locator('tr[data-config="mem.overprovisioning.factor"]');
    // The global list is replaced by the cluster's (the factor row is in both, so wait for the global-only row to go).
    await expect.poll(() => page.locator('tr[data-config="expunge.delay"]').count()).toBe(0);
    await expect.poll(() => factor.getByRole('textbox').inputValue()).toBe('1');
    await factor.getByRole('textbox').fill('1.5');
    await factor.getByRole('button', { name: 'Save mem.overprovisioning.factor' }).click();
    await expect.poll(() => page.locator('.notices').innerText()).toContain(`mem.overprovisioning.factor set to 1.5 in cluster ${cluster.name}`);
    await ui.shot('settings-cluster-light');
    expect(((await ui.api('listConfigurations', { name: 'mem.overprovisioning.factor', clusterid: cluster.id }))['configuration'] as { value: string }[])[0]!.value).toBe('1.5');
    expect(((await ui.api('listConfigurations', { name: 'mem.overprovisioning.factor' }))['configuration'] as { value: string }[])[0]!.value).toBe('1');
  });

  it('refuses /kiln/live without the UI session, or from another origin', async () => {
    const url = new URL(kiln.apiUrl);
    const live = `ws://${url.host}/kiln/live`;
    const attempt = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(live, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(-1));
      });
    const cookie = (await ui.context.cookies()).find((c) => c.name === 'kiln_ui')!;
    expect(await attempt({ Origin: `http://${url.host}` })).toBe(401);
    expect(await attempt({ Cookie: `kiln_ui=${cookie.value}`, Origin: 'http://evil.example' })).toBe(403);
    expect(await attempt({ Cookie: `kiln_ui=${cookie.value}` })).toBe(403);
    expect(await attempt({ Cookie: 'kiln_ui=forged', Origin: `http://${url.host}` })).toBe(401);
    expect(await attempt({ Cookie: `kiln_ui=${cookie.value}`, Origin: `http://${url.host}` })).toBe(101);
  });

  it('carries console errors in the API envelope over /kiln/live', async () => {
    const url = new URL(kiln.apiUrl);
    const cookie = (await ui.context.cookies()).find((c) => c.name === 'kiln_ui')!;
    const ws = new WebSocket(`ws://${url.host}/kiln/live`, { headers: { Cookie: `kiln_ui=${cookie.value}`, Origin: `http://${url.host}` } });
    await new Promise((resolve) => ws.once('open', resolve));
    const next = () => new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as Record<string, unknown>)));
    const wiz = ((await ui.api('listVirtualMachines', { name: 'demo-db' }))['virtualmachine'] as { id: string }[])[0]!.id;
    const stop = await ui.api('stopVirtualMachine', { id: wiz });
    await waitJob(ui, String(stop['jobid']));
    let reply = next();
    ws.send(JSON.stringify({ type: 'console-open', id: 'c1', vmId: wiz }));
    expect(await reply).toMatchObject({ type: 'console-error', id: 'c1', errorcode: 431, cserrorcode: 4350, errortext: expect.stringContaining('Stopped') });
    reply = next();
    ws.send(JSON.stringify({ type: 'console-open', id: 'c2', vmId: '00000000-0000-0000-0000-000000000000' }));
    expect(await reply).toMatchObject({ type: 'console-error', id: 'c2', errorcode: 431 });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('not json');
    expect(await closed).toBe(1003);
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
