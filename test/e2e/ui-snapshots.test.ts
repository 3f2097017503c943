/**
 * A VM's snapshots and volumes in Chromium against `kiln serve` on the simulator zone: snapshots
 * "before" and "after" are taken with memory through the form, the tree nests "after" under
 * "before" and marks it current; a revert to "before" moves the mark, deleting "after" removes it;
 * a name taken twice shows the engine's 431; once the VM is stopped the memory checkbox is
 * disabled and a disk-only snapshot is taken. The Volumes tab lists the ROOT disk. Screenshots go
 * to test-results/screenshots/vm-snapshots-*.png and vm-volumes-*.png, light and dark.
 */
import { describe, expect, it } from 'vitest';
import type { KilnProcess } from '../helpers/server.js';
import { deployDemoVm, inPage, one, serveUiSuite, type UiSession } from './ui-helpers.js';

const NAME = 'snap-1';

let kiln: KilnProcess;
let ui: UiSession;
let vmId = '';

interface SnapshotInfo {
  id: string;
  displayname: string;
  type: string;
  current: boolean;
  parent?: string;
  state: string;
}

const snapshots = async () => ((await ui.api('listVMSnapshot', { virtualmachineid: vmId }))['vmSnapshot'] as SnapshotInfo[] | undefined) ?? [];
const vmState = async () => (await one<{ state: string }>(ui, 'listVirtualMachines', 'virtualmachine', { id: vmId })).state;

async function openTab(tab: string): Promise<void> {
  await ui.page.goto(new URL(`/#/vms/${vmId}/${tab}`, kiln.apiUrl).toString());
  await ui.page.getByRole('heading', { level: 1 }).waitFor();
}

/** The tree item of a snapshot, by its display name. */
const item = (name: string) => ui.page.locator(`li[data-snapshot="${name}"]`);
/** The display names of the snapshot marked current in the tree. */
const currentInTree = () => inPage<string[]>(ui.page, `[...document.querySelectorAll('li[data-snapshot][aria-current="true"]')].map((el) => el.dataset.snapshot)`);
const notices = () => ui.page.locator('.notices').innerText();

describe('VM snapshots and volumes in Chromium', () => {
  serveUiSuite(async (suite) => {
    ({ kiln, ui } = suite);
    vmId = await deployDemoVm(ui, NAME);
  });

  it('starts with no snapshots and offers memory for the running VM', async () => {
    const { page } = ui;
    await openTab('snapshots');
    expect(await page.getByRole('link', { name: 'Snapshots' }).getAttribute('aria-current')).toBe('page');
    await page.getByText('This VM has no snapshots.').waitFor();
    const form = page.getByRole('form', { name: 'Take a snapshot' });
    const memory = form.getByRole('checkbox', { name: 'Include memory' });
    expect(await memory.isEnabled()).toBe(true);
    expect(await memory.isChecked()).toBe(true);
  });

  it('takes "before" with memory through the form', async () => {
    const { page } = ui;
    const form = page.getByRole('form', { name: 'Take a snapshot' });
    await form.getByLabel('Name', { exact: true }).fill('before');
    await form.getByLabel('Description', { exact: true }).fill('clean install, services up');
    await form.getByRole('button', { name: 'Take snapshot' }).click();
    await item('before').waitFor();
    await expect.poll(currentInTree).toEqual(['before']);
    await expect.poll(notices).toContain(`${NAME}: snapshot before taken`);
    expect(await item('before').innerText()).toContain('Disk + memory');
    expect(await item('before').innerText()).toContain('clean install, services up');
    // The form is emptied for the next one.
    expect(await form.getByLabel('Name', { exact: true }).inputValue()).toBe('');
    const [before] = await snapshots();
    expect(before).toMatchObject({ displayname: 'before', type: 'DiskAndMemory', current: true, state: 'Ready' });
  });

  it('takes "after" from the keyboard: nested under "before" and marked current', async () => {
    const { page } = ui;
    const form = page.getByRole('form', { name: 'Take a snapshot' });
    await form.getByLabel('Name', { exact: true }).focus();
    await page.keyboard.type('after');
    await page.keyboard.press('Tab');
    await page.keyboard.type('config changed');
    await page.keyboard.press('Enter');
    await item('before').locator('li[data-snapshot="after"]').waitFor();
    await expect.poll(currentInTree).toEqual(['after']);
    expect(await item('after').locator('.badge.snapshot-current').innerText()).toMatch(/current/i);
    expect(await item('before').locator(':scope > .snapshot-row .snapshot-current').count()).toBe(0);
    const list = await snapshots();
    const before = list.find((s) => s.displayname === 'before')!;
    expect(list.find((s) => s.displayname === 'after')).toMatchObject({ parent: before.id, current: true, type: 'DiskAndMemory' });
    await expect.poll(notices).toContain(`${NAME}: snapshot after taken`);
    await ui.shot('vm-snapshots-light');
    // Tags, Revert and Delete fit their column: none runs left over the Created time.
    const row = item('after').locator(':scope > .snapshot-row');
    const actions = (await row.locator('.snapshot-actions').boundingBox())!;
    const tags = (await row.getByRole('button', { name: 'Tags of after' }).boundingBox())!;
    const created = (await row.locator('.nowrap').boundingBox())!;
    expect(tags.x).toBeGreaterThanOrEqual(actions.x);
    expect(tags.x).toBeGreaterThanOrEqual(created.x + created.width);
  });

  it("shows the engine's 431 when a name is taken twice, and adds nothing", async () => {
    const { page } = ui;
    const form = page.getByRole('form', { name: 'Take a snapshot' });
    await form.getByLabel('Name', { exact: true }).fill('before');
    await form.getByRole('button', { name: 'Take snapshot' }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.innerText()).toBe(`Snapshot not taken: 431: name: VM ${NAME} already has a VM snapshot named before`);
    await expect.poll(notices).toContain('Snapshot not taken: name: VM snap-1 already has a VM snapshot named before');
    await ui.shot('vm-snapshots-error-light');
    expect(await snapshots()).toHaveLength(2);
    await form.getByLabel('Name', { exact: true }).fill('');
  });

  it('reverts to "before" after a confirmation; the mark moves and the VM keeps running', async () => {
    const { page } = ui;
    await item('before').getByRole('button', { name: 'Revert to before' }).click();
    const confirm = page.getByRole('dialog', { name: `Revert ${NAME} to before?` });
    expect(await confirm.innerText()).toContain('disks and memory');
    // Cancel first: nothing happens.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect((await snapshots()).find((s) => s.current)?.displayname).toBe('after');
    await item('before').getByRole('button', { name: 'Revert to before' }).click();
    await confirm.getByRole('button', { name: 'Revert' }).click();
    await expect.poll(currentInTree).toEqual(['before']);
    await expect.poll(notices).toContain(`${NAME} reverted to snapshot before`);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The tree keeps its shape: "after" is still a child of "before".
    expect(await item('before').locator('li[data-snapshot="after"]').count()).toBe(1);
    expect(await vmState()).toBe('Running');
    await ui.shot('vm-snapshots-reverted-light');
  });

  it('deletes "after" after a confirmation', async () => {
    const { page } = ui;
    await item('after').getByRole('button', { name: 'Delete after' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete snapshot after?' });
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => item('after').count()).toBe(0);
    await expect.poll(notices).toContain(`${NAME}: snapshot after deleted`);
    expect((await snapshots()).map((s) => s.displayname)).toEqual(['before']);
    expect(await currentInTree()).toEqual(['before']);
  });

  it('lists the ROOT volume', async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Volumes' }).click();
    const table = page.getByRole('table', { name: 'Volumes' });
    await table.waitFor();
    const root = table.locator('tbody tr[data-volume-type="ROOT"]');
    await expect.poll(() => root.count()).toBe(1);
    const cells = await root.locator('td').allInnerTexts();
    const [volume] = (await ui.api('listVolumes', { virtualmachineid: vmId, type: 'ROOT' }))['volume'] as { name: string; size: number; deviceid: number; state: string }[];
    expect(cells.slice(0, 5)).toEqual([volume!.name, 'ROOT', String(volume!.deviceid), expect.stringMatching(/^\d+(\.\d)? GiB$/), volume!.state]);
    // The admin sees where the disk lives.
    expect(await table.locator('thead th').allInnerTexts()).toContain('Storage');
    await ui.shot('vm-volumes-light');
  });

  it('disables the memory checkbox once the VM is stopped, and takes a disk-only snapshot', async () => {
    const { page } = ui;
    await page.getByRole('toolbar', { name: `Actions for ${NAME}` }).getByRole('button', { name: 'Stop', exact: true }).click();
    await expect.poll(vmState, { timeout: 20_000 }).toBe('Stopped');
    await page.getByRole('link', { name: 'Snapshots' }).click();
    const form = page.getByRole('form', { name: 'Take a snapshot' });
    const memory = form.getByRole('checkbox', { name: 'Include memory' });
    await expect.poll(() => memory.isDisabled()).toBe(true);
    expect(await memory.isChecked()).toBe(false);
    expect(await form.innerText()).toContain('Memory can be saved only while the VM runs (it is Stopped)');
    await form.getByLabel('Name', { exact: true }).fill('cold');
    await form.getByRole('button', { name: 'Take snapshot' }).click();
    await item('before').locator('li[data-snapshot="cold"]').waitFor();
    expect(await item('cold').innerText()).toMatch(/\bDisk\b/);
    expect(await item('cold').innerText()).not.toContain('memory');
    expect((await snapshots()).find((s) => s.displayname === 'cold')).toMatchObject({ type: 'Disk', current: true });
    await ui.shot('vm-snapshots-stopped-light');
  });

  it('looks right in the dark theme', async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await inPage<string>(page, 'document.documentElement.dataset.theme')).toBe('dark');
    await item('cold').waitFor();
    await ui.shot('vm-snapshots-dark');
    await page.getByRole('link', { name: 'Volumes' }).click();
    await page.getByRole('table', { name: 'Volumes' }).locator('tbody tr').first().waitFor();
    await ui.shot('vm-volumes-dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
