/**
 * The VM list with 10,000 rows stays windowed: only the rows in view (and a few more) are in the
 * DOM while scrolling from top to bottom, sorting and filtering still cover every row, and the
 * row offsets (set through the CSSOM) raise no CSP violation.
 *
 * How the 10,000 VMs get there: the test intercepts the page's listVirtualMachines call at the
 * network boundary (Playwright's route) and answers with a synthetic list in the engine's
 * response shape. Every other call goes to the real `kiln serve`. The renderer has no test
 * hook and no fixture mode; deploying 10,000 VMs through the simulator would take minutes.
 */
import { describe, expect, it } from 'vitest';
import { inPage, serveUiSuite, type UiSession } from './ui-helpers.js';
import { syntheticVms } from '../helpers/synthetic-vms.js';

const COUNT = 10_000;

let ui: UiSession;

describe('VM list with 10,000 rows', () => {
  serveUiSuite(async (suite) => {
    ui = suite.ui;
    const body = JSON.stringify({ listvirtualmachinesresponse: { count: COUNT, virtualmachine: syntheticVms(COUNT) } });
    await ui.context.route('**/client/api', async (route) => {
      const form = new URLSearchParams(route.request().postData() ?? '');
      if (form.get('command') === 'listVirtualMachines') await route.fulfill({ status: 200, contentType: 'application/json', body });
      else await route.continue();
    });
  });

  it('keeps a bounded number of rows in the DOM while scrolling through all of them', async () => {
    const { page } = ui;
    const started = Date.now();
    await page.reload();
    await expect.poll(() => page.locator('.count').innerText(), { timeout: 20_000 }).toBe(`${COUNT} VMs`);
    const loadMs = Date.now() - started;
    const rows = page.getByRole('table', { name: 'Virtual machines' }).locator('tbody tr');
    const inDom = async () => rows.count();
    expect(await inDom()).toBeLessThanOrEqual(40);
    expect(await page.getByRole('table', { name: 'Virtual machines' }).getAttribute('aria-rowcount')).toBe(String(COUNT + 1));
    await ui.shot('vm-list-10000-top-light');

    // Scroll the whole list in steps, a frame at a time, counting rows and frames.
    const stats = await inPage<{ max: number; min: number; steps: number; ms: number; frames: number; height: number }>(
      page,
      `(async () => {
        const scroller = document.querySelector('.vt-scroll');
        const counts = [];
        const start = performance.now();
        let frames = 0;
        const step = scroller.clientHeight * 3;
        while (scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight - 1) {
          scroller.scrollTop += step;
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          frames += 2;
          counts.push(document.querySelectorAll('.vt-body tr').length);
        }
        return { max: Math.max(...counts), min: Math.min(...counts), steps: counts.length, ms: performance.now() - start, frames, height: scroller.scrollHeight };
      })()`,
    );
    expect(stats.height).toBeGreaterThan(COUNT * 40);
    expect(stats.max).toBeLessThanOrEqual(40);
    expect(stats.min).toBeGreaterThan(10);
    console.log(`10,000 rows: list shown ${loadMs} ms after reload; scrolled ${stats.steps} steps in ${Math.round(stats.ms)} ms (${Math.round((stats.frames / stats.ms) * 1000)} frames/s), at most ${stats.max} rows in the DOM`);
    await expect.poll(() => rows.last().innerText()).toContain('fx-09999');
    await ui.shot('vm-list-10000-bottom-light');
  });

  it('sorts, filters and searches over all 10,000', async () => {
    const { page } = ui;
    const table = page.getByRole('table', { name: 'Virtual machines' });
    await inPage(page, "document.querySelector('.vt-scroll').scrollTop = 0");
    await table.getByRole('button', { name: 'Name' }).click(); // descending
    await expect.poll(() => table.locator('tbody tr').first().innerText()).toContain('fx-09999');
    expect(await table.getByRole('columnheader', { name: /Name/ }).getAttribute('aria-sort')).toBe('descending');
    await page.getByRole('combobox', { name: 'Filter by state' }).selectOption('Error');
    await expect.poll(() => page.locator('.count').innerText()).toBe(`${COUNT / 4} of ${COUNT} VMs`);
    // In-progress states show as busy badges.
    await page.getByRole('combobox', { name: 'Filter by state' }).selectOption('Starting');
    await expect.poll(() => table.locator('tbody tr').first().locator('.badge').getAttribute('class')).toContain('busy');
    await page.getByRole('combobox', { name: 'Filter by state' }).selectOption('');
    await page.getByRole('searchbox', { name: 'Search VMs' }).fill('fx-0123');
    await expect.poll(() => page.locator('.count').innerText()).toBe(`10 of ${COUNT} VMs`);
    expect(await table.locator('tbody tr').count()).toBe(10);
    await ui.shot('vm-list-10000-search-light');
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
