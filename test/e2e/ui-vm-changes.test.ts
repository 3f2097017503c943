/**
 * Changing and moving VMs through the UI, in Chromium against `kiln serve` on the simulator zone,
 * as the admin the token URL logs in:
 * - change the offering of a stopped VM (R15);
 * - scale a running VM live, its host too full, so that the engine migrates it first and the
 *   dialog says so with the placement explanation (R16, R17);
 * - migrate a running VM to a host chosen from findHostsForMigration, the others shown with the
 *   engine's reasons (R20);
 * - restore a VM from its own template and from another (R29);
 * - start a stopped VM on a host the admin picks (R10, R25).
 * Each test checks what the dialog says and the VM as the API then reports it. Screenshots go
 * to test-results/screenshots/vm-change-*.png (light, and two dialogs dark).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { demoCatalog, goTo, one, serveUiSuite, vmRow, waitJob, type UiSession } from './ui-helpers.js';

let ui: UiSession;
let hostIds: Record<string, string> = {};

interface VmInfo {
  id: string;
  state: string;
  hostid?: string;
  hostname?: string;
  serviceofferingname?: string;
  templatename?: string;
  memory?: number;
}

const vmInfo = (id: string) => one<VmInfo>(ui, 'listVirtualMachines', 'virtualmachine', { id });
const offeringId = async (name: string) => (await one<{ id: string }>(ui, 'listServiceOfferings', 'serviceoffering', { name })).id;

/** Deploys NAME through the API (on a given host, with a given offering, started or not) and returns its id. */
async function deploy(name: string, extra: Record<string, string> = {}): Promise<string> {
  const job = await ui.api('deployVirtualMachine', { ...(await demoCatalog(ui)), name, displayname: name, ...extra });
  const done = await waitJob(ui, String(job['jobid']));
  if (done['jobstatus'] !== 1) throw new Error(`deploying ${name} failed: ${JSON.stringify(done['jobresult'])}`);
  return (done['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
}

/** Opens the VM's detail view and clicks an action of its toolbar. */
async function detailAction(id: string, name: string, action: string): Promise<void> {
  await goTo(ui, `#/vms/${id}/overview`, new RegExp(`^${name}`));
  await ui.page.getByRole('toolbar', { name: `Actions for ${name}` }).getByRole('button', { name: action, exact: true }).click();
}

/** Free memory of a host in MB, as the planner counts it (after overprovisioning). */
async function freeMb(hostName: string): Promise<number> {
  const host = await one<{ memorywithoverprovisioning: string; memoryallocated: number }>(ui, 'listHosts', 'host', { name: hostName });
  return Math.floor((Number(host.memorywithoverprovisioning) - host.memoryallocated) / 1024 / 1024);
}

describe('change, scale, migrate, restore and start-on through the UI', () => {
  serveUiSuite(async (suite) => {
    ui = suite.ui;
    const hosts = ((await ui.api('listHosts', {}))['host'] as { id: string; name: string }[]) ?? [];
    hostIds = Object.fromEntries(hosts.map((h) => [h.name, h.id]));
    const zoneid = (await demoCatalog(ui)).zoneid;
    await ui.api('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid });
  });
  // A test that failed with its dialog open must not leave the next one behind a modal.
  afterEach(async () => {
    if (await ui.page.locator('dialog[open]').count()) await ui.page.keyboard.press('Escape');
  });

  it('changes the offering of a stopped VM, never offering the one it has', async () => {
    const { page } = ui;
    const id = await deploy('chg-1', { startvm: 'false' });
    await detailAction(id, 'chg-1', 'Change offering…');
    const dialog = page.getByRole('dialog', { name: 'Change offering: chg-1' });
    const select = dialog.getByRole('combobox', { name: 'New offering' });
    await expect.poll(() => select.locator('option').allInnerTexts()).toContain('Large Instance (2 vCPU, 4096 MB)');
    const options = await select.locator('option').allInnerTexts();
    expect(options.some((o) => o.startsWith('Small Instance'))).toBe(false);
    expect(options).toEqual(['Choose…', 'Medium Instance (1 vCPU, 1024 MB)', 'Large Instance (2 vCPU, 4096 MB)', 'HA Instance (1 vCPU, 1024 MB)', 'Custom (custom size)', 'Custom Constrained (custom size)']);
    expect(await dialog.innerText()).toContain('Now: Small Instance (1 vCPU, 512 MB)');
    await select.selectOption({ label: 'Large Instance (2 vCPU, 4096 MB)' });
    await ui.shot('vm-change-1-offering-stopped');
    await dialog.getByRole('button', { name: 'Change offering', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 15_000 }).toBe('chg-1 now has offering Large Instance (2 vCPU, 4096 MB); it applies at the next start.');
    await ui.shot('vm-change-2-offering-changed');
    // Deployed with startvm=false, it has never run: Created.
    expect(await vmInfo(id)).toMatchObject({ serviceofferingname: 'Large Instance', memory: 4096, state: 'Created' });
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => page.locator('.fields').innerText()).toContain('Large Instance');
  });

  it('changes to a custom offering with a size, showing the engine\'s 431 for a size outside its bounds', async () => {
    const { page } = ui;
    const id = (await one<{ id: string }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'chg-1' })).id;
    await detailAction(id, 'chg-1', 'Change offering…');
    const dialog = page.getByRole('dialog', { name: 'Change offering: chg-1' });
    const select = dialog.getByRole('combobox', { name: 'New offering' });
    await expect.poll(() => select.locator('option').allInnerTexts()).toContain('Custom Constrained (custom size)');
    // Large Instance is its offering now, so it is no longer offered.
    expect((await select.locator('option').allInnerTexts()).some((o) => o.startsWith('Large Instance'))).toBe(false);
    await select.selectOption({ label: 'Custom Constrained (custom size)' });
    // Constrained: the bounds come from the offering; its CPU speed is fixed, so none is asked.
    await dialog.getByRole('textbox', { name: 'CPU cores (1–4)' }).fill('9');
    await dialog.getByRole('textbox', { name: 'Memory (MiB) (512–8192)' }).fill('2048');
    expect(await dialog.getByRole('textbox', { name: 'CPU speed (MHz)' }).count()).toBe(0);
    await dialog.getByRole('button', { name: 'Change offering', exact: true }).click();
    const alert = dialog.getByRole('alert');
    await expect.poll(() => alert.innerText(), { timeout: 15_000 }).toBe('431: details[0].cpuNumber: 9 is outside 1..4 allowed by offering Custom Constrained');
    await ui.shot('vm-change-2b-custom-refused');
    expect(await vmInfo(id)).toMatchObject({ serviceofferingname: 'Large Instance', memory: 4096 });
    await dialog.getByRole('textbox', { name: 'CPU cores (1–4)' }).fill('3');
    await dialog.getByRole('button', { name: 'Change offering', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 15_000 }).toBe('chg-1 now has offering Custom Constrained (3 vCPU, 2048 MB); it applies at the next start.');
    expect(await vmInfo(id)).toMatchObject({ serviceofferingname: 'Custom Constrained', memory: 2048 });
    expect((await vmInfo(id) as VmInfo & { cpunumber?: number }).cpunumber).toBe(3);
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  });

  it('scales a running VM live; its host full, the engine migrates it first and the dialog explains why', async () => {
    const { page } = ui;
    const id = await deploy('scale-1', { hostid: hostIds['sim-host-1']! });
    // Leave sim-host-1 less than the 512 MB the scale to Medium needs.
    const filler = await ui.api('createServiceOffering', { name: 'filler', displaytext: 'filler', cpunumber: '1', cpuspeed: '100', memory: String((await freeMb('sim-host-1')) - 300) });
    await deploy('filler-1', { hostid: hostIds['sim-host-1']!, serviceofferingid: (filler['serviceoffering'] as { id: string }).id });
    expect(await freeMb('sim-host-1')).toBeLessThan(512);

    await goTo(ui, '#/vms', 'Virtual machines');
    await vmRow(page, 'scale-1').getByRole('button', { name: 'Actions for scale-1' }).click();
    await page.getByRole('menu', { name: 'Actions for scale-1' }).getByRole('menuitem', { name: 'Scale…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Scale: scale-1' });
    const select = dialog.getByRole('combobox', { name: 'New offering' });
    await expect.poll(() => select.locator('option').allInnerTexts()).toContain('Medium Instance (1 vCPU, 1024 MB)');
    // Not its own offering, and not Large: a 64-bit Linux guest started below 3 GB cannot pass it live (R18).
    const options = await select.locator('option').allInnerTexts();
    expect(options.filter((o) => /^(Small|Large) Instance/.test(o))).toEqual([]);
    expect(await dialog.innerText()).toContain('keeps running');
    await select.selectOption({ label: 'Medium Instance (1 vCPU, 1024 MB)' });
    await ui.shot('vm-change-3-scale-dialog');
    await dialog.getByRole('button', { name: 'Scale', exact: true }).click();

    const status = dialog.getByRole('status');
    await expect.poll(() => status.innerText(), { timeout: 30_000 }).toMatch(/^scale-1 was scaled live to Medium Instance \(1 vCPU, 1024 MB\)\. Its host sim-host-1 had no room, so it was migrated live to sim-host-\d first\.$/);
    const after = await vmInfo(id);
    expect(after).toMatchObject({ state: 'Running', serviceofferingname: 'Medium Instance', memory: 1024 });
    expect(after.hostname).not.toBe('sim-host-1');
    expect(await status.innerText()).toContain(`migrated live to ${after.hostname!} first`);
    const why = dialog.getByRole('table', { name: 'Why it moved' });
    const refusedRows = await why.locator('tr[data-verdict="refused"]').filter({ hasText: 'sim-host-1' }).allInnerTexts();
    // Its old host is judged once, for the memory it lacks (not again as "excluded" by the second plan).
    expect(refusedRows).toHaveLength(1);
    expect(refusedRows[0]).toMatch(/memory: needs 1024 MB, \d+ MB free/);
    expect(await dialog.locator('.placement-summary').innerText()).toContain('3 considered, 1 refused');
    expect(await why.locator('tr[data-verdict="chosen"]').innerText()).toContain(after.hostname!);
    await ui.shot('vm-change-4-scaled-migrated');
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  });

  it('migrates a running VM to a host chosen from findHostsForMigration, showing why the others cannot take it', async () => {
    const { page } = ui;
    // On sim-host-2, at 1 GB: sim-host-1 (filled above) has no room for it, and it already runs on sim-host-2.
    const id = await deploy('mig-1', { hostid: hostIds['sim-host-2']!, serviceofferingid: await offeringId('Medium Instance') });
    await detailAction(id, 'mig-1', 'Migrate…');
    const dialog = page.getByRole('dialog', { name: 'Migrate mig-1' });
    const refused = dialog.getByRole('table', { name: 'Hosts that cannot take it' });
    await refused.waitFor();
    const reasons = await refused.locator('tbody tr').allInnerTexts();
    expect(reasons.find((r) => r.startsWith('sim-host-2'))).toMatch(/the VM already runs on this host/);
    expect(reasons.find((r) => r.startsWith('sim-host-1'))).toMatch(/memory: needs 1024 MB, \d+ MB free/);
    const choices = dialog.getByRole('radio');
    expect(await choices.count()).toBe(1);
    await dialog.getByRole('radio', { name: /^sim-host-3/ }).check();
    await ui.shot('vm-change-5-migrate-dialog');
    await dialog.getByRole('button', { name: 'Migrate', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 30_000 }).toBe('mig-1 was migrated live from sim-host-2 to sim-host-3; it is Running.');
    expect(await vmInfo(id)).toMatchObject({ hostid: hostIds['sim-host-3'], hostname: 'sim-host-3', state: 'Running' });
    expect(await dialog.getByRole('table', { name: 'Placement explained' }).locator('tr[data-verdict="chosen"]').innerText()).toContain('sim-host-3');
    await ui.shot('vm-change-6-migrated');
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  });

  it('reinstalls a VM from its own template, then from another one', async () => {
    const { page } = ui;
    const id = await deploy('rst-1');
    // Named as CloudStack's UI names restoreVirtualMachine, so it does not read as a backup restore.
    await goTo(ui, `#/vms/${id}/overview`, /^rst-1/);
    const reinstall = page.getByRole('toolbar', { name: 'Actions for rst-1' }).getByRole('button', { name: 'Reinstall…', exact: true });
    await expect.poll(() => reinstall.getAttribute('title')).toBe('Reinstall from its template (or ISO): the root disk is made again and what was written to it is lost. Not a backup restore.');
    await detailAction(id, 'rst-1', 'Reinstall…');
    let dialog = page.getByRole('dialog', { name: 'Reinstall rst-1' });
    expect(await dialog.innerText()).toContain('everything written to it is lost');
    await dialog.getByRole('radio', { name: 'Its current template: Debian 12' }).check();
    await dialog.getByRole('button', { name: 'Reinstall', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 30_000 }).toBe('rst-1 has a new root disk from template Debian 12; it is Running.');
    const events = ((await ui.api('listEvents', { type: 'VM.RESTORE', listall: 'true' }))['event'] as { description: string }[]) ?? [];
    expect(events.some((e) => e.description.includes('rst-1') && e.description.endsWith('restored from Debian 12'))).toBe(true);
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();

    await detailAction(id, 'rst-1', 'Reinstall…');
    dialog = page.getByRole('dialog', { name: 'Reinstall rst-1' });
    await dialog.getByRole('radio', { name: 'Another template' }).check();
    const select = dialog.getByRole('combobox', { name: 'Template' });
    await expect.poll(() => select.locator('option').allInnerTexts()).toContain('Ubuntu 24.04');
    // Its own template is the other choice, not this one; an ISO is never offered for a template VM.
    const options = await select.locator('option').allInnerTexts();
    expect(options).not.toContain('Debian 12');
    expect(options).not.toContain('Debian 12 netinst');
    await select.selectOption({ label: 'Ubuntu 24.04' });
    await ui.shot('vm-change-7-restore-dialog');
    await dialog.getByRole('button', { name: 'Reinstall', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 30_000 }).toBe('rst-1 has a new root disk from template Ubuntu 24.04; it is Running.');
    expect(await vmInfo(id)).toMatchObject({ templatename: 'Ubuntu 24.04', state: 'Running' });
    await ui.shot('vm-change-8-restored');
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => page.locator('.fields').innerText()).toContain('Ubuntu 24.04');
  });

  it('starts a stopped VM on the host the admin picks, and shows the placement', async () => {
    const { page } = ui;
    const id = await deploy('on-1', { startvm: 'false' });
    await goTo(ui, '#/vms', 'Virtual machines');
    await vmRow(page, 'on-1').getByRole('button', { name: 'Actions for on-1' }).click();
    await page.getByRole('menu', { name: 'Actions for on-1' }).getByRole('menuitem', { name: 'Start on…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Start on-1 on…' });
    for (const field of ['Pod', 'Cluster', 'Host']) await dialog.getByRole('combobox', { name: field }).waitFor();
    const host = dialog.getByRole('combobox', { name: 'Host' });
    await expect.poll(() => host.locator('option').allInnerTexts()).toEqual(['Any', 'sim-host-1', 'sim-host-2', 'sim-host-3']);
    await host.selectOption({ label: 'sim-host-2' });
    await ui.shot('vm-change-9-start-on-dialog');
    await dialog.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 30_000 }).toBe('on-1 is Running on sim-host-2.');
    expect(await vmInfo(id)).toMatchObject({ state: 'Running', hostid: hostIds['sim-host-2'], hostname: 'sim-host-2' });
    expect(await dialog.getByRole('table', { name: 'Placement explained' }).locator('tr[data-verdict="chosen"]').innerText()).toContain('sim-host-2');
    await ui.shot('vm-change-10-started-on');
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
    // Running now: neither start action is offered any more.
    await vmRow(page, 'on-1').getByRole('button', { name: 'Actions for on-1' }).click();
    const items = await page.getByRole('menu', { name: 'Actions for on-1' }).getByRole('menuitem').allInnerTexts();
    expect(items).not.toContain('Start on…');
    expect(items).toEqual(expect.arrayContaining(['Scale…', 'Migrate…', 'Reinstall…']));
    await page.keyboard.press('Escape');
  });

  it('keeps a VM running unchanged when no host has room for the larger size, listing each host and why (533)', async () => {
    const { page } = ui;
    const roomy = await ui.api('createServiceOffering', { name: 'roomy', displaytext: 'custom up to 32 GB', customized: 'true', cpuspeed: '500', maxmemory: '32768' });
    expect(roomy['serviceoffering']).toBeDefined();
    // Started above 3 GB, so R18 does not keep it below 3 GB; 20,000 MB fits no 16 GB host.
    const id = await deploy('big-1', { serviceofferingid: await offeringId('Custom'), 'details[0].cpuNumber': '1', 'details[0].cpuSpeed': '500', 'details[0].memory': '3584' });
    const before = await vmInfo(id);
    await detailAction(id, 'big-1', 'Scale…');
    const dialog = page.getByRole('dialog', { name: 'Scale: big-1' });
    const select = dialog.getByRole('combobox', { name: 'New offering' });
    await expect.poll(() => select.locator('option').allInnerTexts()).toContain('roomy (custom size)');
    await select.selectOption({ label: 'roomy (custom size)' });
    await dialog.getByRole('textbox', { name: 'CPU cores', exact: true }).fill('1');
    await dialog.getByRole('textbox', { name: 'Memory (MiB) (…–32768)' }).fill('20000');
    await dialog.getByRole('button', { name: 'Scale', exact: true }).click();
    const alert = dialog.getByRole('alert');
    // The engine's words, without the host list it appends: the table below shows that host by host.
    await expect.poll(() => alert.innerText(), { timeout: 30_000 }).toBe('533: no host in the cluster can hold VM big-1 at 1 vCPU / 20000 MB; it keeps running as before');
    const refused = dialog.getByRole('table', { name: 'Hosts refused' });
    const rows = await refused.locator('tbody tr').allInnerTexts();
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/^sim-host-\d\s+Refused\s+memory: needs 20000 MB, \d+ MB free$/);
    expect(await dialog.locator('.placement-summary').innerText()).toContain('No host can take this VM');
    await ui.shot('vm-change-11-scale-refused');
    // Settled as it was: Running, same host, same size.
    expect(await vmInfo(id)).toMatchObject({ state: 'Running', hostid: before.hostid, memory: 3584, serviceofferingname: 'Custom' });
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  });

  it('shows the dialogs in the dark theme too', async () => {
    const { page } = ui;
    const id = (await one<{ id: string }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'mig-1' })).id;
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await page.getByRole('button', { name: 'Dark theme' }).getAttribute('aria-pressed')).toBe('true');
    await detailAction(id, 'mig-1', 'Migrate…');
    const dialog = page.getByRole('dialog', { name: 'Migrate mig-1' });
    const refused = dialog.getByRole('table', { name: 'Hosts that cannot take it' });
    await refused.waitFor();
    expect(await refused.locator('tbody tr').filter({ hasText: 'sim-host-3' }).innerText()).toMatch(/the VM already runs on this host/);
    await ui.shot('vm-change-12-migrate-dark');
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await detailAction(id, 'mig-1', 'Scale…');
    const scale = page.getByRole('dialog', { name: 'Scale: mig-1' });
    await expect.poll(() => scale.getByRole('combobox', { name: 'New offering' }).locator('option').count()).toBeGreaterThan(1);
    await ui.shot('vm-change-13-scale-dark');
    await scale.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('button', { name: 'Dark theme' }).click();
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
