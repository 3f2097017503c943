/**
 * The Primary storage page in Chromium against `kiln serve` on the simulator zone: it lists the
 * pools the demo hosts report (sim-primary, the cluster's, with its type, state and size), an
 * Edit dialog refuses tags the engine's published rule refuses (the same words, before any
 * call) and saves valid ones and a disabled state, which the row and listStoragePools then show.
 * Screenshots: test-results/screenshots/storage-*.png.
 */
import { describe, expect, it } from 'vitest';
import { goTo, serveUiSuite, type UiSession } from './ui-helpers.js';

let ui: UiSession;

const poolRow = (name: string) => ui.page.locator(`tr[data-pool="${name}"]`);
const cellOf = async (name: string, header: string) => {
  const headers = await ui.page.getByRole('table', { name: 'Storage pools' }).locator('thead th').allInnerTexts();
  return poolRow(name).locator('td').nth(headers.indexOf(header)).innerText();
};

describe('Primary storage page in Chromium', () => {
  serveUiSuite(async (suite) => {
    ui = suite.ui;
  });

  it('lists the pools, validates tags with the engine rule, and saves tags and enabled', async () => {
    const { page } = ui;
    await goTo(ui, '#/storage', 'Primary storage');
    expect(await page.getByRole('link', { name: 'Primary storage' }).getAttribute('aria-current')).toBe('page');
    await poolRow('sim-primary').waitFor();
    expect(await cellOf('sim-primary', 'Scope')).toBe('Cluster');
    expect(await cellOf('sim-primary', 'Type')).toBe('NetworkFilesystem');
    expect(await cellOf('sim-primary', 'State')).toBe('Up');
    expect(await cellOf('sim-primary', 'Used / total')).toBe('512.0 GiB / 1.0 TiB');
    expect(await cellOf('sim-primary', 'Storage tags')).toBe('none');
    await ui.shot('storage-list');

    await page.getByRole('button', { name: 'Edit storage pool sim-primary' }).click();
    const dialog = page.getByRole('dialog', { name: 'Storage pool sim-primary' });
    await dialog.getByLabel('Storage tags').fill('ssd; rm');
    expect(await dialog.locator('.hint.error').innerText()).toBe('tags: "ssd; rm" is not a list of storage tags: comma-separated words of letters, digits and _ . : - (at most 64 characters each)');
    expect(await dialog.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await ui.shot('storage-tag-refused');
    await dialog.getByLabel('Storage tags').fill('ssd, fast');
    await dialog.getByLabel(/Enabled/).uncheck();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => cellOf('sim-primary', 'Storage tags')).toBe('ssd fast');
    expect(await cellOf('sim-primary', 'State')).toBe('Disabled');
    expect(await page.locator('.notices').innerText()).toContain('Storage pool sim-primary updated');
    await ui.shot('storage-tagged');
    const pools = (await ui.api('listStoragePools', { name: 'sim-primary' }))['storagepool'] as { tags: string; state: string }[];
    expect(pools.map((p) => [p.tags, p.state])).toEqual([['ssd,fast', 'Disabled']]);
  });
});
