/**
 * The import wizard (R51) in Chromium against `kiln serve` on the simulator zone. Five VMs are
 * made on sim-host-1 outside Kiln (the simulator's addUnmanagedVm test hook, on the serve
 * process's own state file while it is stopped): the wizard lists them with the importable /
 * why-not column, filters them, pre-fills the NIC on VLAN 100 with Demo L2 and flags the NIC on
 * VLAN 200 (none matches; Demo L2 is then refused as VLAN 100), pre-fills the offerings (a
 * custom one with the VM's own size for a VM no fixed offering matches) and the data disk's
 * offering, refuses a VM name that is no hostname by the engine's listApis rule until one is
 * given, and imports four VMs, one job each, with a result per VM: three are imported and then in
 * the VM list; the fourth, which another admin imported meanwhile, fails with the engine's 431.
 * Then Export CSV and Import from CSV (helper H's commands) with their row-by-row results. The VM
 * whose OS (Plan 9) maps onto no guest OS of Kiln's can be chosen all along: the offerings step asks
 * for its template, and with one it is imported, a Kiln VM with the template's OS.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { goTo, one, openUi, vmRow, waitJob, type UiSession } from './ui-helpers.js';

const GiB = 1024 ** 3;
let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-ui-import-'));

function spec(name: string, mac: string, extra: Partial<VmSpec>): VmSpec {
  return {
    internalName: name, displayName: name, uuid: `${mac.replace(/:/g, '').slice(-8)}-1111-2222-3333-444455556666`,
    cpuNumber: 1, cpuSpeedMhz: 2000, memoryMiB: 512,
    disks: [{ name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' }],
    nics: [{ macAddress: mac, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
    details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    ...extra,
  };
}

describe('import wizard in Chromium', () => {
  beforeAll(async () => {
    // The first start makes the demo zone and the simulator's state file; the VMs made outside Kiln go into that file.
    await (await startKiln({ dataDir })).stop();
    const sim = new SimulatorDriver({ stateFile: join(dataDir, 'simulator.json') });
    sim.addUnmanagedVm('sim-host-1', spec('legacy-web', '52:54:00:e1:00:01', {
      cpuNumber: 2, memoryMiB: 2048,
      disks: [
        { name: 'legacy-web-root.qcow2', sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' },
        { name: 'legacy-web-data.qcow2', sizeBytes: 5 * GiB, device: 'disk', bus: 'virtio' },
      ],
      nics: [
        { macAddress: '52:54:00:e1:00:01', network: 'vlan100', vlan: 100, adapterType: 'virtio' },
        { macAddress: '52:54:00:e1:00:02', network: 'vlan200', vlan: 200, adapterType: 'virtio' },
      ],
    }), { power: 'Running' });
    sim.addUnmanagedVm('sim-host-1', spec('batch-1', '52:54:00:e1:00:11', {}));
    sim.addUnmanagedVm('sim-host-1', spec('race-1', '52:54:00:e1:00:31', {}));
    sim.addUnmanagedVm('sim-host-1', spec('Lab_box', '52:54:00:e1:00:41', {}));
    sim.addUnmanagedVm('sim-host-1', spec('old-router', '52:54:00:e1:00:21', { details: { osDisplayName: 'Plan 9' } }));
    kiln = await startKiln({ dataDir });
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    // An untagged L2 network: the one a NIC on VLAN 200 may be mapped to by hand.
    const zoneid = (await one<{ id: string }>(ui, 'listZones', 'zone', { name: 'Demo' })).id;
    expect((await ui.api('createNetwork', { name: 'Lab untagged', zoneid, guestiptype: 'L2' }))['network']).toBeDefined();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists, maps and imports four VMs, a result each (one fails: imported meanwhile); the imported ones are then in the VM list', async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Import VMs' }).click();
    await page.getByRole('heading', { name: 'Import virtual machines', level: 1 }).waitFor();
    await expect.poll(() => page.getByRole('combobox', { name: 'Cluster' }).inputValue()).not.toBe('');
    await page.getByRole('button', { name: 'Next' }).click();

    // 2. The unmanaged VMs with the importable / why-not column; the demo VMs Kiln manages are not there.
    const table = page.getByRole('table', { name: 'Unmanaged VMs' });
    await table.waitFor();
    const rows = table.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(5);
    const row = (name: string) => rows.filter({ has: page.getByRole('cell', { name, exact: true }) });
    expect(await row('legacy-web').innerText()).toMatch(/legacy-web\s+Running\s+Debian GNU\/Linux 12 \(64-bit\)\s+2 vCPU, 2048 MB\s+2\s+VLAN 100, VLAN 200\s+Yes/);
    expect(await row('old-router').innerText()).toContain(`With a template (chosen in the Offerings step): VM old-router: no guest OS in Kiln's list matches "Plan 9"; give templateid to import it`);
    // Not importable as listed, but a template answers that: it can be chosen (and is, in the next case).
    expect(await page.getByRole('checkbox', { name: 'Select old-router' }).isDisabled()).toBe(false);
    await ui.shot('import-list-light');
    // Filterable.
    await page.getByLabel('Filter').fill('batch');
    await expect.poll(() => rows.allInnerTexts()).toEqual([expect.stringContaining('batch-1')]);
    await page.getByLabel('Filter').fill('');
    // Nothing selected: Next is off, and says why beside it before any click.
    const next = page.getByRole('button', { name: 'Next' });
    expect(await next.isDisabled()).toBe(true);
    expect(await page.locator('.wizard-next-blocked').innerText()).toBe('Select at least one VM to import.');
    await page.getByRole('checkbox', { name: 'Select legacy-web' }).check();
    expect(await next.isDisabled()).toBe(false);
    expect(await page.locator('.wizard-next-blocked').count()).toBe(0);
    await page.getByRole('checkbox', { name: 'Select batch-1' }).check();
    await page.getByRole('checkbox', { name: 'Select race-1' }).check();
    await page.getByRole('checkbox', { name: 'Select Lab_box' }).check();
    await page.getByRole('button', { name: 'Next' }).click();

    // 4. NICs: VLAN 100 pre-filled with Demo L2; VLAN 200 matches nothing and is flagged.
    await page.getByRole('heading', { name: '3. Networks' }).waitFor();
    const nic1 = page.getByLabel('nic0 (52:54:00:e1:00:01, VLAN 100, vlan100)');
    await expect.poll(async () => (await nic1.locator('option:checked').innerText())).toBe('Demo L2 (L2, VLAN 100)');
    const nic2 = page.getByLabel('nic1 (52:54:00:e1:00:02, VLAN 200, vlan200)');
    expect(await nic2.inputValue()).toBe('');
    const nic2Row = page.locator('[data-nic="legacy-web/nic1"]');
    expect(await nic2Row.innerText()).toContain('no L2 or shared network of the zone is on its VLAN; choose a network');
    expect(await page.locator('[data-nic="legacy-web/nic0"]').innerText()).toContain('Matched by VLAN 100');
    await nic2.selectOption({ label: 'Demo L2 (L2, VLAN 100)' });
    expect(await nic2Row.innerText()).toContain('network Demo L2 is on VLAN 100, not 200');
    await ui.shot('import-networks-mismatch-light');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('NIC nic1 of legacy-web (VLAN 200, on vlan200): network Demo L2 is on VLAN 100, not 200.');
    await nic2.selectOption({ label: 'Lab untagged (L2)' });
    await page.getByRole('button', { name: 'Next' }).click();

    // 5. Offerings: batch-1 (1 vCPU, 512 MB) gets Small Instance; legacy-web, which none fits, Custom with its own size and CPU speed.
    await page.getByRole('heading', { name: '4. Offerings' }).waitFor();
    expect(await page.getByLabel('Service offering for batch-1').locator('option:checked').innerText()).toBe('Small Instance (1 vCPU, 512 MB)');
    expect(await page.getByLabel('Service offering for legacy-web').locator('option:checked').innerText()).toBe('Custom (custom)');
    expect(await page.locator('[data-size-from-vm]').innerText()).toContain('2 vCPU and 2048 MB, from the VM');
    expect(await page.getByLabel('CPU speed (MHz) of legacy-web').inputValue()).toBe('2000');
    await ui.shot('import-offerings-light');
    await page.getByRole('button', { name: 'Next' }).click();

    // 6. The data disk (5 GB) gets the smallest fixed disk offering that holds it.
    await page.getByRole('heading', { name: '5. Data disks' }).waitFor();
    const disk = page.getByLabel('Disk legacy-web-data.qcow2 (5.0 GiB) of legacy-web');
    expect(await disk.locator('option:checked').innerText()).toBe('Small (5.0 GiB)');
    await page.getByRole('button', { name: 'Next' }).click();

    // 7. Review.
    const review = page.getByRole('table', { name: 'Import review' });
    await review.waitFor();
    const reviewText = await review.innerText();
    // No template column entry: their OS maps, so none is asked for.
    expect(reviewText).toMatch(/legacy-web[\s\S]*nic0 → Demo L2, nic1 → Lab untagged\s+Custom\s+—\s+legacy-web-data\.qcow2 → Small/);
    expect(reviewText).toMatch(/batch-1[\s\S]*nic0 → Demo L2\s+Small Instance\s+—\s+—/);
    // Lab_box is no valid hostname: the engine's own rule (listApis) refuses it before any job; a hostname is given.
    await page.getByRole('button', { name: 'Import 4 VMs' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Lab_box: hostname: "Lab_box" is not a valid hostname: at most 63 characters of letters, digits and hyphens');
    await ui.shot('import-review-light');
    await page.getByLabel('Hostname of Lab_box').fill('lab-box');

    // Meanwhile another admin imports race-1 through the API: the wizard's job for it fails, the others do not.
    const clusterid = (await one<{ id: string }>(ui, 'listClusters', 'cluster')).id;
    const small = (await one<{ id: string }>(ui, 'listServiceOfferings', 'serviceoffering', { name: 'Small Instance' })).id;
    const other = await ui.api('importUnmanagedInstance', { clusterid, name: 'race-1', serviceofferingid: small });
    expect((await waitJob(ui, String(other['jobid'])))['jobstatus']).toBe(1);

    // 8. One job per VM, a result per VM.
    await page.getByRole('button', { name: 'Import 4 VMs' }).click();
    const results = page.getByRole('table', { name: 'Import results' });
    await results.waitFor();
    for (const name of ['legacy-web', 'batch-1', 'Lab_box']) {
      const r = results.locator('tbody tr').filter({ has: page.getByRole('cell', { name, exact: true }) });
      await expect.poll(() => r.getAttribute('data-result'), { timeout: 20_000 }).toBe('done');
      expect(await r.innerText()).toContain(`Imported Open ${name}`);
    }
    const race = results.locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'race-1', exact: true }) });
    await expect.poll(() => race.getAttribute('data-result')).toBe('failed');
    expect(await race.innerText()).toContain('Failed: 431: name: VM race-1 in cluster Demo Cluster is already managed by Kiln');
    expect(await results.innerText()).toContain('its console may not work until it is stopped and started through Kiln');
    await ui.shot('import-results-light');

    // The imported VMs are Kiln's now: in the VM list, and no longer unmanaged.
    await page.getByRole('link', { name: 'Back to the list' }).click();
    await expect.poll(() => vmRow(page, 'legacy-web').locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Running');
    await expect.poll(() => vmRow(page, 'batch-1').locator('[data-state]').getAttribute('data-state')).toBe('Stopped');
    expect((await one<{ hostname?: string; name: string }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'lab-box' })).name).toBe('lab-box');
    await ui.shot('import-vm-list-light');
    await goTo(ui, '#/import', 'Import virtual machines');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Unmanaged VMs' }).locator('tbody tr').allInnerTexts()).toEqual([expect.stringContaining('old-router')]);

    // Export CSV: the list as exportUnmanagedInstances writes it, downloaded.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toBe('unmanaged-Demo_Cluster.csv');
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.startsWith('\uFEFFname,')).toBe(true);
    expect(csv).toContain(`old-router,sim-host-1,PowerOff,Plan 9,1,512,false,"VM old-router: no guest OS in Kiln's list matches ""Plan 9""; give templateid to import it"`);
    // Import from CSV: one bulk job; a row per VM with its outcome.
    await page.getByLabel('CSV file to import').setInputFiles({ name: 'filled.csv', mimeType: 'text/csv', buffer: Buffer.from('name,serviceoffering\nold-router,Small Instance\nbatch-1,Small Instance\n') });
    const bulk = page.getByRole('table', { name: 'CSV import results' });
    await bulk.waitFor({ timeout: 15_000 });
    expect(await page.getByText(/^filled\.csv: /).innerText()).toBe('filled.csv: 0 imported, 1 skipped, 1 failed of 2.');
    expect(await bulk.locator('tbody tr').allInnerTexts()).toEqual([
      `2\told-router\tFailed: 431: templateid: VM old-router: no guest OS in Kiln's list matches "Plan 9"; give templateid to import it`,
      '3\tbatch-1\tSkipped: VM batch-1 is already managed by Kiln',
    ]);
    await ui.shot('import-csv-light');
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  }, 40_000);

  it('the VM whose OS Kiln cannot map gets a template in the offerings step (the same step as for any hypervisor) and is imported with its OS', async () => {
    const { page } = ui;
    await goTo(ui, '#/import', 'Import virtual machines');
    // The wizard may open on Select VMs (it keeps its cluster): there Next waits for a selection.
    const selectStep = page.getByRole('heading', { name: '2. Select VMs' });
    if (!(await selectStep.isVisible())) await page.getByRole('button', { name: 'Next' }).click();
    await selectStep.waitFor();
    await page.getByRole('checkbox', { name: 'Select old-router' }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '3. Networks' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '4. Offerings' }).waitFor();
    const template = page.getByRole('combobox', { name: 'Template for old-router' });
    await expect.poll(() => template.locator('option').allInnerTexts()).toEqual(['Choose…', 'Debian 12', 'Ubuntu 24.04', 'Rocky 9']);
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Choose a template for old-router: its OS "Plan 9" maps onto no guest OS of Kiln\'s, and the template\'s OS becomes the VM\'s.');
    await template.selectOption({ label: 'Rocky 9' });
    await ui.shot('import-template-light');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    expect(await page.getByRole('table', { name: 'Import review' }).locator('tbody tr').innerText()).toMatch(/old-router[\s\S]*Small Instance\s+Rocky 9\s+—/);
    await page.getByRole('button', { name: 'Import 1 VM' }).click();
    const result = page.getByRole('table', { name: 'Import results' }).locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'old-router', exact: true }) });
    await expect.poll(() => result.getAttribute('data-result'), { timeout: 20_000 }).toBe('done');
    const vm = await one<{ templatename: string; ostypeid: string }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'old-router' });
    const rocky = await one<{ id: string }>(ui, 'listOsTypes', 'ostype', { description: 'Rocky Linux 9 (64-bit)' });
    expect([vm.templatename, vm.ostypeid]).toEqual(['Rocky 9', rocky.id]);
    await page.getByRole('link', { name: 'Back to the list' }).click();
    await expect.poll(() => vmRow(page, 'old-router').locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Stopped');
    expect(ui.pageErrors).toEqual([]);
  }, 40_000);
});
