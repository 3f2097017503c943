/**
 * Zones, pods and clusters changed and deleted, in Chromium against `kiln serve` on the simulator
 * zone. Another client (Debian's `cloudstack`, signed) renames a pod, disables a cluster and deletes
 * a zone: each shows in the Hosts page's "Zones, pods and clusters" from the live socket ('updated'
 * and 'removed' records), with no list request from the page (counted from playwright's request
 * events). Then the page's own actions, offered from listApis: a delete of an empty pod works, a
 * delete of a pod with a cluster shows the engine's 431 naming the cluster, a rename is checked
 * against the published length of clustername before the call, and a zone is disabled and enabled
 * again; none of them makes the page read a list again.
 */
import { describe, expect, it } from 'vitest';
import type { KilnProcess } from '../helpers/server.js';
import { csClient } from '../helpers/cs-client.js';
import { CommandCounter, goTo, infraRows, serveUiSuite, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let ui: UiSession;
const cs = csClient(() => kiln);
let counter: CommandCounter;

const ok = async (args: string[]) => {
  const r = await cs(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr} ${JSON.stringify(r.json)}`).toBe(0);
  return r.json;
};

describe('zones, pods and clusters: updates and deletes', () => {
  serveUiSuite((suite) => {
    kiln = suite.kiln;
    ui = suite.ui;
    counter = new CommandCounter(ui.page);
  }, { timeoutMs: 60_000 });

  it('follows an update and a delete by another client, and deletes, refuses, renames and disables from the page, with no list request', async () => {
    const { page } = ui;
    const rows = () => infraRows(page);
    const zone = (await ok(['createZone', 'name=Edit Zone']))['zone'] as { id: string };
    const empty = (await ok(['createPod', `zoneid=${zone.id}`, 'name=Empty Pod']))['pod'] as { id: string };
    const busy = (await ok(['createPod', `zoneid=${zone.id}`, 'name=Busy Pod']))['pod'] as { id: string };
    const cluster = (await ok(['addCluster', `zoneid=${zone.id}`, `podid=${busy.id}`, 'clustername=Busy Cluster', 'hypervisor=KVM']))['cluster'] as { id: string };
    const doomed = (await ok(['createZone', 'name=Doomed Zone']))['zone'] as { id: string };

    await goTo(ui, '#/hosts', 'Hosts');
    await page.reload();
    await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
    await expect.poll(rows).toContain('Edit Zone | Busy Pod | Busy Cluster | KVM | 0');
    await expect.poll(rows).toContain('Doomed Zone | no pod yet |  |  |');
    await page.waitForTimeout(500);
    counter.clear();

    // Another client: a rename, a disable and a delete, each on its live channel.
    await ok(['updatePod', `id=${empty.id}`, 'name=Renamed Pod']);
    await expect.poll(rows, { timeout: 10_000 }).toContain('Edit Zone | Renamed Pod | no cluster yet |  |');
    expect(await rows()).not.toContain('Edit Zone | Empty Pod | no cluster yet |  |');
    await ok(['updateCluster', `id=${cluster.id}`, 'allocationstate=Disabled']);
    const clusterActions = page.getByRole('group', { name: 'Actions for cluster Busy Cluster' });
    await expect.poll(() => clusterActions.getByRole('button', { name: 'Enable cluster Busy Cluster' }).count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByRole('table', { name: 'Zones, pods and clusters' }).locator('[data-state="Disabled"]').count()).toBe(1);
    await ok(['deleteZone', `id=${doomed.id}`]);
    await expect.poll(async () => (await rows()).some((r) => r.startsWith('Doomed Zone')), { timeout: 10_000 }).toBe(false);
    await ui.shot('infra-edits-by-cli');
    await page.waitForTimeout(500);
    expect(counter.lists(), 'list requests while another client changed zones, pods and clusters').toEqual([]);

    // The page: a delete of the empty pod.
    await page.getByRole('button', { name: 'Delete pod Renamed Pod' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('Delete pod Renamed Pod?');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await expect.poll(async () => (await rows()).some((r) => r.includes('Renamed Pod')), { timeout: 10_000 }).toBe(false);

    // A delete of the pod that still has a cluster: the engine's 431, and the pod stays.
    await page.getByRole('button', { name: 'Delete pod Busy Pod' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    const refusal = page.getByRole('region', { name: 'Zones, pods and clusters' }).getByRole('alert');
    await expect.poll(() => refusal.textContent(), { timeout: 10_000 }).toBe('Delete pod Busy Pod: 431: id: pod Busy Pod cannot be deleted: it still has 1 cluster (Busy Cluster)');
    expect(await rows()).toContain('Edit Zone | Busy Pod | Busy Cluster | KVM | 0');
    await ui.shot('infra-edits-delete-refused');

    // A rename, checked against clustername's published length before the call.
    await clusterActions.getByRole('button', { name: 'Rename cluster Busy Cluster' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rename cluster Busy Cluster' });
    const field = dialog.getByRole('textbox', { name: 'New cluster name' });
    await field.fill('x'.repeat(256));
    await expect.poll(() => dialog.textContent()).toContain('Parameter clustername is 256 characters long; the limit is 255');
    expect(await dialog.getByRole('button', { name: 'Rename' }).isDisabled()).toBe(true);
    await field.fill('Quiet Cluster');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await expect.poll(rows, { timeout: 10_000 }).toContain('Edit Zone | Busy Pod | Quiet Cluster | KVM | 0');

    // Disable the zone (asked first), then enable it again.
    await page.getByRole('button', { name: 'Disable zone Edit Zone' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toContain('Kiln places no new VM in it');
    await page.getByRole('dialog').getByRole('button', { name: 'Disable' }).click();
    const zoneActions = page.getByRole('group', { name: 'Actions for zone Edit Zone' });
    await expect.poll(() => zoneActions.getByRole('button', { name: 'Enable zone Edit Zone' }).count(), { timeout: 10_000 }).toBe(1);
    const zoneNow = (((await ok(['listZones', `id=${zone.id}`]))['zone']) as { allocationstate: string }[])[0]!;
    expect(zoneNow.allocationstate).toBe('Disabled');
    await ui.shot('infra-edits-zone-disabled');
    await zoneActions.getByRole('button', { name: 'Enable zone Edit Zone' }).click();
    await expect.poll(() => zoneActions.getByRole('button', { name: 'Disable zone Edit Zone' }).count(), { timeout: 10_000 }).toBe(1);

    await page.waitForTimeout(500);
    console.log(`hosts page during the edits: ${JSON.stringify(Object.fromEntries(counter.requests))}`);
    expect(counter.lists(), 'list requests after the page\'s own actions').toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
