/**
 * Leftovers of a walkthrough of the main pages at 1280x800 in Chromium against `kiln serve` on
 * the simulator zone:
 *  - the top navigation is one line (every admin link, with the running-jobs pill): it wrapped
 *    "Virtual machines", "Primary storage", … onto two lines;
 *  - a job's label names its object, as the finished list and its notice show it: a VM
 *    snapshot's job the snapshot and its VM ("Create VM snapshot before-kernel-upgrade of walk-1"), an affinity
 *    group's and a volume's job the group and the volume (they said "Create VM snapshot" alone),
 *    also for a delete, whose object is gone when its job ends;
 *  - the Events page names the VM, its snapshot, its tags and its affinity groups;
 *  - the Migrate dialog gives a host's memory in GiB as the Hosts page does (it said "512 of 16384 MB");
 *  - the import wizard keeps a VM's name, size and NICs on one line in Select VMs and its labels
 *    that name the VM on one line in the Offerings step (they broke at the names' hyphens).
 * Screenshots go to test-results/screenshots/walkthrough-*.png.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator } from 'playwright-core';
import { SimulatorDriver } from '../../drivers/simulator/index.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { deployDemoVm, goTo, inPage, one, openUi, serveUiSuite, waitJob, type UiSession } from './ui-helpers.js';

const VM = 'walk-1';

/** How many lines the content of TARGET takes: its boxes top to bottom, a box below all of the line before starting the next. */
function lines(target: Locator): Promise<number> {
  return target.evaluate((el) => {
    const range = el.ownerDocument.createRange();
    range.selectNodeContents(el);
    const boxes = [...range.getClientRects()].filter((r) => r.width > 0).sort((a, b) => a.top - b.top);
    let count = 0;
    let bottom = -Infinity;
    for (const box of boxes) {
      if (box.top >= bottom - 1) count++;
      bottom = Math.max(box.top >= bottom - 1 ? box.bottom : bottom, box.bottom);
    }
    return count;
  });
}

describe('walkthrough at 1280x800', () => {
  let kiln: KilnProcess;
  let ui: UiSession;
  let vmId = '';
  serveUiSuite(async (suite) => {
    ({ kiln, ui } = suite);
    vmId = await deployDemoVm(ui, VM);
  });

  const finished = () => ui.page.getByRole('list', { name: 'Finished jobs' }).locator('.job-label').allInnerTexts();
  const notices = () => ui.page.locator('.notices').innerText();
  /** Runs COMMAND through the API (another client, as far as the page knows) and waits for its job. */
  const run = async (command: string, params: Record<string, string>) => {
    const job = await ui.api(command, params);
    const done = await waitJob(ui, String(job['jobid']));
    expect(done['jobstatus'], `${command}: ${JSON.stringify(done['jobresult'])}`).toBe(1);
    return done['jobresult'] as Record<string, Record<string, string>>;
  };

  it('shows the top navigation on one line, with room for the running-jobs pill', async () => {
    const { page } = ui;
    await goTo(ui, '#/vms', 'Virtual machines');
    const nav = page.getByRole('navigation', { name: 'Main' });
    const links = nav.getByRole('link');
    // The deploy's job may still show as running (its pill counted in the link's text) until its end arrives.
    await expect.poll(() => nav.locator('.pill').count()).toBe(0);
    expect(await links.allInnerTexts()).toEqual(['Virtual machines', 'Hosts', 'Primary storage', 'GPUs', 'Affinity', 'SSH keys', 'Images', 'Jobs and events', 'Backup offerings', 'Import VMs', 'Settings']);
    const oneLine = async () => {
      for (const link of await links.all()) expect(await lines(link), await link.innerText()).toBe(1);
      // Nothing scrolled out of sight either, and the bar is as tall as one link.
      expect(await nav.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
      const [bar, link] = await Promise.all([page.locator('.topbar').boundingBox(), links.first().boundingBox()]);
      expect(bar!.height).toBeLessThan(link!.height * 2);
    };
    await oneLine();
    // The pill a running job adds to "Jobs and events" (two digits), as App.tsx renders it.
    await inPage(page, `document.querySelector('a[href="#/events"]').insertAdjacentHTML('beforeend', '<span class="pill">12</span>')`);
    await oneLine();
    await ui.shot('walkthrough-nav');
    await inPage(page, `document.querySelector('a[href="#/events"] .pill').remove()`);
  });

  it('names the snapshot and its VM, the affinity group and the volume in job labels and notices', async () => {
    await goTo(ui, '#/events', 'Jobs and events');
    const snap = (await run('createVMSnapshot', { virtualmachineid: vmId, name: 'before-kernel-upgrade', snapshotmemory: 'false' }))['vmsnapshot']!;
    await expect.poll(notices).toContain(`Create VM snapshot before-kernel-upgrade of ${VM} finished`);
    await run('createAffinityGroup', { name: 'apart', type: 'host anti-affinity' });
    await expect.poll(notices).toContain('Create affinity group apart finished');
    const zone = await one<{ id: string }>(ui, 'listZones', 'zone', { name: 'Demo' });
    const offering = ((await ui.api('listDiskOfferings', {}))['diskoffering'] as { id: string }[])[0]!;
    await run('createVolume', { name: 'data-a', zoneid: zone.id, diskofferingid: offering.id });
    await expect.poll(notices).toContain('Create volume data-a finished');
    await run('createTags', { resourceids: vmId, resourcetype: 'UserVm', 'tags[0].key': 'env', 'tags[0].value': 'walk' });
    await run('deleteVMSnapshot', { vmsnapshotid: snap['id']! });
    await run('stopVirtualMachine', { id: vmId });
    await run('updateVMAffinityGroup', { id: vmId, affinitygroupnames: 'apart' });
    await expect.poll(finished).toEqual(expect.arrayContaining([
      `Create VM snapshot before-kernel-upgrade of ${VM}`, 'Create affinity group apart', 'Create volume data-a', `Add tags to ${VM}`,
      `Delete VM snapshot before-kernel-upgrade of ${VM}`, `Stop VM ${VM}`, `Update affinity groups of VM ${VM}`,
    ]));
    // A label that names a snapshot and its VM is one line (the 22rem column wrapped it).
    const labels = ui.page.getByRole('list', { name: 'Finished jobs' }).locator('.job-label');
    for (const label of await labels.all()) expect(await lines(label), await label.innerText()).toBe(1);
    await ui.shot('walkthrough-jobs');
  });

  it('names a deleted affinity group in its finished job', async () => {
    const { page } = ui;
    await run('updateVMAffinityGroup', { id: vmId, affinitygroupids: '' });
    await goTo(ui, '#/affinity', 'Affinity groups');
    await page.getByRole('button', { name: 'Delete affinity group apart' }).click();
    await page.getByRole('dialog', { name: 'Delete affinity group apart?' }).getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(notices).toContain('Affinity group apart deleted');
    await goTo(ui, '#/events', 'Jobs and events');
    await expect.poll(finished).toContain('Delete affinity group apart');
  });

  it('names the VM, its snapshot, tags and affinity groups on the Events page', async () => {
    const { page } = ui;
    await goTo(ui, '#/events', 'Jobs and events');
    const log = page.getByRole('table', { name: 'Events' });
    await expect.poll(() => log.innerText()).toContain(`VM snapshot before-kernel-upgrade of VM ${VM}: created (disks)`);
    const text = await log.innerText();
    expect(text).toContain(`tags env created on VM ${VM}`);
    expect(text).toContain(`VM ${VM} affinity groups set to apart`);
    expect(text).toContain(`VM ${VM} removed from its affinity groups`);
    expect(text).toContain(`VM snapshot before-kernel-upgrade of VM ${VM}: deleted`);
    expect(text).not.toContain(`UserVm ${vmId}`);
    await page.screenshot({ path: 'test-results/screenshots/walkthrough-events.png', fullPage: true });
  });

  it('gives the hosts memory in the Migrate dialog as the Hosts page does', async () => {
    const { page } = ui;
    await run('startVirtualMachine', { id: vmId });
    await page.goto(new URL(`/#/vms/${vmId}`, kiln.apiUrl).toString());
    await page.getByRole('button', { name: 'Migrate…' }).click();
    const dialog = page.getByRole('dialog', { name: `Migrate ${VM}` });
    const choices = dialog.getByRole('group', { name: 'Destination host' });
    await expect.poll(() => choices.innerText()).toMatch(/memory \d+\.\d of 16\.0 GiB allocated/);
    expect(await choices.innerText()).not.toContain('MB allocated');
    await ui.shot('walkthrough-migrate');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  it("shows a dialog's problem in the error colour, a pool's state as a badge, and space under the VM tabs' notes", async () => {
    const { page } = ui;
    await goTo(ui, '#/keys', 'SSH key pairs');
    await page.getByRole('button', { name: 'Register public key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register a public key' });
    await dialog.getByLabel('Name').fill('k1');
    await dialog.getByLabel('Public key').fill('not a key');
    const problem = dialog.getByRole('alert');
    await expect.poll(() => problem.innerText()).toMatch(/^publickey: .*not an OpenSSH public key line/);
    // It was grey as a hint: .hint came after .error in base.css.
    const danger = await inPage<string>(page, `(() => { const probe = document.createElement('span'); probe.className = 'error'; document.body.append(probe); const c = getComputedStyle(probe).color; probe.remove(); return c; })()`);
    expect(await problem.evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).color)).toBe(danger);
    await ui.shot('walkthrough-key-problem');
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // A setting the engine refuses says it was not saved, with the engine's reason.
    await goTo(ui, '#/settings', 'Settings');
    const row = page.locator('tr', { has: page.getByText('expunge.delay', { exact: true }) });
    await row.getByRole('textbox').fill('abc');
    await row.getByRole('button', { name: 'Save' }).click();
    await expect.poll(notices).toContain('expunge.delay not saved: value: expunge.delay takes an integer, not "abc"');

    await goTo(ui, '#/storage', 'Primary storage');
    const state = page.locator('[data-state="Up"]').first();
    expect(await state.innerText()).toBe('Up');
    expect(await state.getAttribute('class')).toMatch(/\bbadge\b/);

    await page.goto(new URL(`/#/vms/${vmId}/nics`, kiln.apiUrl).toString());
    const note = page.locator('.vm-nics > .note');
    await note.waitFor();
    const [noteBox, tableBox] = await Promise.all([note.boundingBox(), page.locator('.vm-nics table').boundingBox()]);
    expect(tableBox!.y - (noteBox!.y + noteBox!.height)).toBeGreaterThanOrEqual(4);
    await ui.shot('walkthrough-nics');

    // The VM's overview: each value on one line (in four columns the Created time and the OS wrapped); the ID may break.
    await page.goto(new URL(`/#/vms/${vmId}`, kiln.apiUrl).toString());
    const fields = page.locator('.fields .field');
    await expect.poll(() => fields.count()).toBeGreaterThan(10);
    for (const field of await fields.all()) {
      const name = await field.locator('dt').innerText();
      if (name !== 'ID') expect(await lines(field.locator('dd')), name).toBe(1);
    }
    await ui.shot('walkthrough-overview');

    // The VM list's empty state keeps off its frame's left border (it touched it).
    await goTo(ui, '#/vms', 'Virtual machines');
    await page.getByRole('searchbox', { name: 'Search VMs' }).fill('no-such-vm-zzz');
    const empty = page.getByText('No VM matches the search and filter.');
    await empty.waitFor();
    const [frame, text] = await Promise.all([page.locator('.vt-scroll').boundingBox(), empty.evaluate((el) => { const r = el.ownerDocument.createRange(); r.selectNodeContents(el); return r.getBoundingClientRect().left; })]);
    expect(text - frame!.x).toBeGreaterThanOrEqual(8);
    await page.getByRole('searchbox', { name: 'Search VMs' }).fill('');
  });
});

describe('import wizard names at 1280x800', () => {
  const GiB = 1024 ** 3;
  const LONG = 'accounting-database-primary-replica-01';
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-ui-walk-import-'));
  let kiln: KilnProcess;
  let browser: Browser;
  let ui: UiSession;

  beforeAll(async () => {
    // The first start makes the demo zone and the simulator's state file; the VMs made outside Kiln go into that file.
    await (await startKiln({ dataDir })).stop();
    const sim = new SimulatorDriver({ stateFile: join(dataDir, 'simulator.json') });
    [LONG, 'web-2'].forEach((name, i) => sim.addUnmanagedVm('sim-host-1', {
      internalName: name, displayName: name, uuid: `0000000${i}-1111-2222-3333-444455556666`, cpuNumber: 2, cpuSpeedMhz: 2000, memoryMiB: 2048,
      disks: [{ name: `${name}-root.qcow2`, sizeBytes: 10 * GiB, device: 'disk', bus: 'virtio' }],
      nics: [{ macAddress: `52:54:00:e2:00:1${i}`, network: 'vlan100', vlan: 100, adapterType: 'virtio' }],
      details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    }, { power: 'Running' }));
    kiln = await startKiln({ dataDir });
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps each VM's name, size and NICs on one line in Select VMs, and the labels naming it in Offerings", async () => {
    const { page } = ui;
    await goTo(ui, '#/import', 'Import virtual machines');
    // Next once the wizard chose the cluster (Next before it lists no cluster's VMs).
    await expect.poll(() => page.getByRole('combobox', { name: 'Cluster' }).inputValue()).not.toBe('');
    await page.getByRole('button', { name: 'Next' }).click();
    const table = page.getByRole('table', { name: 'Unmanaged VMs' });
    const row = table.locator('tbody tr').filter({ hasText: LONG });
    await row.waitFor();
    const cells = row.locator('td');
    expect(await cells.nth(1).innerText()).toBe(LONG);
    expect(await lines(cells.nth(1)), 'name').toBe(1);
    expect(await cells.nth(4).innerText()).toBe('2 vCPU, 2048 MB');
    expect(await lines(cells.nth(4)), 'size').toBe(1);
    expect(await lines(cells.nth(6)), 'NICs').toBe(1);
    await ui.shot('walkthrough-import-select');
    await page.getByRole('checkbox', { name: `Select ${LONG}` }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '3. Networks' }).waitFor();
    const nicLabel = page.locator(`[data-nic="${LONG}/nic0"] label`);
    await nicLabel.waitFor();
    expect(await lines(nicLabel), 'NIC label').toBe(1);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '4. Offerings' }).waitFor();
    const offering = page.getByRole('combobox', { name: `Service offering for ${LONG}` });
    await offering.waitFor();
    expect(await lines(page.locator('label', { hasText: `Service offering for ${LONG}` })), 'offering label').toBe(1);
    await ui.shot('walkthrough-import-offerings');
  });
});
