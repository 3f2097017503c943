/**
 * The VM screens in Chromium against `kiln serve` on the simulator zone: deploy through the
 * wizard and see the VM Running in the list, stop it from its action menu, a bulk stop over five
 * VMs where one fails (it is already Stopped: 431) with the failure kept visible, keyboard-only
 * navigation, the dark theme, and no CSP violation anywhere. Screenshots of each view, light
 * and dark, go to test-results/screenshots/.
 */
import { describe, expect, it } from 'vitest';
import type { KilnProcess } from '../helpers/server.js';
import { inPage, serveUiSuite, vmRow, waitJob, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let ui: UiSession;

describe('VM screens in Chromium', () => {
  serveUiSuite((suite) => {
    ({ kiln, ui } = suite);
  });

  it('deploys a VM through the wizard and shows it Running in the list', async () => {
    const { page } = ui;
    await vmRow(page, 'demo-web').waitFor();
    await ui.shot('vm-list-light');
    await page.getByRole('link', { name: 'Deploy VM' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Zone' }).inputValue()).not.toBe('');
    await ui.shot('deploy-placement-light');
    await page.getByRole('button', { name: 'Next' }).click();

    await page.getByRole('combobox', { name: 'Template' }).selectOption({ label: 'Debian 12' });
    await page.getByRole('button', { name: 'Next' }).click();

    // Without an offering the step refuses to move on and says why.
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Choose a service offering');
    await page.getByRole('radio', { name: /Small Instance/ }).check();
    await ui.shot('deploy-offering-light');
    await page.getByRole('button', { name: 'Next' }).click();

    await expect.poll(() => page.getByRole('checkbox', { name: /Demo L2/ }).isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Next' }).click();

    await page.getByLabel("Name (the guest's hostname)").fill('wiz-vm1');
    await page.getByLabel('Display name').fill('wiz-vm1');
    await page.getByLabel('Group').fill('wizard');
    await page.getByRole('button', { name: 'Next' }).click();
    // SSH keys and user data: none.
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();

    await expect.poll(() => page.locator('.review').innerText()).toContain('Debian 12');
    await ui.shot('deploy-review-light');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('wiz-vm1 is deployed and running.').waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'Back to the list' }).click();

    const row = vmRow(page, 'wiz-vm1');
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Running');
    expect(await row.innerText()).toMatch(/wiz-vm1\s+Running\s+sim-host-\d[\s\S]*Small Instance\s+No\s+wizard/);
  });

  it('shows each refused host and its reason when no host can take the VM (533)', async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Deploy VM' }).click();
    // A fresh draft after the last deploy.
    await page.getByRole('heading', { name: '1. Placement' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('combobox', { name: 'Template' }).selectOption({ label: 'Debian 12' });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /^Custom Custom/ }).check();
    await page.getByLabel('CPU cores').fill('64');
    await page.getByLabel('CPU speed (MHz)').fill('2000');
    await page.getByLabel('Memory (MiB)').fill('900000');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel("Name (the guest's hostname)").fill('too-big');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Deploy' }).click();
    const refused = page.getByRole('table', { name: 'Hosts refused' });
    await refused.waitFor();
    expect(await page.locator('.error-panel h3').innerText()).toBe('No host can take this VM');
    const text = await refused.innerText();
    for (const host of ['sim-host-1', 'sim-host-2', 'sim-host-3']) expect(text).toContain(host);
    expect(await refused.locator('tbody tr').count()).toBe(3);
    await ui.shot('deploy-refused-533-light');
    // Nothing was created.
    expect((await ui.api('listVirtualMachines', { name: 'too-big' }))['virtualmachine']).toBeUndefined();
    await page.getByRole('link', { name: 'Virtual machines' }).click();
  });

  it('stops the VM from its action menu; the badge goes Stopped', async () => {
    const { page } = ui;
    const row = vmRow(page, 'wiz-vm1');
    await row.getByRole('button', { name: 'Actions for wiz-vm1' }).click();
    const menu = page.getByRole('menu', { name: 'Actions for wiz-vm1' });
    // Offered from listApis vmstates for a Running VM: stop, reboot, console, destroy; not start or recover.
    const items = await menu.getByRole('menuitem').allInnerTexts();
    expect(items).toEqual(expect.arrayContaining(['Stop', 'Reboot', 'Console', 'Destroy']));
    expect(items).not.toContain('Start');
    expect(items).not.toContain('Recover');
    await ui.shot('vm-action-menu-light');
    await menu.getByRole('menuitem', { name: 'Stop', exact: true }).click();
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 20_000 }).toBe('Stopped');
    await row.getByRole('button', { name: 'Actions for wiz-vm1' }).click();
    const stopped = await page.getByRole('menu', { name: 'Actions for wiz-vm1' }).getByRole('menuitem').allInnerTexts();
    expect(stopped).toContain('Start');
    expect(stopped).not.toContain('Stop');
    await page.keyboard.press('Escape');
  });

  it('bulk-stops five VMs with one failing and keeps the failure visible', async () => {
    const { page } = ui;
    const zone = ((await ui.api('listZones'))['zone'] as { id: string }[])[0]!.id;
    const template = ((await ui.api('listTemplates', { templatefilter: 'executable', name: 'Debian 12' }))['template'] as { id: string }[])[0]!.id;
    const offering = ((await ui.api('listServiceOfferings', { name: 'Small Instance' }))['serviceoffering'] as { id: string }[])[0]!.id;
    const names = ['bulk-1', 'bulk-2', 'bulk-3', 'bulk-4'];
    const jobs = await Promise.all(names.map((name) => ui.api('deployVirtualMachine', { zoneid: zone, templateid: template, serviceofferingid: offering, name, displayname: name })));
    for (const job of jobs) expect((await waitJob(ui, String(job['jobid'])))['jobstatus']).toBe(1);
    for (const name of names) await expect.poll(() => vmRow(page, name).locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Running');

    for (const name of [...names, 'wiz-vm1']) await page.getByRole('checkbox', { name: `Select ${name}` }).check();
    const bar = page.getByRole('toolbar', { name: 'Bulk actions' });
    await expect.poll(() => bar.innerText()).toContain('5 selected');
    await bar.getByRole('button', { name: 'Stop', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.innerText()).toContain('wiz-vm1 is Stopped');
    await ui.shot('bulk-confirm-light');
    await dialog.getByRole('button', { name: 'Stop all 5' }).click();

    const run = page.getByRole('region', { name: 'Bulk Stop' });
    await expect.poll(() => run.locator('.bulk-summary').innerText(), { timeout: 30_000 }).toBe('Done: 4 succeeded, 1 failed');
    const failed = run.locator('li[data-status="failed"]');
    expect(await failed.count()).toBe(1);
    expect(await failed.innerText()).toMatch(/wiz-vm1[\s\S]*failed[\s\S]*431: .*only a Running VM can be stopped/);
    expect(await run.locator('li[data-status="succeeded"]').count()).toBe(4);
    expect(await run.getByRole('progressbar').getAttribute('value')).toBe('5');
    for (const name of names) await expect.poll(() => vmRow(page, name).locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Stopped');
    await ui.shot('bulk-results-light');
  });

  it('reaches the deploy button and the rows with the keyboard alone', async () => {
    const { page } = ui;
    // A fresh page: Tab from the top.
    await page.goto(new URL('/#/vms', kiln.apiUrl).toString());
    await page.reload();
    await vmRow(page, 'demo-web').waitFor();
    let reached = false;
    for (let i = 0; i < 15 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await inPage<boolean>(page, "document.activeElement?.textContent?.trim() === 'Deploy VM'");
    }
    expect(reached).toBe(true);
    // The focus ring is visible (an outline from :focus-visible).
    expect(await inPage<string>(page, 'getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
    await ui.shot('keyboard-focus-deploy-light');
    await page.keyboard.press('Enter');
    await expect.poll(() => inPage<string>(page, 'location.hash')).toBe('#/deploy');
    await page.getByRole('heading', { name: '1. Placement' }).waitFor();

    // Rows: one tab stop, arrows move, Space selects, Enter opens.
    await page.goto(new URL('/#/vms', kiln.apiUrl).toString());
    await vmRow(page, 'demo-web').waitFor();
    await page.locator('tbody tr[tabindex="0"]').focus();
    const first = await inPage<string>(page, "document.activeElement?.getAttribute('data-index')");
    await page.keyboard.press('ArrowDown');
    expect(await inPage<string>(page, "document.activeElement?.getAttribute('data-index')")).toBe(String(Number(first) + 1));
    await page.keyboard.press(' ');
    await expect.poll(() => page.getByRole('toolbar', { name: 'Bulk actions' }).innerText()).toContain('1 selected');
    await page.getByRole('button', { name: 'Clear selection' }).click();
    await page.locator('tbody tr[tabindex="0"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => inPage<string>(page, 'location.hash')).toMatch(/^#\/vms\/[0-9a-f-]+\/overview$/);
  });

  it('shows the VM detail views and switches to the dark theme', async () => {
    const { page } = ui;
    await page.goto(new URL('/#/vms', kiln.apiUrl).toString());
    await vmRow(page, 'demo-web').getByRole('link', { name: 'demo-web' }).click();
    await page.getByRole('heading', { name: /demo-web/ }).waitFor();
    await ui.shot('vm-detail-overview-light');
    await page.getByRole('link', { name: 'NICs' }).click();
    await page.getByRole('table', { name: 'NICs' }).waitFor();
    await page.getByRole('link', { name: 'Volumes' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Volumes' }).innerText()).toMatch(/ROOT-\d+\s+ROOT/);
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Events' }).innerText()).toContain('VM.START');
    await ui.shot('vm-detail-events-light');

    const background = () => inPage<string>(page, 'getComputedStyle(document.body).backgroundColor');
    const light = await background();
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await inPage<string>(page, 'document.documentElement.dataset.theme')).toBe('dark');
    expect(await background()).not.toBe(light);
    expect(await page.getByRole('button', { name: 'Dark theme' }).getAttribute('aria-pressed')).toBe('true');
    await ui.shot('vm-detail-events-dark');
    for (const [hash, name] of [['#/vms', 'vm-list-dark'], ['#/deploy', 'deploy-dark'], ['#/hosts', 'hosts-dark'], ['#/events', 'events-dark'], ['#/settings', 'settings-dark']]) {
      await inPage(page, `location.hash = ${JSON.stringify(hash)}`);
      await page.waitForTimeout(600);
      await ui.shot(name!);
    }
    // The choice is remembered across a reload.
    await page.reload();
    expect(await inPage<string>(page, 'document.documentElement.dataset.theme')).toBe('dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    for (const [hash, name] of [['#/hosts', 'hosts-light'], ['#/events', 'events-light']]) {
      await inPage(page, `location.hash = ${JSON.stringify(hash)}`);
      await page.waitForTimeout(600);
      await ui.shot(name!);
    }
  });

  it('the overview shows when the VM was made as a date; a field its state locks looks locked; the navigation stays put', async () => {
    const { page } = ui;
    await page.goto(new URL('/#/vms', kiln.apiUrl).toString());
    await vmRow(page, 'demo-web').getByRole('link', { name: 'demo-web' }).click();
    await page.getByRole('heading', { name: /demo-web/ }).waitFor();
    // The engine's created (2026-12-02T04:38:01+0000) as the user's locale writes it, as the events and backups show times.
    const created = await page.locator('.field', { has: page.locator('dt', { hasText: /^Created$/ }) }).locator('dd').innerText();
    expect(created).not.toMatch(/T\d{2}:\d{2}:\d{2}[+-]\d{4}$/);
    expect(created).toMatch(/\d{1,2}:\d{2}:\d{2}/);

    // demo-web runs: the hostname sits in the edit form's "While stopped only" group, disabled, and now also looks it.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const hostname = page.getByRole('textbox', { name: 'Name (hostname)' });
    expect(await hostname.isDisabled()).toBe(true);
    // (globalThis typed by hand: the test project's TypeScript has no DOM library.)
    const look = (name: string) =>
      page.getByRole('textbox', { name, exact: true }).evaluate((e) => {
        const style = (globalThis as unknown as { getComputedStyle(el: unknown): { backgroundColor: string; color: string } }).getComputedStyle(e);
        return `${style.backgroundColor} ${style.color}`;
      });
    expect(await look('Name (hostname)')).not.toBe(await look('Display name'));
    await ui.shot('vm-edit-running-light');
    await page.getByRole('button', { name: 'Cancel' }).click();

    // The current link is marked without a wider font: the links after it keep their place from page to page.
    const hostsLeft = async () => (await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Hosts' }).boundingBox())!.x;
    const onVms = await hostsLeft();
    await inPage(page, 'location.hash = "#/hosts"');
    await page.getByRole('heading', { name: 'Hosts' }).first().waitFor();
    expect(await hostsLeft()).toBe(onVms);

    // A narrower window (1024 px): Deploy VM and the theme switch stay inside it.
    await page.setViewportSize({ width: 1024, height: 768 });
    try {
      const toggle = (await page.getByRole('button', { name: 'Dark theme' }).boundingBox())!;
      expect(toggle.x + toggle.width).toBeLessThanOrEqual(1024);
      const deploy = (await page.getByRole('link', { name: 'Deploy VM' }).boundingBox())!;
      expect(deploy.x).toBeGreaterThanOrEqual(0);
      await ui.shot('hosts-1024-light');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('follows prefers-color-scheme until the user chooses', async () => {
    const page = await ui.context.newPage();
    await page.emulateMedia({ colorScheme: 'dark' });
        await page.goto(new URL('/#/vms', kiln.apiUrl).toString());
    await inPage(page, "localStorage.removeItem('kiln.theme')");
    await page.reload();
    expect(await inPage<string>(page, 'document.documentElement.dataset.theme')).toBe('dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(() => inPage<string>(page, 'document.documentElement.dataset.theme')).toBe('light');
    await page.close();
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
