/**
 * Backups in Chromium against `kiln serve` on the simulator (demo) zone, dummy provider: the admin's
 * Backup offerings page shows backups off in the zone, enables them, names the provider and what it
 * does (vSphere and XenServer zones use dummy), imports an offering; the VM's Backups tab assigns
 * it, backs up now, explains why a running VM cannot be restored, shows the schedule editor's next
 * runs and a saved schedule's next run, restores one volume onto another VM, restores the stopped
 * VM, deletes the backup. The Backup repositories panel shows the engine's refusal of an address
 * with a path. Screenshots: test-results/screenshots/backups-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { deployDemoVm, one, openUi, waitJob, type UiSession } from './ui-helpers.js';

let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;
let vmId = '';
let otherId = '';

async function open(hash: string): Promise<void> {
  await ui.page.goto(new URL(`/${hash}`, kiln.apiUrl).toString());
  await ui.page.getByRole('heading', { level: 1 }).waitFor();
}

describe('backups in Chromium (dummy provider, simulator zone)', () => {
  beforeAll(async () => {
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    vmId = await deployDemoVm(ui, 'bk-ui');
    otherId = await deployDemoVm(ui, 'bk-ui-other');
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
  });

  it("a VM's Backups tab while backups are off in its zone: a note naming the setting, with the way to the page that turns them on", async () => {
    const { page } = ui;
    // The tab asks once: the first backup read's 530 says backups are off, the other three are not sent.
    const backupReads: string[] = [];
    const count = (request: { url(): string; postData(): string | null }) => {
      const command = new URLSearchParams(request.postData() ?? '').get('command') ?? '';
      if (request.url().endsWith('/client/api') && /^listBackup/.test(command)) backupReads.push(command);
    };
    page.on('request', count);
    await open(`#/vms/${vmId}/backups`);
    const note = page.getByRole('note').filter({ hasText: 'backup.framework.enabled' });
    await note.waitFor();
    page.off('request', count);
    expect(backupReads).toEqual(['listBackupOfferings']);
    expect(await note.innerText()).toMatch(/^Backup and Recovery feature is disabled for the zone Demo: .*backup\.framework\.enabled=true\. Backup offerings turns them on per zone\.$/);
    expect(await page.getByRole('alert').filter({ hasText: 'Backup and Recovery' }).count()).toBe(0);
    await ui.shot('backups-vm-tab-off');
    await note.getByRole('link', { name: 'Backup offerings' }).click();
    await page.locator('[data-zone="Demo"]').getByText('Backups are off in this zone').waitFor();
  });

  it('the admin page: backups off in Demo, enabled, the provider named with what it does, an offering imported', async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Backup offerings' }).click();
    const zone = page.locator('[data-zone="Demo"]');
    await zone.getByText('Backups are off in this zone').waitFor();
    await ui.shot('backups-offerings-off');
    await zone.getByRole('button', { name: 'Enable backups' }).click();
    await zone.locator('[data-provider-offering="gold-policy"]').waitFor();
    expect(await zone.locator('[data-zone-provider]').innerText()).toMatch(/^Provider: dummy — records backups but copies no data\. vSphere and XenServer zones use it for now/);
    await zone.locator('[data-provider-offering="gold-policy"]').getByRole('button', { name: 'Import' }).click();
    await page.locator('tr[data-offering="Golden Policy"]').waitFor();
    expect(await page.locator('tr[data-offering="Golden Policy"]').innerText()).toMatch(/Golden Policy\s+Demo\s+dummy\s+allowed/);
    expect(await zone.locator('[data-provider-offering="gold-policy"]').getByRole('button', { name: 'Import' }).isDisabled()).toBe(true);
    await ui.shot('backups-offerings');
  });

  it('the Backup repositories panel: none yet, and the engine\'s refusal of an address with a path shown in its form', async () => {
    const { page } = ui;
    const panel = page.getByRole('region', { name: 'Backup repositories' });
    await panel.getByText('None yet: backups of the nas provider go to the backup store of each VM\'s own host.').waitFor();
    const form = panel.getByRole('form', { name: 'Add a backup repository' });
    await form.getByLabel('Zone').selectOption({ label: 'Demo' });
    await form.getByLabel('Name', { exact: true }).fill('Backup host');
    await form.getByLabel('Address').fill('ssh://10.0.0.9/srv/backups');
    await form.getByLabel('Private key').fill('-----BEGIN OPENSSH PRIVATE KEY-----');
    await form.getByRole('button', { name: 'Add repository' }).click();
    await form.getByText(/address: no path \(\/srv\/backups\): Kiln keeps its backups in its own directory/).waitFor();
    await ui.shot('backups-repositories');
  });

  it("the VM's Backups tab: assign, back up now, and why a running VM is not restored", async () => {
    const { page } = ui;
    await open(`#/vms/${vmId}/backups`);
    await page.getByLabel('Backup offering').selectOption({ label: 'Golden Policy (dummy)' });
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.locator('[data-offering]').filter({ hasText: 'Golden Policy' }).waitFor();
    expect(await page.locator('[data-provider-note]').innerText()).toMatch(/Provider dummy: records backups but copies no data/);
    await page.getByRole('button', { name: 'Back up now' }).click();
    const row = page.getByRole('table', { name: 'Backups of bk-ui' }).locator('tbody tr');
    await row.filter({ hasText: 'BackedUp' }).waitFor();
    expect(await row.first().innerText()).toMatch(/Full\s+1000\.0 KiB of 1\.0 GiB\s+BackedUp/);
    expect(await page.locator('[data-restore-note]').innerText()).toBe('Restoring needs the VM stopped (it is Running): a restore writes over its disks. Stop it first, or restore one volume onto another VM.');
    expect(await row.first().getByRole('button', { name: 'Restore', exact: true }).count()).toBe(0);
    await ui.shot('backups-vm-tab');
  });

  it('the schedule editor shows the next runs before saving; a saved schedule shows its next run; a day past 28 is refused', async () => {
    const { page } = ui;
    const editor = page.locator('.schedule-editor');
    await editor.getByLabel('Interval').selectOption('DAILY');
    await editor.getByLabel('Minute').fill('30');
    await editor.getByLabel('Hour (0-23)').fill('2');
    await editor.getByLabel('Time zone').fill('Asia/Seoul');
    await editor.getByLabel('Keep at most (0: all)').fill('3');
    await editor.getByRole('status', { name: 'Next runs' }).getByText(/^Next runs: /).waitFor();
    expect((await editor.getByRole('status', { name: 'Next runs' }).innerText()).split('·')).toHaveLength(3);
    await editor.getByRole('button', { name: 'Save schedule' }).click();
    const saved = page.locator('tr[data-schedule="DAILY"]');
    await saved.waitFor();
    expect(await saved.innerText()).toMatch(/DAILY\s+30:02\s+Asia\/Seoul\s+3 backups\s+.+\s+not yet/);
    const listed = await one<{ scheduled: string }>(ui, 'listBackupSchedule', 'backupschedule', { virtualmachineid: vmId });
    expect(listed.scheduled).toMatch(/T17:30:00\+0000$/);
    await editor.getByLabel('Interval').selectOption('MONTHLY');
    await editor.getByLabel('Day of the month (1-28)').fill('31');
    await editor.getByText(/^schedule: the day of the month must be between 1 and 28, not 31/).waitFor();
    expect(await editor.getByRole('button', { name: 'Save schedule' }).isDisabled()).toBe(true);
    await ui.shot('backups-schedule');
  });

  it('restores one volume onto another VM, then the stopped VM itself, then deletes the backup', async () => {
    const { page } = ui;
    const row = page.getByRole('table', { name: 'Backups of bk-ui' }).locator('tbody tr').first();
    await row.getByRole('button', { name: 'Restore a volume…' }).click();
    await page.getByLabel('Onto VM').selectOption({ label: 'bk-ui-other (Running)' });
    await ui.shot('backups-restore-volume');
    await page.getByRole('button', { name: 'Restore volume' }).click();
    await page.locator('.notices').getByText('Volume restored onto bk-ui-other').waitFor();
    const volumes = (await ui.api('listVolumes', { virtualmachineid: otherId }))['volume'] as { type: string }[];
    expect(volumes.map((v) => v.type).sort()).toEqual(['DATADISK', 'ROOT']);

    const stop = await ui.api('stopVirtualMachine', { id: vmId });
    expect((await waitJob(ui, String(stop['jobid'])))['jobstatus']).toBe(1);
    await page.locator('[data-restore-note]').waitFor({ state: 'detached' });
    await row.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('dialog').getByText(/Every volume of bk-ui is written back as it was on/).waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
    await page.locator('.notices').getByText('bk-ui restored from').waitFor();
    await row.getByRole('button', { name: /^Delete backup/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No backups yet.').waitFor();
    expect((await ui.api('listBackups', { virtualmachineid: vmId }))['backup']).toBeUndefined();
    await ui.shot('backups-deleted');
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
