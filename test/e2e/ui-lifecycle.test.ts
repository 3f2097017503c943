/**
 * A VM's lifecycle through the UI, in Chromium against `kiln serve` on the simulator zone, as
 * the admin the token URL logs in: stop it from its action menu, destroy it from its detail
 * view (after the confirmation), and recover it; the state badges follow each step. Recover is
 * offered only while the VM is Destroyed, because that is what listApis declares for
 * recoverVirtualMachine, not because the renderer says so. Screenshots of every view passed
 * through go to test-results/screenshots/lifecycle-*.png.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { deployDemoVm, inPage, one, serveUiSuite, vmRow, type UiSession } from './ui-helpers.js';

const NAME = 'life-1';

let ui: UiSession;
let vmId: string;

/** The state badge of the VM's row in the list. */
const rowState = (page: Page) => vmRow(page, NAME).locator('[data-state]').getAttribute('data-state');
/** The state badge in the VM's detail heading. */
const headingState = (page: Page) => page.getByRole('heading', { level: 1 }).locator('[data-state]').getAttribute('data-state');

/** The items of the VM's action menu in the list (opened, read, closed again). */
async function menuItems(page: Page): Promise<string[]> {
  await vmRow(page, NAME).getByRole('button', { name: `Actions for ${NAME}` }).click();
  const items = await page.getByRole('menu', { name: `Actions for ${NAME}` }).getByRole('menuitem').allInnerTexts();
  await page.keyboard.press('Escape');
  return items;
}

/** Every state the VM's badges showed since the page loaded (a MutationObserver in the page). */
function badgeHistory(page: Page): Promise<string[]> {
  return inPage<string[]>(page, 'window.__badges ?? []');
}

describe('stop, destroy and recover a VM through the UI', () => {
  serveUiSuite(async (suite) => {
    ui = suite.ui;
    vmId = await deployDemoVm(ui, NAME);
    // Record every state the VM's badges show, in the list and the detail view, so that the
    // in-between states a job passes through are seen too (the simulator is quick).
    await inPage(
      ui.page,
      `(() => {
        window.__badges = [];
        const seen = (el) => {
          const row = el.closest('tr');
          const inRow = row && [...row.querySelectorAll('a')].some((a) => a.textContent === ${JSON.stringify(NAME)});
          const inHeading = el.closest('h1') && el.closest('h1').textContent.startsWith(${JSON.stringify(NAME)});
          const state = el.getAttribute('data-state');
          if ((inRow || inHeading) && window.__badges[window.__badges.length - 1] !== state) window.__badges.push(state);
        };
        document.querySelectorAll('[data-state]').forEach(seen);
        new MutationObserver((records) => {
          for (const r of records) {
            if (r.type === 'attributes') seen(r.target);
            for (const n of r.addedNodes ?? []) if (n.nodeType === 1) for (const b of [n, ...n.querySelectorAll('[data-state]')]) if (b.hasAttribute?.('data-state')) seen(b);
          }
        }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
      })()`,
    );
  });

  it('reads from listApis that recover applies only to Destroyed VMs', async () => {
    const api = await one<{ name: string; vmstates?: string[] }>(ui, 'listApis', 'api', { name: 'recoverVirtualMachine' });
    expect(api.vmstates).toEqual(['Destroyed']);
    const stop = await one<{ vmstates?: string[] }>(ui, 'listApis', 'api', { name: 'stopVirtualMachine' });
    expect(stop.vmstates).toContain('Running');
  });

  it('shows the new VM Running, with no Recover among its actions', async () => {
    const { page } = ui;
    await expect.poll(() => rowState(page), { timeout: 15_000 }).toBe('Running');
    const items = await menuItems(page);
    expect(items).toEqual(expect.arrayContaining(['Stop', 'Reboot', 'Console', 'Destroy']));
    expect(items).not.toContain('Recover');
    expect(items).not.toContain('Start');
    await ui.shot('lifecycle-1-list-running');
  });

  it('stops the VM from its action menu; the badge goes to Stopped', async () => {
    const { page } = ui;
    await vmRow(page, NAME).getByRole('button', { name: `Actions for ${NAME}` }).click();
    const menu = page.getByRole('menu', { name: `Actions for ${NAME}` });
    await menu.getByRole('menuitem', { name: 'Stop', exact: true }).waitFor();
    await ui.shot('lifecycle-2-menu-running');
    await menu.getByRole('menuitem', { name: 'Stop', exact: true }).click();
    await expect.poll(() => rowState(page), { timeout: 20_000 }).toBe('Stopped');
    expect((await one<{ state: string }>(ui, 'listVirtualMachines', 'virtualmachine', { id: vmId })).state).toBe('Stopped');
    const items = await menuItems(page);
    expect(items).toEqual(expect.arrayContaining(['Start', 'Destroy']));
    expect(items).not.toContain('Stop');
    expect(items).not.toContain('Recover');
    await ui.shot('lifecycle-3-list-stopped');
  });

  it('destroys the stopped VM from its detail view, after the confirmation', async () => {
    const { page } = ui;
    await vmRow(page, NAME).getByRole('link', { name: NAME, exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(`^${NAME}`), level: 1 }).waitFor();
    expect(await headingState(page)).toBe('Stopped');
    const toolbar = page.getByRole('toolbar', { name: `Actions for ${NAME}` });
    expect(await toolbar.getByRole('button').allInnerTexts()).not.toContain('Recover');
    await ui.shot('lifecycle-4-detail-stopped');

    await toolbar.getByRole('button', { name: 'Destroy', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Destroy ${NAME}?` });
    await expect.poll(() => dialog.innerText()).toContain('can be recovered by an admin');
    await ui.shot('lifecycle-5-destroy-confirm');
    await dialog.getByRole('button', { name: 'Destroy', exact: true }).click();

    await expect.poll(() => headingState(page), { timeout: 20_000 }).toBe('Destroyed');
    // Destroyed: the registry offers exactly what listApis declares for that state.
    await expect.poll(() => toolbar.getByRole('button').allInnerTexts()).toEqual(['Recover', 'Expunge']);
    await ui.shot('lifecycle-6-detail-destroyed');
  });

  it('shows the destroyed VM in the admin\'s list with Recover offered', async () => {
    const { page } = ui;
    await page.getByRole('link', { name: '← Virtual machines' }).click();
    await page.getByRole('combobox', { name: 'Filter by state' }).selectOption('Destroyed');
    await expect.poll(() => rowState(page), { timeout: 15_000 }).toBe('Destroyed');
    expect(await page.getByRole('table', { name: 'Virtual machines' }).locator('tbody tr').count()).toBe(1);
    await ui.shot('lifecycle-7-list-destroyed');
    await vmRow(page, NAME).getByRole('button', { name: `Actions for ${NAME}` }).click();
    const menu = page.getByRole('menu', { name: `Actions for ${NAME}` });
    expect(await menu.getByRole('menuitem').allInnerTexts()).toEqual(['Recover', 'Expunge']);
    await ui.shot('lifecycle-8-menu-destroyed');
  });

  it('recovers the VM as admin; it comes back Stopped and Recover is gone', async () => {
    const { page } = ui;
    await page.getByRole('menu', { name: `Actions for ${NAME}` }).getByRole('menuitem', { name: 'Recover', exact: true }).click();
    // The filter still shows Destroyed VMs only: the recovered VM leaves it.
    await expect.poll(() => vmRow(page, NAME).count(), { timeout: 20_000 }).toBe(0);
    await page.getByRole('combobox', { name: 'Filter by state' }).selectOption('');
    await expect.poll(() => rowState(page), { timeout: 15_000 }).toBe('Stopped');
    expect((await one<{ state: string }>(ui, 'listVirtualMachines', 'virtualmachine', { id: vmId })).state).toBe('Stopped');
    const items = await menuItems(page);
    expect(items).toEqual(expect.arrayContaining(['Start', 'Destroy']));
    expect(items).not.toContain('Recover');
    await expect.poll(() => page.locator('.notices').innerText()).toContain(`Recover ${NAME}: done`);
    await ui.shot('lifecycle-9-list-recovered');
  });

  it('showed the badges going Running → Stopped → Destroyed → Stopped', async () => {
    const history = await badgeHistory(ui.page);
    console.log(`badge states seen for ${NAME}: ${history.join(' → ')}`);
    // In-between states (Stopping, Destroying) may or may not be painted; the settled ones must be, in order.
    const settled = history.filter((s) => ['Running', 'Stopped', 'Destroyed'].includes(s)).filter((s, i, all) => s !== all[i - 1]);
    expect(settled).toEqual(['Running', 'Stopped', 'Destroyed', 'Stopped']);
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
