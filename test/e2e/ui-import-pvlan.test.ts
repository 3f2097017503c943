/**
 * The import wizard's "create missing networks" offers for private VLANs, in Chromium against
 * `kiln serve` and two vcsims whose distributed switches have private VLANs (-pg-pvlan: portgroups
 * DVPG-PVLAN<primary>-<secondary>, isolated secondaries of 300). The wizard and the dialog key the
 * missing networks by the (primary, secondary) pair, so a private VLAN is not taken for its plain
 * primary nor for another secondary of it:
 *
 *  - in the NIC step of a cluster Kiln has, a NIC on DVPG-PVLAN300-301 is offered "Create network
 *    DVPG-PVLAN300-301 on VLAN 300 (private VLAN 301)" even though a plain network on VLAN 300
 *    exists; accepting creates that network with primary 300 and secondary 301 (listNetworks) and
 *    maps the NIC to it;
 *  - the discovery dialog for a vCenter Kiln has not added lists each private-VLAN portgroup with
 *    its primary and secondary VLAN, names the network the zone already has for 300/301 and
 *    flags 300/303 missing; "Create 1 missing network" creates it with primary 300 and secondary 303.
 */
import { describe, expect, it } from 'vitest';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { vsphereImportSuite } from './vsphere-import-ui.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('import wizard: private-VLAN networks offered from discovery (Chromium, vcsim)', () => {
  const s = vsphereImportSuite({
    flags: ['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-pg-std', '0', '-pg-dv', '0'],
    added: { flags: ['-pg-pvlan', '300:301'], vms: [{ name: 'pv-web', nics: ['DVPG-PVLAN300-301'] }] },
    fresh: { flags: ['-pg-pvlan', '300:301,300:303'], vms: [{ name: 'pv-app', nics: ['DVPG-PVLAN300-301'] }, { name: 'pv-db', nics: ['DVPG-PVLAN300-303'] }] },
    clustername: 'vc-pvlan',
    // The plain primary VLAN has a network: it must not be taken for the private VLAN 300/301.
    seed: async ({ id, ids }) => {
      await id('createNetwork', { name: 'plain-300', zoneid: ids['zone']!, guestiptype: 'L2', vlan: '300' }, 'network');
    },
  });

  /** The zone's networks as listNetworks gives them: name, type, primary VLAN, secondary VLAN and its type. */
  const zoneNetworks = async () =>
    (((await s.ui.api('listNetworks', { zoneid: s.ids['zone']! }))['network'] as { name: string; type: string; vlan?: string; isolatedpvlan?: string; isolatedpvlantype?: string }[] | undefined) ?? [])
      .map((n) => `${n.name} ${n.type} ${n.vlan ?? '-'} ${n.isolatedpvlan ?? '-'} ${n.isolatedpvlantype ?? '-'}`)
      .sort();

  it("offers a private-VLAN NIC's network with its primary and secondary VLAN, and creates it with both", async () => {
    const { page, ui } = s;
    await s.toNetworksStep(['pv-web']);

    const nic = page.locator('[data-nic="pv-web/nic0"]');
    const offer = nic.getByRole('button', { name: 'Create network DVPG-PVLAN300-301 on VLAN 300 (private VLAN 301)' });
    await offer.waitFor();
    expect(await nic.innerText()).toContain('NIC nic0 of pv-web (VLAN 300 (private VLAN 301), on DVPG-PVLAN300-301)');
    expect(await zoneNetworks()).toEqual(['plain-300 L2 300 - -']);
    await nic.scrollIntoViewIfNeeded();
    await ui.shot('import-pvlan-nic-offer');

    await offer.click();
    // The NIC, its network and the match name the private VLAN: the plain network on 300 differs only there.
    expect(await nic.locator('label').innerText()).toMatch(/^nic0 \([0-9a-f:]{17}, VLAN 300, private VLAN 301, DVPG-PVLAN300-301\)$/);
    await expect.poll(() => nic.locator('select option:checked').innerText()).toBe('DVPG-PVLAN300-301 (L2, VLAN 300, private VLAN 301)');
    expect(await nic.locator('select option').allInnerTexts()).toContain('plain-300 (L2, VLAN 300)');
    expect(await nic.innerText()).toContain('Matched by VLAN 300, private VLAN 301');
    expect(await nic.getByRole('button').count()).toBe(0);
    expect(await zoneNetworks()).toEqual(['DVPG-PVLAN300-301 L2 300 301 isolated', 'plain-300 L2 300 - -']);
    await ui.shot('import-pvlan-nic-created');
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  }, 60_000);

  it('the discovery dialog lists private-VLAN portgroups with primary and secondary VLAN and creates the missing pair', async () => {
    const { page, ui, fresh } = s;
    // Back to the wizard's first step, where the dialog is offered.
    await page.getByRole('navigation', { name: 'Import steps' }).getByRole('button', { name: /^1 Cluster/ }).click();
    await page.getByRole('heading', { name: '1. Cluster' }).waitFor();
    await page.getByRole('button', { name: 'Discover its networks' }).click();
    const dialog = page.getByRole('form', { name: "Discover an endpoint's networks" });
    await dialog.waitFor();
    await dialog.getByRole('textbox', { name: 'Endpoint URL' }).fill(`https://${fresh.info.host}:${fresh.info.port}/DC0`);
    await dialog.getByRole('textbox', { name: 'Username' }).fill(fresh.info.username);
    await dialog.getByLabel('Password').fill(fresh.info.password);
    await dialog.getByRole('button', { name: 'Check certificate' }).click();
    await expect.poll(() => dialog.locator('.fingerprint').innerText()).toBe(fresh.info.thumbprint);
    await dialog.getByRole('checkbox', { name: /The thumbprint matches/ }).check();
    await dialog.getByRole('button', { name: 'Discover networks' }).click();

    const found = page.getByRole('table', { name: 'Discovered networks' });
    await found.waitFor();
    await page.getByRole('combobox', { name: 'Zone for new networks' }).selectOption({ label: 'vSphere' });
    await expect.poll(() => found.locator('th').last().innerText()).toBe('In Kiln (vSphere)');
    const cells = async () => (await found.locator('tbody tr').allInnerTexts()).map((r) => r.split('\t')).map((r) => [r[2], r[4], r[5], r[6]]).sort((a, b) => a[0]!.localeCompare(b[0]!));
    // Portgroup, VLAN (primary, then the secondary), VMs, and the zone's network for that pair.
    await expect.poll(cells).toEqual([
      ['DVPG-PVLAN300-301', '300 (private 301)', 'pv-app', 'DVPG-PVLAN300-301'],
      ['DVPG-PVLAN300-303', '300 (private 303)', 'pv-db', 'Missing'],
    ]);
    expect(await found.locator('tr[data-missing]').allInnerTexts()).toEqual([expect.stringContaining('DVPG-PVLAN300-303')]);
    await found.scrollIntoViewIfNeeded();
    await ui.shot('import-pvlan-discovered');

    await page.getByRole('button', { name: 'Create 1 missing network' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Created ' }).innerText()).toBe('Created DVPG-PVLAN300-303 (VLAN 300, private VLAN 303).');
    await expect.poll(cells).toEqual([
      ['DVPG-PVLAN300-301', '300 (private 301)', 'pv-app', 'DVPG-PVLAN300-301'],
      ['DVPG-PVLAN300-303', '300 (private 303)', 'pv-db', 'DVPG-PVLAN300-303'],
    ]);
    expect(await page.getByRole('button', { name: 'No network missing' }).isDisabled()).toBe(true);
    expect(await zoneNetworks()).toEqual(['DVPG-PVLAN300-301 L2 300 301 isolated', 'DVPG-PVLAN300-303 L2 300 303 isolated', 'plain-300 L2 300 - -']);
    await page.getByRole('button', { name: 'No network missing' }).scrollIntoViewIfNeeded();
    await ui.shot('import-pvlan-discovered-created');
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  }, 60_000);
});
