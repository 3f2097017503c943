/**
 * The renderer in Chromium through serve mode: the token URL opens a session, the VM list shows
 * the demo VMs with their states, the page runs under the strict CSP, and without the token the
 * UI and the API stay closed.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';

let kiln: KilnProcess;
let browser: Browser;

describe('serve mode in Chromium', () => {
  beforeAll(async () => {
    kiln = await startKiln();
    browser = await launchChromium();
    mkdirSync('test-results/screenshots', { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('opens with the one-time token and lists the demo VMs', async () => {
    expect(kiln.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const cspErrors: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) cspErrors.push(msg.text());
    });
    const response = await page.goto(kiln.uiUrl!);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    const table = page.getByRole('table', { name: 'Virtual machines' });
    await expect.poll(() => table.locator('tbody tr').count(), { timeout: 15_000 }).toBe(2);
    const rows = await table.locator('tbody tr').allInnerTexts();
    expect(rows.join('\n')).toMatch(/demo-web\s+Running\s+sim-host/);
    expect(rows.join('\n')).toMatch(/demo-db\s+Running/);
    await page.screenshot({ path: 'test-results/screenshots/serve-vm-list.png' });
    expect(cspErrors).toEqual([]);
    await page.close();
  });

  it('refuses a second use of the token and a browser without the session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const again = await page.goto(kiln.uiUrl!);
    expect(again?.status()).toBe(401);
    const api = await page.request.post(kiln.apiUrl, { form: { command: 'listVirtualMachines', response: 'json' }, headers: { 'X-Kiln-UI': '1' } });
    expect(api.status()).toBe(401);
    await context.close();
  });
});
