/**
 * A VM's settings (details) and its edit form in Chromium against `kiln serve` on the simulator
 * zone. Details are read-only while the VM runs; once stopped, known keys are offered from
 * listDetailOptions (with their values as a list where the engine gives them), the whole set is
 * saved with updateVirtualMachine (a change, a removal, then cleanupdetails), and a key the engine
 * refuses shows its 431 text while nothing changes. The edit form changes display name, group,
 * name, OS type and dynamic scaling on a stopped VM; the engine's 431 is shown when the offering
 * gives no HA, and when the VM starts while a stopped-only change is pending.
 */
import { describe, expect, it } from 'vitest';
import type { KilnProcess } from '../helpers/server.js';
import { deployDemoVm, one, serveUiSuite, waitJob, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let ui: UiSession;
let vmId = '';

interface VmInfo {
  id: string;
  name: string;
  displayname: string;
  state: string;
  group?: string;
  haenable: boolean;
  ostypeid: string;
  osdisplayname: string;
  isdynamicallyscalable: boolean;
  details: Record<string, string>;
}

const vmNow = () => one<VmInfo>(ui, 'listVirtualMachines', 'virtualmachine', { id: vmId });

async function openTab(tab: string): Promise<void> {
  await ui.page.goto(new URL(`/#/vms/${vmId}/${tab}`, kiln.apiUrl).toString());
  await ui.page.getByRole('heading', { level: 1 }).waitFor();
}

describe('VM settings (details) and edit form in Chromium', () => {
  serveUiSuite(async (suite) => {
    ({ kiln, ui } = suite);
    vmId = await deployDemoVm(ui, 'det-1');
  });

  it('shows the details read-only while the VM runs', async () => {
    const { page } = ui;
    await openTab('settings');
    await expect.poll(() => page.getByRole('note').innerText()).toContain('Settings can be changed only while the VM is stopped (it is Running)');
    expect(await page.getByRole('button', { name: 'Save settings' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Add a setting' }).count()).toBe(0);
    await ui.shot('vm-settings-running-light');
  });

  it('edits the details of a stopped VM: known keys offered with their values, the whole set saved', async () => {
    const { page } = ui;
    await page.getByRole('toolbar', { name: 'Actions for det-1' }).getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('button', { name: 'Save settings' }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('note').count()).toBe(0);

    const add = page.getByRole('form', { name: 'Add a setting' });
    const keys = await add.getByRole('combobox', { name: 'Setting to add' }).locator('option').allInnerTexts();
    // listDetailOptions' keys, and a way to type another.
    expect(keys).toEqual(['Choose…', 'rootdisksize', 'cpuOvercommitRatio', 'memoryOvercommitRatio', 'Message.ReservedCapacityFreed.Flag', 'Other key…']);
    await add.getByRole('combobox', { name: 'Setting to add' }).selectOption('cpuOvercommitRatio');
    await add.getByRole('textbox', { name: 'Value' }).fill('2');
    await add.getByRole('button', { name: 'Add' }).click();
    await add.getByRole('combobox', { name: 'Setting to add' }).selectOption('Message.ReservedCapacityFreed.Flag');
    // A key with known values offers them as a list.
    expect(await add.getByRole('combobox', { name: 'Value' }).locator('option').allInnerTexts()).toEqual(['Choose…', 'true', 'false']);
    await add.getByRole('combobox', { name: 'Value' }).selectOption('true');
    await add.getByRole('button', { name: 'Add' }).click();
    await ui.shot('vm-settings-edit-light');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(async () => (await vmNow()).details).toEqual({ cpuOvercommitRatio: '2', 'Message.ReservedCapacityFreed.Flag': 'true' });

    // Change one, remove the other: the set sent replaces the set kept.
    const table = page.getByRole('table', { name: 'VM settings (details)' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    await table.getByRole('textbox', { name: 'Value of cpuOvercommitRatio' }).fill('3');
    await table.getByRole('button', { name: 'Remove Message.ReservedCapacityFreed.Flag' }).click();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(async () => (await vmNow()).details).toEqual({ cpuOvercommitRatio: '3' });
    await expect.poll(() => page.getByRole('button', { name: 'Save settings' }).isDisabled()).toBe(true);
  });

  it("shows the engine's 431 when it refuses a key, and changes nothing", async () => {
    const { page } = ui;
    const add = page.getByRole('form', { name: 'Add a setting' });
    await add.getByRole('combobox', { name: 'Setting to add' }).selectOption({ label: 'Other key…' });
    await add.getByRole('textbox', { name: 'Key' }).fill('kiln.startMemory');
    await add.getByRole('textbox', { name: 'Value' }).fill('99999');
    await add.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('button', { name: 'Save settings' }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.innerText()).toBe('Not saved: 431: details: kiln.startMemory is reserved by Kiln');
    await ui.shot('vm-settings-refused-light');
    expect((await vmNow()).details).toEqual({ cpuOvercommitRatio: '3' });
    await page.getByRole('button', { name: 'Discard changes' }).click();
    expect(await alert.count()).toBe(0);
    await expect.poll(() => page.getByRole('table', { name: 'VM settings (details)' }).locator('tbody tr').count()).toBe(1);
  });

  it('removes every setting (cleanupdetails)', async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Remove all settings' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove every setting of det-1?' });
    await confirm.getByRole('button', { name: 'Remove all' }).click();
    await expect.poll(async () => (await vmNow()).details).toEqual({});
    await page.getByText('This VM has no details set.').waitFor();
  });

  it('edits name, display name, group, OS type and dynamic scaling of the stopped VM; the 431 for HA is shown', async () => {
    const { page } = ui;
    await openTab('overview');
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const form = page.getByRole('form', { name: 'Edit det-1' });
    expect(await form.getByLabel('Name (hostname)', { exact: true }).isDisabled()).toBe(false);
    // Small Instance offers no HA: the engine says so and the form keeps the input.
    await form.getByRole('checkbox', { name: /Restart the VM elsewhere/ }).check();
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => form.getByRole('alert').innerText()).toBe('Not saved: 431: haenable: offering Small Instance does not offer HA; change the offering first');
    await form.getByRole('checkbox', { name: /Restart the VM elsewhere/ }).uncheck();

    // An empty group or name would be ignored by the API: the form says so rather than pretend.
    await form.getByLabel('Group', { exact: true }).fill('g');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await vmNow()).group).toBe('g');
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await form.getByLabel('Group', { exact: true }).fill('');
    expect(await form.innerText()).toContain('the API cannot clear a group yet');
    await form.getByLabel('Name (hostname)', { exact: true }).fill('');
    expect(await form.innerText()).toContain('cannot be empty');
    expect(await form.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await form.getByLabel('Name (hostname)', { exact: true }).fill('det-1');

    const before = await vmNow();
    await form.getByLabel('Display name', { exact: true }).fill('det-one');
    await form.getByLabel('Group', { exact: true }).fill('edited');
    await form.getByLabel('Name (hostname)', { exact: true }).fill('det-one-host');
    await form.getByLabel('OS type', { exact: true }).selectOption({ label: 'Ubuntu 24.04 LTS (64-bit)' });
    await form.getByRole('checkbox', { name: /scaled while running/ }).setChecked(!before.isdynamicallyscalable);
    await ui.shot('vm-edit-form-light');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const after = await vmNow();
    expect(after).toMatchObject({ displayname: 'det-one', group: 'edited', name: 'det-one-host', osdisplayname: 'Ubuntu 24.04 LTS (64-bit)', isdynamicallyscalable: !before.isdynamicallyscalable, haenable: false });
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toContain('det-one');
  });

  it("shows the engine's 431 when the VM starts while a stopped-only change is pending", async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const form = page.getByRole('form', { name: 'Edit det-one' });
    await form.getByLabel('Name (hostname)', { exact: true }).fill('det-renamed');
    // Another client starts the VM meanwhile; the form learns the state and greys the field out.
    const start = await ui.api('startVirtualMachine', { id: vmId });
    expect((await waitJob(ui, String(start['jobid'])))['jobstatus']).toBe(1);
    await expect.poll(() => form.getByLabel('Name (hostname)', { exact: true }).isDisabled(), { timeout: 15_000 }).toBe(true);
    expect(await form.getByLabel('OS type', { exact: true }).isDisabled()).toBe(true);
    expect(await form.getByLabel('Display name', { exact: true }).isDisabled()).toBe(false);
    expect(await form.innerText()).toContain('Stop the VM to change its name, OS type or dynamic scaling.');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => form.getByRole('alert').innerText()).toBe('Not saved: 431: name: VM det-one is Running; stop it first');
    expect((await vmNow()).name).toBe('det-one-host');
    await ui.shot('vm-edit-form-running-refused-light');
    await form.getByRole('button', { name: 'Cancel' }).click();

    // Display name and group need no stop.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await form.getByLabel('Display name', { exact: true }).fill('det-live');
    await page.getByRole('form', { name: 'Edit det-one' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await vmNow()).displayname).toBe('det-live');
  });

  it('looks right in the dark theme', async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await ui.shot('vm-edit-form-dark');
    await openTab('settings');
    await ui.shot('vm-settings-dark');
    const stop = await ui.api('stopVirtualMachine', { id: vmId });
    await waitJob(ui, String(stop['jobid']));
    await page.getByRole('button', { name: 'Save settings' }).waitFor({ timeout: 20_000 });
    const add = page.getByRole('form', { name: 'Add a setting' });
    await add.getByRole('combobox', { name: 'Setting to add' }).selectOption('memoryOvercommitRatio');
    await add.getByRole('textbox', { name: 'Value' }).fill('1.5');
    await add.getByRole('button', { name: 'Add' }).click();
    await ui.shot('vm-settings-edit-dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
