/**
 * The import wizard's other source (listVmsForImport, importVm importsource=external) in Chromium
 * against `kiln serve` on the simulator zone: a simulated host Kiln does not manage (the
 * simulator's addExternalHost, on the serve process's own state file while it is stopped) with a
 * stopped and a running VM. The wizard offers "a host Kiln does not manage" for the hypervisors
 * whose driver can reach one (listHypervisorCapabilities' externalimport), and only the clusters
 * of that hypervisor to receive the copies; a host name that is none and a wrong password show the
 * engine's 431 and 534; then the host's VMs are listed with importable / why not, the stopped one
 * is mapped (its NIC pre-filled by VLAN) and imported: a stopped Kiln VM on Demo L2, while the
 * source VM is still on the host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { VmSpec } from '../../drivers/types.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { goTo, one, openUi, vmRow, type UiSession } from './ui-helpers.js';

const GiB = 1024 ** 3;
let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-ui-import-external-'));

const spec = (name: string, mac: string): VmSpec => ({
  internalName: name, displayName: name, uuid: `${mac.replace(/:/g, '').slice(-8)}-1111-2222-3333-444455556666`, cpuNumber: 1, cpuSpeedMhz: 2000, memoryMiB: 512,
  disks: [{ name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' }],
  nics: [{ macAddress: mac, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
  details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
});

describe('import wizard from a host Kiln does not manage (Chromium, simulator)', () => {
  beforeAll(async () => {
    await (await startKiln({ dataDir })).stop();
    const sim = new SimulatorDriver({ stateFile: join(dataDir, 'simulator.json') });
    sim.addExternalHost('old-kvm', 's3cret');
    sim.addUnmanagedVm('old-kvm', spec('ext-web', '52:54:00:ee:00:01'));
    sim.addUnmanagedVm('old-kvm', spec('ext-busy', '52:54:00:ee:00:02'), { power: 'Running' });
    kiln = await startKiln({ dataDir });
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists the host\'s VMs after the engine\'s refusals, imports the stopped one onto the cluster, and leaves the source', async () => {
    const { page } = ui;
    page.setDefaultTimeout(10_000);
    await goTo(ui, '#/import', 'Import virtual machines');
    const source = page.getByRole('radiogroup', { name: 'Import from' });
    // One choice per driver that can reach a host Kiln does not manage, from listHypervisorCapabilities.
    const caps = (await ui.api('listHypervisorCapabilities'))['hypervisorCapabilities'] as { hypervisor: string; externalimport: boolean }[];
    const able = caps.filter((c) => c.externalimport).map((c) => c.hypervisor).sort();
    expect(able).toContain('Simulator');
    expect(able).not.toContain('VMware');
    await expect.poll(async () => (await source.getByRole('radio').count())).toBe(1 + able.length);
    expect(await source.innerText()).toContain('A cluster of Kiln');
    await source.getByRole('radio', { name: /A Simulator host Kiln does not manage/ }).check();
    const target = page.getByRole('combobox', { name: 'Cluster that receives the copies' });
    await expect.poll(() => target.locator('option:checked').innerText()).toBe('Demo Cluster (pod Demo Pod)');
    const fields = page.getByRole('group', { name: 'Host Kiln does not manage' });
    // Not complete yet: no host, no password.
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('Give the host name or IP address of the host to import from.');

    // A host name that is none: the engine's 431, on the VM step.
    await fields.getByRole('textbox', { name: 'Host', exact: true }).fill('old-kvm;reboot');
    await fields.getByLabel('Password', { exact: true }).fill('s3cret');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('431: host: "old-kvm;reboot" is not a host name or an IP address');
    await page.getByRole('button', { name: 'Back' }).click();
    await fields.getByRole('textbox', { name: 'Host', exact: true }).fill('old-kvm');
    await fields.getByLabel('Password', { exact: true }).fill('wrong');
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('534: host: old-kvm: old-kvm: All configured authentication methods failed');
    await ui.shot('import-external-refused');
    await page.getByRole('button', { name: 'Back' }).click();
    await fields.getByLabel('Password', { exact: true }).fill('s3cret');
    await page.getByRole('button', { name: 'Next' }).click();

    const table = page.getByRole('table', { name: 'Unmanaged VMs' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    const row = (name: string) => table.locator('tbody tr').filter({ has: page.getByRole('cell', { name, exact: true }) });
    expect(await row('ext-web').innerText()).toMatch(/ext-web\s+Stopped\s+Debian GNU\/Linux 12 \(64-bit\)\s+1 vCPU, 512 MB\s+1\s+VLAN 100\s+Yes/);
    expect(await row('ext-busy').innerText()).toContain('No: VM ext-busy is running on old-kvm; shut it down there first, its disks are copied while it is off');
    expect(await page.getByRole('checkbox', { name: 'Select ext-busy' }).isDisabled()).toBe(true);
    // The CSV bulk is a cluster's: not offered for a host Kiln does not manage.
    expect(await page.getByRole('button', { name: 'Export CSV' }).count()).toBe(0);
    await ui.shot('import-external-list');
    await page.getByRole('checkbox', { name: 'Select ext-web' }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '3. Networks' }).waitFor();
    const nic = page.locator('[data-nic="ext-web/nic0"]');
    await expect.poll(() => nic.locator('select option:checked').innerText()).toBe('Demo L2 (L2, VLAN 100)');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '4. Offerings' }).waitFor();
    expect(await page.getByLabel('Service offering for ext-web').locator('option:checked').innerText()).toBe('Small Instance (1 vCPU, 512 MB)');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    const review = page.getByRole('table', { name: 'Import review' });
    expect(await review.innerText()).toMatch(/ext-web[\s\S]*nic0 → Demo L2\s+Small Instance/);
    await page.getByRole('button', { name: 'Import 1 VM' }).click();

    const results = page.getByRole('table', { name: 'Import results' });
    const r = results.locator('tbody tr').filter({ has: page.getByRole('cell', { name: 'ext-web', exact: true }) });
    await expect.poll(() => r.getAttribute('data-result'), { timeout: 20_000 }).toBe('done');
    expect(await r.innerText()).toContain('Imported Open ext-web');
    await ui.shot('import-external-results');

    // An ordinary stopped Kiln VM on Demo L2 with the source's MAC; the source VM is still on the host.
    const vm = await one<{ state: string; nic: { networkname: string; macaddress: string }[] }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'ext-web' });
    expect([vm.state, vm.nic.map((n) => [n.networkname, n.macaddress])]).toEqual(['Stopped', [['Demo L2', '52:54:00:ee:00:01']]]);
    await page.getByRole('link', { name: 'Back to the list' }).click();
    await expect.poll(() => vmRow(page, 'ext-web').locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('Stopped');
    const zoneid = (await one<{ id: string }>(ui, 'listZones', 'zone', { name: 'Demo' })).id;
    const still = (await ui.api('listVmsForImport', { zoneid, hypervisor: 'Simulator', host: 'old-kvm', password: 's3cret' }))['unmanagedinstance'] as { name: string }[];
    expect(still.map((v) => v.name).sort()).toEqual(['ext-busy', 'ext-web']);
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  }, 60_000);
});
