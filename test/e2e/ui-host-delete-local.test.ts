/**
 * Delete host… with VMs on the host's local storage, in Chromium against `kiln serve` on the
 * simulator zone. A Disabled simulator host with a local pool runs a VM whose root disk is on that
 * pool. The dialog reads that through the API and offers, unticked, "Also destroy and expunge the
 * VM with disks on this host's local storage: local-vm"; Delete without it shows the engine's 431
 * naming the volume and its VM in the dialog (nothing deleted); with it ticked (deleteHost
 * forcedestroylocalstorage=true) the dialog says the VM was destroyed and expunged, and the host
 * leaves the Hosts table and the VM the VM list (and the API's lists).
 */
import { describe, expect, it } from 'vitest';
import { demoCatalog, goTo, one, serveUiSuite, vmRow, waitJob, type UiSession } from './ui-helpers.js';

let ui: UiSession;

const done = async (command: string, params: Record<string, string>) => {
  const job = await waitJob(ui, String((await ui.api(command, params))['jobid']));
  expect(job['jobstatus'], `${command}: ${JSON.stringify(job['jobresult'])}`).toBe(1);
  return job['jobresult'] as Record<string, Record<string, unknown>>;
};

describe('Delete host with VMs on its local storage', () => {
  serveUiSuite((suite) => {
    ui = suite.ui;
  }, { timeoutMs: 60_000 });

  it('offers forcedestroylocalstorage by the VM\'s name, shows the refusal without it, and with it the host and the VM are gone', { timeout: 120_000 }, async () => {
    const { page } = ui;
    const demo = await demoCatalog(ui);
    const pod = (await ui.api('createPod', { zoneid: demo.zoneid, name: 'Local Pod' }))['pod'] as { id: string };
    const cluster = (await ui.api('addCluster', { zoneid: demo.zoneid, podid: pod.id, clustername: 'Local Cluster', hypervisor: 'Simulator' }))['cluster'] as { id: string }[];
    const clusterId = (Array.isArray(cluster) ? cluster[0]! : (cluster as unknown as { id: string })).id;
    await ui.api('addHost', { zoneid: demo.zoneid, podid: pod.id, clusterid: clusterId, hypervisor: 'Simulator', url: 'simulator://local-host?memory=8192&localpools=local-host-local', username: 'root', password: 'x' });
    const host = await one<{ id: string }>(ui, 'listHosts', 'host', { name: 'local-host' });
    await ui.api('listStoragePools', { clusterid: clusterId });
    const pool = await one<{ id: string }>(ui, 'listStoragePools', 'storagepool', { name: 'local-host-local' });
    // A VM running on the host with its root disk on the host's local pool.
    const vm = ((await done('deployVirtualMachine', { ...demo, name: 'local-vm', hostid: host.id }))['virtualmachine'] as { id: string }).id;
    await done('stopVirtualMachine', { id: vm });
    const root = await one<{ id: string; name: string }>(ui, 'listVolumes', 'volume', { virtualmachineid: vm, type: 'ROOT' });
    await done('migrateVolume', { volumeid: root.id, storageid: pool.id });
    await done('startVirtualMachine', { id: vm, hostid: host.id });
    await ui.api('updateHost', { id: host.id, allocationstate: 'Disable' });

    await goTo(ui, '#/vms', 'Virtual machines');
    await expect.poll(() => vmRow(page, 'local-vm').count(), { timeout: 10_000 }).toBe(1);
    await goTo(ui, '#/hosts', 'Hosts');
    await page.reload();
    const row = page.locator('tr[data-host="local-host"]');
    await row.waitFor();
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain('Disabled');
    await page.getByRole('button', { name: 'Delete host local-host' }).click();
    const dialog = page.getByRole('dialog');
    const box = dialog.getByRole('checkbox', { name: "Also destroy and expunge the VM with disks on this host's local storage: local-vm" });
    await box.waitFor();
    expect(await box.isChecked()).toBe(false);
    await page.screenshot({ path: 'test-results/screenshots/host-delete-local-offered.png' });

    // Without the box: the engine's refusal, in the dialog; nothing deleted.
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    const refusal = dialog.getByRole('alert');
    await expect.poll(() => refusal.textContent(), { timeout: 10_000 }).toBe(
      `Delete host local-host: 431: id: host local-host cannot be deleted: it still has 1 volume (${root.name}) of VM local-vm on its local storage; give forcedestroylocalstorage=true to destroy and expunge that VM with the host`,
    );
    expect(await dialog.getByRole('note').textContent()).toBe('The box above sends forcedestroylocalstorage=true: tick it to destroy and expunge them with the host.');
    await page.screenshot({ path: 'test-results/screenshots/host-delete-local-refused.png' });
    expect((await ui.api('listVirtualMachines', { id: vm }))['virtualmachine']).toHaveLength(1);
    expect(await row.count()).toBe(1);

    // With the box: the VM destroyed and expunged, then the host deleted.
    await box.check();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').textContent(), { timeout: 30_000 }).toBe('Host local-host was deleted.');
    expect(await dialog.locator('li[data-vm="local-vm"]').textContent()).toBe('VM local-vm: destroyed and expunged');
    expect(await dialog.textContent()).toContain('Event: host local-host deleted; VM local-vm on its local storage destroyed and expunged (forcedestroylocalstorage)');
    await page.screenshot({ path: 'test-results/screenshots/host-delete-local-done.png' });
    await dialog.getByRole('button', { name: 'Close', exact: true }).last().click();
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
    await page.screenshot({ path: 'test-results/screenshots/host-delete-local-hosts.png' });
    expect((await ui.api('listHosts', { name: 'local-host' }))['host']).toBeUndefined();

    await goTo(ui, '#/vms', 'Virtual machines');
    await page.getByRole('table', { name: 'Virtual machines' }).waitFor();
    await expect.poll(() => vmRow(page, 'local-vm').count(), { timeout: 10_000 }).toBe(0);
    await page.screenshot({ path: 'test-results/screenshots/host-delete-local-vms.png' });
    expect((await ui.api('listVirtualMachines', { id: vm }))['virtualmachine']).toBeUndefined();
    expect(ui.pageErrors).toEqual([]);
  });
});
