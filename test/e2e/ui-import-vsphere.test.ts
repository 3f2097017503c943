/**
 * The import wizard's missing networks (R51 step 4, R52) in Chromium against `kiln serve` and two
 * vcsims. The first is a vCenter cluster Kiln has (addCluster with its pinned thumbprint) holding
 * VMs made outside Kiln on VLAN portgroups: in the NIC step a NIC on VLAN 101, which no network of
 * the zone is on, is flagged and offered "Create network PG-VLAN101 on VLAN 101", which creates
 * it (createNetwork, L2, VLAN 101) and maps the NIC; a discovery CSV written by the real
 * `kiln discover-networks --format csv` against that vCenter creates the network of the other VM's
 * VLAN 102 and maps its NIC (a file with a bad VLAN is refused first, creating nothing); the two
 * VMs are imported with their NICs on those networks. The second vCenter is not added: the
 * discovery dialog reads its certificate, has it confirmed, lists its networks (cluster, host,
 * portgroup, switch, VLAN, VMs, and which the zone has) and creates the missing ones; its password
 * is in neither kiln serve's output nor any file of its data directory.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverNetworksCli } from '../../drivers/vsphere/discover-networks-cli.js';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { one } from './ui-helpers.js';
import { vsphereImportSuite } from './vsphere-import-ui.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('import wizard: networks from discovery (Chromium, vcsim)', () => {
  const s = vsphereImportSuite({
    flags: ['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0'],
    added: { flags: ['-pg-std', '2', '-pg-dv', '1'], vms: [{ name: 'legacy-web', nics: ['PG-VLAN101', 'DVPG-VLAN201'] }, { name: 'legacy-db', nics: ['PG-VLAN102'] }] },
    fresh: { flags: ['-pg-std', '3', '-pg-dv', '2'], vms: [{ name: 'new-app', nics: ['PG-VLAN103', 'DVPG-VLAN202'] }, { name: 'new-web', nics: ['PG-VLAN101'] }] },
    clustername: 'vc-cluster',
    seed: async ({ id, ids }) => {
      // VLAN 201 has a network already: that NIC is matched, not flagged.
      await id('createNetwork', { name: 'net-201', zoneid: ids['zone']!, guestiptype: 'L2', vlan: '201' }, 'network');
      // The VMs' size (1 vCPU, 64 MB): the offering step pre-fills this one.
      await id('createServiceOffering', { name: 'vmw-1x64', cpunumber: '1', cpuspeed: '500', memory: '64' }, 'serviceoffering');
    },
  });

  /** The zone's networks as the API lists them: name and VLAN. */
  const zoneNetworks = async () =>
    (((await s.ui.api('listNetworks', { zoneid: s.ids['zone']! }))['network'] as { name: string; vlan?: string; type: string }[] | undefined) ?? []).map((n) => `${n.name} ${n.type} ${n.vlan ?? '-'}`).sort();

  it('creates a flagged NIC\'s network from discovery, the rest from a discover-networks CSV, and imports with the NICs on them', async () => {
    const { page, ui, added } = s;
    await s.toNetworksStep(['legacy-web', 'legacy-db']);

    // VLAN 201 is matched; VLAN 101 and 102 have no network: flagged, each offered a network from discovery.
    const web0 = page.locator('[data-nic="legacy-web/nic0"]');
    const web1 = page.locator('[data-nic="legacy-web/nic1"]');
    const db0 = page.locator('[data-nic="legacy-db/nic0"]');
    await expect.poll(() => web1.innerText()).toContain('Matched by VLAN 201');
    expect(await web0.innerText()).toContain('NIC nic0 of legacy-web (VLAN 101, on PG-VLAN101): no L2 or shared network of the zone is on its VLAN; choose a network');
    expect(await db0.innerText()).toContain('Create network PG-VLAN102 on VLAN 102');
    expect(await web1.getByRole('button').count()).toBe(0);
    await ui.shot('import-vsphere-nic-flagged');
    const before = await zoneNetworks();
    expect(before).toEqual(['net-201 L2 201']);

    await web0.getByRole('button', { name: 'Create network PG-VLAN101 on VLAN 101' }).click();
    await expect.poll(() => web0.locator('select option:checked').innerText()).toBe('PG-VLAN101 (L2, VLAN 101)');
    expect(await web0.innerText()).toContain('Matched by VLAN 101');
    expect(await web0.getByRole('button').count()).toBe(0);
    expect(await zoneNetworks()).toEqual(['PG-VLAN101 L2 101', 'net-201 L2 201']);

    // A discovery CSV with a bad row is refused as a whole: nothing is created, the NIC stays flagged.
    const csvSection = page.getByRole('region', { name: 'Networks from a discovery CSV' });
    const csvInput = page.getByLabel('Discovery CSV file');
    await csvInput.setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('name,displaytext,vlan\nPG-VLAN102,PG-VLAN102,102\nPG-oops,PG-oops,5000\n') });
    await expect.poll(() => csvSection.getByRole('alert').innerText()).toBe('bad.csv was refused; no network was created: 431: csv: line 3, vlan: a VLAN id from 1 to 4094, not "5000"');
    expect(await zoneNetworks()).toEqual(['PG-VLAN101 L2 101', 'net-201 L2 201']);
    expect(await db0.innerText()).toContain('Create network PG-VLAN102 on VLAN 102');

    // The CSV the real CLI writes for this vCenter: the one missing network is created and legacy-db's NIC mapped to it.
    let csv = '';
    const code = await discoverNetworksCli(['-s', added.info.host, '-o', String(added.info.port), '-u', added.info.username, '--thumbprint', added.info.thumbprint, '--format', 'csv'], {
      out: (s) => (csv += s), err: () => undefined, env: { KILN_VSPHERE_PASSWORD: added.info.password },
    });
    expect(code).toBe(0);
    await csvInput.setInputFiles({ name: 'vc-networks.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await expect.poll(() => csvSection.getByRole('status').innerText()).toBe('vc-networks.csv: 1 created, 2 already in Kiln, of 3.');
    expect(await csvSection.getByRole('table', { name: 'Networks from the CSV' }).locator('tbody tr').allInnerTexts()).toEqual([
      '2\tDVPG-VLAN201\t201\tSkipped: network net-201 is already on VLAN 201',
      '3\tPG-VLAN101\t101\tSkipped: network PG-VLAN101 is already on VLAN 101',
      '4\tPG-VLAN102\t102\tCreated',
    ]);
    await expect.poll(() => db0.locator('select option:checked').innerText()).toBe('PG-VLAN102 (L2, VLAN 102)');
    expect(await db0.innerText()).toContain('Matched by VLAN 102');
    expect(await zoneNetworks()).toEqual(['PG-VLAN101 L2 101', 'PG-VLAN102 L2 102', 'net-201 L2 201']);
    await ui.shot('import-vsphere-networks-created');

    // On to the import: the offering is pre-filled (the VMs' own size), one disk each, the review names the networks.
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '4. Offerings' }).waitFor();
    expect(await page.getByLabel('Service offering for legacy-web').locator('option:checked').innerText()).toBe('vmw-1x64 (1 vCPU, 64 MB)');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '5. Data disks' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    const review = page.getByRole('table', { name: 'Import review' });
    await review.waitFor();
    expect(await review.innerText()).toMatch(/legacy-web[\s\S]*nic0 → PG-VLAN101, nic1 → net-201[\s\S]*legacy-db[\s\S]*nic0 → PG-VLAN102/);
    await page.getByRole('button', { name: 'Import 2 VMs' }).click();
    const results = page.getByRole('table', { name: 'Import results' });
    await results.waitFor();
    for (const name of ['legacy-web', 'legacy-db']) {
      const r = results.locator('tbody tr').filter({ has: page.getByRole('cell', { name, exact: true }) });
      await expect.poll(() => r.getAttribute('data-result'), { timeout: 30_000 }).toBe('done');
    }
    await ui.shot('import-vsphere-results');
    // The imported VMs' NICs are on the networks created from discovery, as Kiln records them.
    const nicsOf = async (name: string) => ((await one<{ nic: { networkname: string; macaddress: string }[] }>(ui, 'listVirtualMachines', 'virtualmachine', { name })).nic ?? []).map((n) => n.networkname);
    expect(await nicsOf('legacy-web')).toEqual(['PG-VLAN101', 'net-201']);
    expect(await nicsOf('legacy-db')).toEqual(['PG-VLAN102']);
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  }, 90_000);

  it('discovers a vCenter Kiln has not added: the certificate confirmed first, its networks listed, the missing ones created', async () => {
    const { page, ui, fresh, kiln } = s;
    // A fresh wizard (the last one shows its results until left).
    await page.getByRole('button', { name: 'Import more' }).click();
    await page.getByRole('heading', { name: '1. Cluster' }).waitFor();
    await page.getByRole('button', { name: 'Discover its networks' }).click();
    const dialog = page.getByRole('form', { name: "Discover an endpoint's networks" });
    await dialog.waitFor();
    // Only the drivers with the networkDiscovery facet are offered (listHypervisorCapabilities' networkdiscovery).
    const caps = (await ui.api('listHypervisorCapabilities'))['hypervisorCapabilities'] as { hypervisor: string; networkdiscovery: boolean }[];
    const able = caps.filter((c) => c.networkdiscovery).map((c) => c.hypervisor);
    expect(able).toEqual(['VMware']);
    // The dialog asks for them when it opens: wait for the answer (CI, loaded, read the options before it came).
    await expect.poll(async () => (await dialog.getByRole('combobox', { name: 'Hypervisor' }).locator('option').allInnerTexts()).slice(1)).toEqual(able);
    await dialog.getByRole('textbox', { name: 'Endpoint URL' }).fill(`https://${fresh.info.host}:${fresh.info.port}/DC0`);
    await dialog.getByRole('textbox', { name: 'Username' }).fill(fresh.info.username);
    await dialog.getByLabel('Password').fill('not-the-password');
    const discover = dialog.getByRole('button', { name: 'Discover networks' });
    expect(await discover.isDisabled()).toBe(true);
    await dialog.getByRole('button', { name: 'Check certificate' }).click();
    await expect.poll(() => dialog.locator('.fingerprint').innerText()).toBe(fresh.info.thumbprint);
    // Not confirmed: nothing is sent.
    expect(await discover.isDisabled()).toBe(true);
    await dialog.getByRole('checkbox', { name: /The thumbprint matches/ }).check();
    await discover.click();
    await expect.poll(() => dialog.getByRole('alert').innerText()).toMatch(/^Discovery failed: 431: .*(login|password)/i);
    await dialog.getByLabel('Password').fill(fresh.info.password);
    await discover.click();

    const found = page.getByRole('table', { name: 'Discovered networks' });
    await found.waitFor();
    // The wizard's cluster is the demo one: its zone has none of these VLANs. The networks go to the vSphere zone.
    expect(await found.locator('th').last().innerText()).toBe('In Kiln (Demo)');
    await page.getByRole('combobox', { name: 'Zone for new networks' }).selectOption({ label: 'vSphere' });
    await expect.poll(() => found.locator('th').last().innerText()).toBe('In Kiln (vSphere)');
    await expect.poll(async () => (await found.locator('tbody tr').allInnerTexts()).filter((r) => r.endsWith('\tPG-VLAN101')).length).toBe(1);
    const rows = (await found.locator('tbody tr').allInnerTexts()).map((r) => r.split('\t'));
    // Cluster, host, portgroup, switch, VLAN, VMs, and what the zone has for the VLAN (rows by cluster, host, portgroup).
    expect(rows.map((r) => r[1])).toEqual(rows.map((r) => r[1]).sort());
    expect(rows.every((r) => /^DC0_C0_H[01]$/.test(r[1]!))).toBe(true);
    expect(rows.map((r) => [r[0], r[2], r[3], r[4], r[5], r[6]]).sort((a, b) => a[1]!.localeCompare(b[1]!))).toEqual([
      ['DC0_C0', 'DVPG-VLAN202', expect.stringMatching(/^\S.* \(distributed\)$/), '202', 'new-app', 'Missing'],
      ['DC0_C0', 'PG-VLAN101', 'vSwitch0 (standard)', '101', 'new-web', 'PG-VLAN101'],
      ['DC0_C0', 'PG-VLAN103', 'vSwitch0 (standard)', '103', 'new-app', 'Missing'],
    ]);
    await found.scrollIntoViewIfNeeded();
    await ui.shot('import-vsphere-discovered');
    expect(await zoneNetworks()).toEqual(['PG-VLAN101 L2 101', 'PG-VLAN102 L2 102', 'net-201 L2 201']);

    await page.getByRole('button', { name: 'Create 2 missing networks' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Created ' }).innerText()).toBe('Created PG-VLAN103 (VLAN 103), DVPG-VLAN202 (VLAN 202).');
    await expect.poll(async () => (await found.locator('tbody tr').allInnerTexts()).map((r) => r.split('\t')[6])).not.toContain('Missing');
    expect(await page.getByRole('button', { name: 'No network missing' }).isDisabled()).toBe(true);
    expect(await zoneNetworks()).toEqual(['DVPG-VLAN202 L2 202', 'PG-VLAN101 L2 101', 'PG-VLAN102 L2 102', 'PG-VLAN103 L2 103', 'net-201 L2 201']);
    await page.getByRole('button', { name: 'No network missing' }).scrollIntoViewIfNeeded();
    await ui.shot('import-vsphere-discovered-created');
    // Nothing of the endpoint was added to Kiln.
    const vmwareHosts = ((await ui.api('listHosts', { hypervisor: 'VMware' }))['host'] as { clustername: string }[]).map((h) => h.clustername);
    expect(new Set(vmwareHosts)).toEqual(new Set(['vc-cluster']));
    // The password typed into the dialog is in neither kiln serve's output nor its data directory's files.
    expect(kiln.output()).not.toContain(fresh.info.password);
    const files = readdirSync(kiln.dataDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => join(f.parentPath, f.name));
    expect(files.some((f) => f.endsWith('kiln.db'))).toBe(true);
    for (const f of files) expect(readFileSync(f).toString('latin1'), f).not.toContain(fresh.info.password);
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  }, 60_000);
});
