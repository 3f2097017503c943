/**
 * The Images page in Chromium against `kiln serve` on the simulator zone: an ISO registered by URL
 * from a small HTTP server on 127.0.0.1 downloads into the zone's image store and shows Ready in
 * the list (with its size); the template form offers for a hypervisor exactly the formats
 * listHypervisorCapabilities publishes for it (templateformats), and a template with an ftp URL is
 * refused with the engine's 431 naming url, shown as it comes, and nothing is registered. A row's
 * Delete removes the registered ISO (deleteIso, after a confirmation); built-in images offer none.
 * Screenshots: test-results/screenshots/images-*.png.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { goTo, serveUiSuite, type UiSession } from './ui-helpers.js';

let ui: UiSession;
let server: Server | undefined;
// The least the image store takes as ISO 9660: a primary volume descriptor's CD001 at sector 16.
const ISO = Buffer.alloc(256 * 1024);
ISO.write('\x01CD001', 16 * 2048, 'latin1');
const JUNK = Buffer.alloc(64 * 1024, 7);
const notices = () => ui.page.locator('.notices').innerText();

const imageRow = (name: string) => ui.page.locator(`tr[data-image="${name}"]`);
const cellOf = async (name: string, header: string) => {
  const headers = await ui.page.getByRole('table', { name: 'Templates and ISOs' }).locator('thead th').allInnerTexts();
  return imageRow(name).locator('td').nth(headers.indexOf(header)).innerText();
};

describe('Images page in Chromium', () => {
  serveUiSuite(
    async (suite) => {
      ui = suite.ui;
      server = createServer((req, res) => {
        const body = req.url === '/tiny.iso' ? ISO : req.url === '/junk.iso' ? JUNK : undefined;
        if (!body) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': String(body.length) }).end(body);
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    },
    {
      cleanup: async () => {
        server?.closeAllConnections();
        await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      },
    },
  );

  const registerIso = async (name: string, path: string) => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Register ISO' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register an ISO' });
    await dialog.getByLabel('Name').fill(name);
    await dialog.getByLabel('URL').fill(`http://127.0.0.1:${(server!.address() as AddressInfo).port}${path}`);
    await dialog.getByLabel('OS type').selectOption({ index: 1 });
    await dialog.getByRole('button', { name: 'Register' }).click();
    await dialog.waitFor({ state: 'detached' });
    await imageRow(name).waitFor();
  };

  it('registers an ISO by URL and shows its download until Ready', async () => {
    await goTo(ui, '#/images', 'Templates and ISOs');
    expect(await ui.page.getByRole('link', { name: 'Images' }).getAttribute('aria-current')).toBe('page');
    await registerIso('tiny-installer', '/tiny.iso');
    expect(await cellOf('tiny-installer', 'Kind')).toBe('ISO');
    expect(await cellOf('tiny-installer', 'Format')).toBe('ISO');
    await expect.poll(() => cellOf('tiny-installer', 'Status'), { timeout: 30_000 }).toBe('Ready');
    expect(await cellOf('tiny-installer', 'Size')).toBe('256.0 KiB');
    await ui.shot('images-iso-ready');
    const isos = (await ui.api('listIsos', { isofilter: 'all', name: 'tiny-installer' }))['iso'] as { isready: boolean }[];
    expect(isos.map((i) => i.isready)).toEqual([true]);
  });

  it("shows a failed download with the engine's words", async () => {
    await registerIso('not-an-iso', '/junk.iso');
    await expect.poll(() => cellOf('not-an-iso', 'Status'), { timeout: 30_000 }).toBe('Download Failed: the file is not an ISO 9660 image (no CD001 descriptor)');
    expect(await imageRow('not-an-iso').locator('td .error').count()).toBe(1);
    await ui.shot('images-iso-failed');
  });

  it("offers the hypervisor's published template formats and shows the engine's 431 for a bad URL", async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Register template' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register a template' });
    const caps = (await ui.api('listHypervisorCapabilities'))['hypervisorCapabilities'] as { hypervisor: string; templateformats?: string }[];
    const withFormats = caps.find((c) => c.templateformats);
    expect(withFormats, 'a driver that publishes templateformats').toBeDefined();
    await dialog.getByLabel('Hypervisor').selectOption(withFormats!.hypervisor);
    const offered = (await dialog.getByLabel('Format').locator('option').allInnerTexts()).slice(1);
    expect(offered).toEqual(withFormats!.templateformats!.split(','));
    await ui.shot('images-template-formats');

    const simulator = caps.find((c) => c.hypervisor === 'Simulator') ?? caps.find((c) => !c.templateformats)!;
    await dialog.getByLabel('Hypervisor').selectOption(simulator.hypervisor);
    await dialog.getByLabel('Name').fill('bad-url-template');
    await dialog.getByLabel('Display text').fill('Bad URL');
    if (simulator.templateformats) await dialog.getByLabel('Format').selectOption({ index: 1 });
    else await dialog.getByLabel('Format').fill('QCOW2');
    await dialog.getByLabel('URL').fill('ftp://images.example/disk.qcow2');
    // The disabled Register says what it still waits for, by the form's labels (it gave the API's "ostypeid" in a tooltip only).
    expect(await dialog.getByRole('button', { name: 'Register' }).isDisabled()).toBe(true);
    expect(await dialog.locator('[data-still-needed]').innerText()).toBe('Still needed: OS type.');
    await dialog.getByLabel('OS type').selectOption({ index: 1 });
    expect(await dialog.locator('[data-still-needed]').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Register' }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toBe('431: url: only http and https URLs are accepted, not ftp:');
    await ui.shot('images-template-431');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await ui.api('listTemplates', { templatefilter: 'all', name: 'bad-url-template' }))['template']).toBeUndefined();
    await expect.poll(() => imageRow('bad-url-template').count()).toBe(0);
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  });

  it('deletes the registered ISO from its row; a built-in template has no Delete', async () => {
    const { page } = ui;
    await imageRow('tiny-installer').getByRole('button', { name: 'Delete ISO tiny-installer' }).click();
    await page.getByRole('dialog', { name: 'Delete ISO tiny-installer?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(notices).toContain('ISO tiny-installer deleted');
    await expect.poll(() => imageRow('tiny-installer').count()).toBe(0);
    expect((await ui.api('listIsos', { isofilter: 'all', name: 'tiny-installer' }))['iso']).toBeUndefined();
    await ui.shot('images-iso-deleted');

    // The engine refuses built-in images (templatetype BUILTIN); their rows offer no Delete.
    expect(await imageRow('Debian 12').count()).toBe(1);
    expect(await imageRow('Debian 12').getByRole('button', { name: /^Delete/ }).count()).toBe(0);
    expect(await imageRow('not-an-iso').getByRole('button', { name: 'Delete ISO not-an-iso' }).count()).toBe(1);
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  });
});
