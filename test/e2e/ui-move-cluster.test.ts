/**
 * "Move to another cluster…" of a stopped VM in Chromium against `kiln serve` on the simulator's
 * demo zone, whose one cluster holds the one storage pool: the dialog offers no pool of the VM's
 * own cluster (the engine refuses one with 431) and says there is none elsewhere, Move disabled.
 */
import { describe, expect, it } from 'vitest';
import type { KilnProcess } from '../helpers/server.js';
import { one, serveUiSuite, waitJob, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let ui: UiSession;

describe('moving a stopped VM to another cluster in Chromium', () => {
  serveUiSuite((suite) => {
    ({ kiln, ui } = suite);
  });

  it("offers no pool of the VM's own cluster and says so when no other cluster has one", async () => {
    const { page } = ui;
    const vm = await one<{ id: string; clusterid: string }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'demo-db' });
    await waitJob(ui, String((await ui.api('stopVirtualMachine', { id: vm.id }))['jobid']));
    const pools = (await ui.api('listStoragePools'))['storagepool'] as { name: string; clusterid?: string }[];
    // The demo zone's pools are all in demo-db's cluster: the engine would refuse each one.
    expect(pools.length).toBeGreaterThan(0);
    expect(pools.every((p) => p.clusterid === vm.clusterid)).toBe(true);

    await page.goto(new URL(`/#/vms/${vm.id}/overview`, kiln.apiUrl).toString());
    await page.getByRole('button', { name: 'Move to another cluster…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Move demo-db' });
    const select = dialog.getByRole('combobox', { name: 'Storage pool' });
    await dialog.getByText('No storage pool of another cluster in zone Demo: demo-db can only start in its own cluster.').waitFor();
    expect(await select.locator('option').allInnerTexts()).toEqual(['Choose…']);
    expect(await select.isDisabled()).toBe(true);
    expect(await dialog.getByRole('button', { name: 'Move', exact: true }).isDisabled()).toBe(true);
    await ui.shot('vm-move-cluster-none');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(ui.pageErrors).toEqual([]);
  });
});
