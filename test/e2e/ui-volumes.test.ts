/**
 * The VM's Volumes tab in Chromium against `kiln serve` on the simulator zone: a disk added from
 * the custom offering (the size field checked with the engine's published rule first), resized
 * (a smaller size asks for "allow shrinking"), detached into the account's detached disks,
 * attached again, and deleted. While the VM has a VM snapshot (R35) or a backup (R57), add, attach
 * and detach are disabled beforehand with the engine's own reason (the VM response's
 * volumechangeblocked, the words attachVolume's 431 uses), and enabled again once it is gone. Each step
 * is checked in the page's text and in listVolumes. Screenshots: test-results/screenshots/vm-volumes-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { deployDemoVm, openUi, waitJob, type UiSession } from './ui-helpers.js';

const NAME = 'vol-ui';
const GiB = 1024 ** 3;

let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;
let vmId = '';

interface VolumeInfo { id: string; name: string; size: number; state: string; zoneid: string; deviceid?: number; virtualmachineid?: string }
const volume = async (name: string) => (((await ui.api('listVolumes', { name }))['volume'] as VolumeInfo[] | undefined) ?? [])[0];
const notices = () => ui.page.locator('.notices').innerText();
const attachedTable = () => ui.page.getByRole('table', { name: 'Volumes', exact: true });
const detachedTable = () => ui.page.getByRole('table', { name: 'Detached volumes' });
/** A row's cells as text, its action buttons as one cell of their labels. */
const rowText = async (table: ReturnType<typeof attachedTable>, name: string) => {
  const row = table.locator(`tr[data-volume="${name}"]`);
  const cells = (await row.locator('td:not(.volume-actions)').allInnerTexts()).map((t) => t.trim());
  return [...cells, (await row.locator('td.volume-actions button').allInnerTexts()).join(' ')];
};

describe('the Volumes tab in Chromium', () => {
  beforeAll(async () => {
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    vmId = await deployDemoVm(ui, NAME);
    await ui.page.goto(new URL(`/#/vms/${vmId}/volumes`, kiln.apiUrl).toString());
    await attachedTable().locator('tbody tr[data-volume-type="ROOT"]').waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it('adds a disk from the custom offering: a bad size is refused in the form with the engine\'s rule, a good one attaches it as device 1', async () => {
    const form = ui.page.getByRole('form', { name: 'Add a disk' });
    await form.getByLabel('Disk offering').selectOption({ label: 'Custom (custom size)' });
    // The label says the unit the engine multiplies by (1024³: 2 gives 2 * GiB below), not "GB".
    expect(await form.locator('label.inline-label').allInnerTexts()).toEqual(['Disk offering', 'Size (GiB)', 'Name']);
    await form.getByLabel('Size (GiB)', { exact: true }).fill('2000');
    await form.getByRole('alert').waitFor();
    expect(await form.getByRole('alert').innerText()).toBe('size: "2000" is not a volume size in GiB: a whole number from 1 to 1024');
    expect(await form.getByRole('button', { name: 'Add disk' }).isDisabled()).toBe(true);
    await form.getByLabel('Size (GiB)', { exact: true }).fill('2');
    await form.getByLabel('Name').fill('data-one');
    await form.getByRole('button', { name: 'Add disk' }).click();
    await expect.poll(notices).toContain(`${NAME}: disk data-one (2.0 GiB) attached as device 1`);
    const made = (await volume('data-one'))!;
    expect(made).toMatchObject({ size: 2 * GiB, state: 'Ready', deviceid: 1, virtualmachineid: vmId });
    // The root admin sees where it lives: Kiln's volume name in the host's pool.
    await expect.poll(() => rowText(attachedTable(), 'data-one')).toEqual(['data-one', 'DATADISK', '1', '2.0 GiB', 'Ready', `${made.id}.qcow2`, 'Resize Move Detach']);
    // Move (migrateVolume) is offered but off while the VM runs, saying why.
    const move = attachedTable().getByRole('button', { name: 'Move data-one' });
    expect([await move.isDisabled(), await move.getAttribute('title')]).toEqual([true, 'stop vol-ui to move its disks to another storage pool']);
    await ui.shot('vm-volumes-added');
  });

  it('resizes: a smaller size needs "allow shrinking"; growing to 3 GiB shows in the table', async () => {
    await attachedTable().getByRole('button', { name: 'Resize data-one' }).click();
    const dialog = ui.page.getByRole('dialog', { name: 'Resize data-one' });
    expect(await dialog.locator('label[for]').first().innerText()).toBe('New size (GiB)');
    await dialog.getByLabel('New size (GiB)', { exact: true }).fill('1');
    expect(await dialog.getByRole('alert').innerText()).toBe('size: 1 GiB is smaller than 2 GiB; shrinking loses data, allow it below');
    expect(await dialog.getByRole('button', { name: 'Resize' }).isDisabled()).toBe(true);
    expect(await dialog.getByRole('checkbox', { name: /Allow shrinking/ }).isVisible()).toBe(true);
    await ui.shot('vm-volumes-resize-dialog');
    await dialog.getByLabel('New size (GiB)', { exact: true }).fill('3');
    await dialog.getByRole('button', { name: 'Resize' }).click();
    await expect.poll(notices).toContain('data-one resized to 3.0 GiB');
    await expect.poll(async () => (await rowText(attachedTable(), 'data-one'))[3]).toBe('3.0 GiB');
    expect((await volume('data-one'))!.size).toBe(3 * GiB);
  });

  it('detaches into the detached disks after a confirmation, and attaches again', async () => {
    await attachedTable().getByRole('button', { name: 'Detach data-one' }).click();
    const confirm = ui.page.getByRole('dialog', { name: `Detach data-one from ${NAME}?` });
    await confirm.getByRole('button', { name: 'Detach' }).click();
    await expect.poll(notices).toContain(`data-one detached from ${NAME}`);
    await expect.poll(() => rowText(detachedTable(), 'data-one')).toEqual(['data-one', '3.0 GiB', 'Ready', 'Attach Resize Delete']);
    expect(await attachedTable().locator('tr[data-volume="data-one"]').count()).toBe(0);
    expect((await volume('data-one'))!.virtualmachineid).toBeUndefined();
    await ui.shot('vm-volumes-detached');
    await detachedTable().getByRole('button', { name: 'Attach data-one' }).click();
    await expect.poll(notices).toContain(`data-one attached to ${NAME} as device 1`);
    await expect.poll(async () => (await rowText(attachedTable(), 'data-one')).slice(0, 5)).toEqual(['data-one', 'DATADISK', '1', '3.0 GiB', 'Ready']);
  });

  /** The controls that change the VM's set of volumes, as [label, disabled, title]. */
  const changeControls = async () => {
    const add = ui.page.getByRole('form', { name: 'Add a disk' }).getByRole('button', { name: 'Add disk' });
    const attach = detachedTable().getByRole('button', { name: 'Attach spare' });
    const detach = attachedTable().getByRole('button', { name: 'Detach data-one' });
    return Promise.all([add, attach, detach].map(async (b) => [await b.innerText(), await b.isDisabled(), await b.getAttribute('title')]));
  };
  const ruleNote = () => ui.page.locator('.vm-volumes .volume-rule');

  it('disables add, attach and detach with the engine\'s reason while the VM has a VM snapshot (R35), and enables them once it is deleted', async () => {
    const small = ((await ui.api('listDiskOfferings', { name: 'Small' }))['diskoffering'] as { id: string }[])[0]!.id;
    const made = await ui.api('createVolume', { zoneid: (await volume('data-one'))!.zoneid, diskofferingid: small, name: 'spare' });
    await waitJob(ui, String(made['jobid']));
    await ui.page.getByRole('form', { name: 'Add a disk' }).getByLabel('Disk offering').selectOption({ label: 'Small (5.0 GiB)' });
    await expect.poll(async () => (await changeControls()).map((c) => c[1])).toEqual([false, false, false]);
    expect(await ruleNote().count()).toBe(0);
    const snap = await ui.api('createVMSnapshot', { virtualmachineid: vmId, name: 'pin' });
    const snapJob = await waitJob(ui, String(snap['jobid']));
    // The engine's own words: what attachVolume answers now is what the tab shows before anyone tries.
    const refused = await ui.api('attachVolume', { id: (await volume('spare'))!.id, virtualmachineid: vmId });
    const reason = `VM ${NAME} has 1 VM snapshot; its volumes cannot change while they exist, so delete them first`;
    expect(refused).toMatchObject({ errorcode: 431, errortext: `virtualmachineid: ${reason}` });
    // The tab reads the rule again when the snapshot's job ends (no reload).
    await expect.poll(() => ruleNote().innerText().catch(() => '')).toBe(`Disks cannot be added, attached or detached now: ${reason}.`);
    expect(await changeControls()).toEqual([['Add disk', true, reason], ['Attach', true, reason], ['Detach', true, reason]]);
    // Resize and deleting a detached disk are not volume-set changes of this VM: still offered.
    expect(await detachedTable().getByRole('button', { name: 'Delete spare' }).isDisabled()).toBe(false);
    await ui.shot('vm-volumes-blocked-by-snapshot');
    expect((await volume('spare'))!.virtualmachineid).toBeUndefined();
    await waitJob(ui, String((await ui.api('deleteVMSnapshot', { vmsnapshotid: (snapJob['jobresult'] as { vmsnapshot: { id: string } }).vmsnapshot.id }))['jobid']));
    await expect.poll(async () => (await changeControls()).map((c) => c[1])).toEqual([false, false, false]);
    expect(await ruleNote().count()).toBe(0);
  });

  it("disables them with the engine's reason while the VM has a backup (R57), and enables them once it is deleted", async () => {
    const zoneid = (await volume('data-one'))!.zoneid;
    const job = async (command: string, params: Record<string, string>) => {
      const started = await ui.api(command, params);
      const done = await waitJob(ui, String(started['jobid']));
      expect(done['jobstatus'], `${command}: ${JSON.stringify(done['jobresult'] ?? started)}`).toBe(1);
      return done['jobresult'] as Record<string, Record<string, string>>;
    };
    expect((await ui.api('updateConfiguration', { name: 'backup.framework.enabled', value: 'true', zoneid }))['configuration']).toBeDefined();
    const offering = (await job('importBackupOffering', { zoneid, externalid: 'gold-policy', name: 'Gold', description: 'gold', allowuserdrivenbackups: 'true' }))['backupoffering']!;
    await job('assignVirtualMachineToBackupOffering', { virtualmachineid: vmId, backupofferingid: offering['id']! });
    const backup = (await job('createBackup', { virtualmachineid: vmId }))['backup']!;
    const reason = `VM ${NAME} has 1 backup; volumes cannot be added to or removed from a VM with backups, so delete them first`;
    expect(await ui.api('attachVolume', { id: (await volume('spare'))!.id, virtualmachineid: vmId })).toMatchObject({ errorcode: 431, errortext: `virtualmachineid: ${reason}` });
    await expect.poll(() => ruleNote().innerText().catch(() => '')).toBe(`Disks cannot be added, attached or detached now: ${reason}.`);
    expect(await changeControls()).toEqual([['Add disk', true, reason], ['Attach', true, reason], ['Detach', true, reason]]);
    await ui.shot('vm-volumes-blocked-by-backup');
    await job('deleteBackup', { id: backup['id']! });
    await expect.poll(async () => (await changeControls()).map((c) => c[1])).toEqual([false, false, false]);
    expect(await ruleNote().count()).toBe(0);
    await job('removeVirtualMachineFromBackupOffering', { virtualmachineid: vmId });
  });

  it('deletes a detached disk', async () => {

    await detachedTable().getByRole('button', { name: 'Delete spare' }).click();
    await ui.page.getByRole('dialog', { name: 'Delete spare?' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(notices).toContain('spare deleted');
    await expect.poll(() => detachedTable().count()).toBe(0);
    expect(await volume('spare')).toBeUndefined();
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  });
});
