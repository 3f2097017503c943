/**
 * N−1 headroom on the Hosts page in Chromium against `kiln serve` (R14). The demo cluster's three
 * simulated hosts get a per-host VM limit of 2 (the cluster's cluster.max.guests.per.host), and
 * five VMs are placed on chosen hosts (2, 2, 1): 5 > (3−1)·2 = 4, and losing the busiest host
 * strands one of its VMs. The page must show the figures, the engine's two warnings, and for each
 * host picked in "If this host failed" the VMs that would not fit; raising the hypervisor's
 * maxguestslimit (updateHypervisorCapabilities) does not matter while the cluster's own limit is
 * set, and clearing that gives the headroom back.
 */
import { describe, expect, it } from 'vitest';
import { demoCatalog, goTo, serveUiSuite, waitJob, type UiSession } from './ui-helpers.js';

let ui: UiSession;

describe('N−1 headroom on the hosts page in Chromium', () => {
  serveUiSuite((suite) => {
    ui = suite.ui;
  });

  it('shows the headroom, the warnings and the VMs a failed host would strand', async () => {
    const { page } = ui;
    const hosts = ((await ui.api('listHosts'))['host'] as { id: string; name: string }[]).sort((a, b) => a.name.localeCompare(b.name));
    const cluster = ((await ui.api('listClusters'))['cluster'] as { id: string; name: string }[])[0]!;
    // The demo VMs are stopped so the test decides where every running VM is.
    for (const vm of (await ui.api('listVirtualMachines', { state: 'Running' }))['virtualmachine'] as { id: string }[]) {
      expect((await waitJob(ui, String((await ui.api('stopVirtualMachine', { id: vm.id, forced: 'true' }))['jobid'])))['jobstatus']).toBe(1);
    }
    expect(await ui.api('updateConfiguration', { name: 'cluster.max.guests.per.host', value: '2', clusterid: cluster.id })).toHaveProperty('configuration');
    const catalog = await demoCatalog(ui);
    for (const [name, host] of [['web-a', 0], ['web-b', 0], ['web-c', 1], ['web-d', 1], ['web-e', 2]] as const) {
      const job = await ui.api('deployVirtualMachine', { ...catalog, name, hostid: hosts[host]!.id });
      expect((await waitJob(ui, String(job['jobid'])))['jobstatus']).toBe(1);
    }

    await goTo(ui, '#/hosts', 'Hosts');
    const card = page.getByRole('article', { name: new RegExp(`^${cluster.name}`) });
    await expect.poll(() => card.innerText()).toMatch(/no N−1 headroom/);
    const figures = await card.locator('.headroom-figures').innerText();
    expect(figures).toMatch(/Usable hosts \(N\)\s+3/);
    expect(figures).toMatch(/VMs per host \(L\)\s+2 \(this cluster’s cluster\.max\.guests\.per\.host\)/);
    expect(figures).toMatch(/Running VMs\s+5 of at most \(N−1\)·L = 4/);
    expect(figures).toMatch(/Headroom\s+1 VM over/);
    const warning = page.getByRole('alert', { name: `Headroom warning for ${cluster.name}` });
    expect(await warning.innerText()).toBe(
      `${cluster.name} runs 5 VMs, more than (N−1)·L = (3−1)·2 = 4: if one host fails, its VMs cannot all restart on the others.\n\n` +
        `${cluster.name} cannot absorb its largest host: if ${hosts[0]!.name} (2 VMs) failed, 1 could not restart elsewhere: web-b.`,
    );

    // The busiest host is chosen first: web-b would not fit (web-a takes the last free slot).
    const picker = card.getByRole('combobox', { name: `Failed host in ${cluster.name}` });
    expect(await picker.inputValue()).toBe(hosts[0]!.id);
    const stranded = (host: string) => card.getByRole('table', { name: `VMs that would not fit if ${host} failed` });
    expect(await stranded(hosts[0]!.name).locator('tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/^web-b\s+.*VM limit: runs 2 of at most 2 VMs per host/)]);
    await card.scrollIntoViewIfNeeded();
    await ui.shot('hosts-headroom-lost');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await ui.shot('hosts-headroom-lost-dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();

    await picker.selectOption(hosts[2]!.id);
    expect(await stranded(hosts[2]!.name).locator('tbody tr td:first-child').allInnerTexts()).toEqual(['web-e']);
    await picker.selectOption(hosts[1]!.id);
    expect(await stranded(hosts[1]!.name).locator('tbody tr td:first-child').allInnerTexts()).toEqual(['web-d']);
    await ui.shot('hosts-headroom-host2');

    // A VM less gives the headroom back: 4 VMs fit (3−1)·2, and any host's VMs restart elsewhere.
    const webE = ((await ui.api('listVirtualMachines', { name: 'web-e' }))['virtualmachine'] as { id: string }[])[0]!;
    expect((await waitJob(ui, String((await ui.api('stopVirtualMachine', { id: webE.id, forced: 'true' }))['jobid'])))['jobstatus']).toBe(1);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => card.innerText()).toMatch(/can lose one host/);
    expect(await page.getByRole('alert', { name: `Headroom warning for ${cluster.name}` }).count()).toBe(0);
    expect(await card.locator('.headroom-figures').innerText()).toMatch(/Running VMs\s+4 of at most \(N−1\)·L = 4/);
    await picker.selectOption(hosts[0]!.id);
    expect(await card.innerText()).toMatch(new RegExp(`All 2 VMs of ${hosts[0]!.name} would restart on the other hosts`));
    await ui.shot('hosts-headroom-ok');
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
