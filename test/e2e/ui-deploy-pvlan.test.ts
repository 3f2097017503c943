/**
 * The deploy wizard in Chromium against `kiln serve` (the demo zone's simulator hosts, which cannot
 * isolate private VLANs): a private-VLAN network is shown with its role and as not supported there,
 * its checkbox off, while the zone's plain network is still picked first; the engine refuses the
 * same deploy with the 431 the wizard spares the user.
 */
import { describe, expect, it } from 'vitest';
import { demoCatalog, serveUiSuite, waitJob, type UiSession } from './ui-helpers.js';

let ui: UiSession;

describe('deploy wizard: a private VLAN no host of the zone can isolate', () => {
  serveUiSuite((suite) => {
    ui = suite.ui;
  });

  it('shows the private VLAN as not supported in the zone, and does not let it be chosen', async () => {
    const { page } = ui;
    const catalog = await demoCatalog(ui);
    const created = await ui.api('createNetwork', { name: 'PV isolated', zoneid: catalog.zoneid, vlan: '300', isolatedpvlan: '301' });
    const network = created['network'] as { id: string; isolatedpvlansupported?: boolean };
    expect(network.isolatedpvlansupported).toBe(false);

    await page.getByRole('link', { name: 'Deploy VM' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Zone' }).inputValue()).not.toBe('');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('combobox', { name: 'Template' }).selectOption({ label: 'Debian 12' });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /Small Instance/ }).check();
    await page.getByRole('button', { name: 'Next' }).click();

    const pvlan = page.getByRole('checkbox', { name: /PV isolated/ });
    await expect.poll(() => pvlan.count()).toBe(1);
    expect(await pvlan.isDisabled()).toBe(true);
    expect(await pvlan.isChecked()).toBe(false);
    const label = page.locator('label.check', { hasText: 'PV isolated' });
    expect(await label.innerText()).toContain('private VLAN isolated 301 of VLAN 300: not supported here (no host of this zone can isolate private VLANs)');
    // The plain network is still the first choice.
    await expect.poll(() => page.getByRole('checkbox', { name: /Demo L2/ }).isChecked()).toBe(true);
    await ui.shot('deploy-pvlan-unsupported');

    // What the wizard spares the user: the engine's refusal of the same deploy.
    const refused = await ui.api('deployVirtualMachine', { ...catalog, networkids: network.id, name: 'pv-ui' });
    const job = refused['jobid'] ? await waitJob(ui, String(refused['jobid'])) : refused;
    expect(JSON.stringify(job)).toContain('cannot isolate private VLANs');
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  });
});
