/**
 * Issue 16 for zones, pods and clusters, in Chromium against `kiln serve` on the simulator zone:
 * while the hosts page is open, another client (Debian's `cloudstack`, signed) creates a zone, a
 * pod in it and a cluster in that pod, and each appears in the page's "Zones, pods and clusters"
 * table from the live socket ('zones', 'pods' and 'clusters' channels), without a refresh and
 * without the page reading any list again (its requests are counted from playwright's request
 * events; the test's own API calls go through page.request, which those events do not see).
 */
import { describe, expect, it } from 'vitest';
import type { KilnProcess } from '../helpers/server.js';
import { csClient } from '../helpers/cs-client.js';
import { CommandCounter, goTo, infraRows, serveUiSuite, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let ui: UiSession;
const cs = csClient(() => kiln);
/** The page's requests, by command. */
let counter: CommandCounter;
const count = (command: string) => counter.count(command);
const listRequests = () => counter.lists();

const ok = async (args: string[]) => {
  const r = await cs(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr} ${JSON.stringify(r.json)}`).toBe(0);
  return r.json;
};

describe('zones, pods and clusters follow the live channels', () => {
  serveUiSuite((suite) => {
    kiln = suite.kiln;
    ui = suite.ui;
    counter = new CommandCounter(ui.page);
  }, { timeoutMs: 60_000 });

  it('shows a zone, a pod and a cluster another client creates, with no list request', async () => {
    const { page } = ui;
    // A fresh page on the hosts view, so that no other view's reads (the VM list's host capabilities) run.
    await goTo(ui, '#/hosts', 'Hosts');
    counter.clear();
    await page.reload();
    await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
    const rows = () => infraRows(page);
    await expect.poll(rows).toContain('Demo | Demo Pod | Demo Cluster | Simulator | 3');
    await expect.poll(() => count('listClusters')).toBe(1);
    expect(count('listZones')).toBe(1);
    expect(count('listPods')).toBe(1);
    counter.clear();

    const zone = (await ok(['createZone', 'name=Live Zone']))['zone'] as { id: string };
    await expect.poll(rows, { timeout: 10_000 }).toContain('Live Zone | no pod yet |  |  |');
    const pod = (await ok(['createPod', `zoneid=${zone.id}`, 'name=Live Pod']))['pod'] as { id: string };
    await expect.poll(rows, { timeout: 10_000 }).toContain('Live Zone | Live Pod | no cluster yet |  |');
    expect(await rows()).not.toContain('Live Zone | no pod yet |  |  |');
    await ok(['addCluster', `zoneid=${zone.id}`, `podid=${pod.id}`, 'clustername=Live Cluster', 'hypervisor=KVM']);
    await expect.poll(rows, { timeout: 10_000 }).toContain('Live Zone | Live Pod | Live Cluster | KVM | 0');
    expect(await rows()).not.toContain('Live Zone | Live Pod | no cluster yet |  |');
    await ui.shot('live-zones-created');
    await page.waitForTimeout(1000);
    console.log(`hosts page during the creations: ${JSON.stringify(Object.fromEntries(counter.requests))}`);
    expect(listRequests()).toEqual([]);

    // The new cluster is a choice of the add-host dialog (the demo zone's is a Simulator one, so it is the only KVM cluster) without a refresh.
    await page.getByRole('toolbar', { name: 'Add infrastructure' }).getByRole('button', { name: 'Add host' }).click();
    const cluster = page.getByRole('dialog').getByRole('combobox', { name: 'Cluster' });
    await expect.poll(() => cluster.locator('option').allInnerTexts()).toContain('Live Cluster (Live Zone / Live Pod)');
    await ui.shot('live-zones-add-host');
    await page.keyboard.press('Escape');
    expect(ui.pageErrors).toEqual([]);
  });
});
