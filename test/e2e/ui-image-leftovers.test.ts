/**
 * Images and the deploy wizard in Chromium against `kiln serve` on the simulator zone:
 * - deleting a template a VM uses: the engine's refusal is shown word for word with a second
 *   question (listApis publishes deleteTemplate's boolean forced); "Keep it" deletes nothing and
 *   the notice quotes the refusal, "Delete anyway" deletes it forced;
 * - the wizard's ISO list follows the live feed: an ISO registered while the wizard is open
 *   appears among the ISOs once downloaded, without reopening the wizard;
 * - the review shows the sizes the deploy sends: a custom disk size or custom CPU/memory typed
 *   before a fixed offering was chosen is not shown any more.
 * Screenshots: test-results/screenshots/leftovers-*.png.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { goTo, serveUiSuite, waitJob, type UiSession } from './ui-helpers.js';
import { TINY_QCOW2, tinyIso } from '../helpers/tiny-images.js';

let ui: UiSession;
let server: Server | undefined;
let base = '';
const ISO = tinyIso(256 * 1024);
const QCOW2 = TINY_QCOW2;
const notices = () => ui.page.locator('.notices').innerText();
const imageRow = (name: string) => ui.page.locator(`tr[data-image="${name}"]`);
const reviewRow = (label: string) => ui.page.locator('.review .field').filter({ has: ui.page.locator('dt', { hasText: new RegExp(`^${label}$`) }) }).locator('dd');
const stepButton = (label: string) => ui.page.getByRole('navigation', { name: 'Deploy steps' }).getByRole('button', { name: new RegExp(label) });

async function apiJob(command: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const started = await ui.api(command, params);
  if (typeof started['jobid'] !== 'string') throw new Error(`${command}: ${JSON.stringify(started)}`);
  const done = await waitJob(ui, started['jobid']);
  if (done['jobstatus'] !== 1) throw new Error(`${command}: ${JSON.stringify(done['jobresult'])}`);
  return done['jobresult'] as Record<string, unknown>;
}

async function registered(command: 'registerTemplate' | 'registerIso', params: Record<string, string>): Promise<string> {
  const zoneid = ((await ui.api('listZones', { name: 'Demo' }))['zone'] as { id: string }[])[0]!.id;
  const ostypeid = ((await ui.api('listOsTypes', {}))['ostype'] as { id: string }[])[0]!.id;
  const res = await ui.api(command, { zoneid, ostypeid, displaytext: params['name'] ?? 'image', ...params });
  const id = ((res[command === 'registerIso' ? 'iso' : 'template'] as { id: string }[] | undefined) ?? [])[0]?.id;
  if (!id) throw new Error(`${command}: ${JSON.stringify(res)}`);
  return id;
}

describe('image leftovers in Chromium: forced template delete, live ISO list, review sizes', () => {
  serveUiSuite(
    async (suite) => {
      ui = suite.ui;
      server = createServer((req, res) => {
        const body = req.url === '/live.iso' ? ISO : req.url === '/used.qcow2' ? QCOW2 : undefined;
        if (!body) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': String(body.length) }).end(body);
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    {
      cleanup: async () => {
        server?.closeAllConnections();
        await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      },
    },
  );

  it("shows the engine's refusal for a template a VM uses, and deletes it forced only after a second yes", async () => {
    const { page } = ui;
    const templateid = await registered('registerTemplate', { name: 'used-tmpl', format: 'QCOW2', hypervisor: 'Simulator', url: `${base}/used.qcow2` });
    await expect.poll(async () => (((await ui.api('listTemplates', { templatefilter: 'all', id: templateid }))['template'] as { isready: boolean }[])[0]!.isready), { timeout: 30_000 }).toBe(true);
    const zoneid = ((await ui.api('listZones', { name: 'Demo' }))['zone'] as { id: string }[])[0]!.id;
    const serviceofferingid = ((await ui.api('listServiceOfferings', { name: 'Small Instance' }))['serviceoffering'] as { id: string }[])[0]!.id;
    await apiJob('deployVirtualMachine', { zoneid, templateid, serviceofferingid, name: 'tmpl-user' });
    const refusal = 'id: template used-tmpl is used by VM tmpl-user; expunge them first, or give forced=true';

    await goTo(ui, '#/images', 'Templates and ISOs');
    const remove = async () => {
      await imageRow('used-tmpl').getByRole('button', { name: 'Delete template used-tmpl' }).click();
      await page.getByRole('dialog', { name: 'Delete template used-tmpl?' }).getByRole('button', { name: 'Delete' }).click();
      const second = page.getByRole('dialog', { name: 'Template used-tmpl is in use' });
      await second.waitFor();
      return second;
    };
    // First "Keep it": nothing is deleted, and the notice says why in the engine's words.
    let second = await remove();
    expect(await second.locator('p').innerText()).toBe(refusal);
    expect(await second.locator('.dialog-details').innerText()).toBe('Deleting it anyway leaves those VMs their disks; they can no longer be reinstalled from it.');
    await ui.shot('leftovers-forced-question');
    await second.getByRole('button', { name: 'Keep it' }).click();
    await expect.poll(notices).toContain(`Could not delete template used-tmpl: ${refusal}`);
    expect((((await ui.api('listTemplates', { templatefilter: 'all', id: templateid }))['template'] as unknown[] | undefined) ?? []).length).toBe(1);
    expect(await imageRow('used-tmpl').count()).toBe(1);

    // Then "Delete anyway": deleteTemplate forced=true.
    second = await remove();
    await second.getByRole('button', { name: 'Delete anyway' }).click();
    await expect.poll(notices).toContain('Template used-tmpl deleted');
    await expect.poll(() => imageRow('used-tmpl').count()).toBe(0);
    expect((await ui.api('listTemplates', { templatefilter: 'all', id: templateid }))['template']).toBeUndefined();
    await ui.shot('leftovers-forced-deleted');
    // The VM keeps running from its own disk.
    const vm = ((await ui.api('listVirtualMachines', { name: 'tmpl-user' }))['virtualmachine'] as { state: string }[])[0]!;
    expect(vm.state).toBe('Running');
    expect(ui.pageErrors).toEqual([]);
  });

  it('the wizard offers an ISO registered while it is open, once it is downloaded', async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Deploy VM' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Zone' }).inputValue()).not.toBe('');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /^ISO/ }).check();
    const isoOptions = () => page.getByRole('combobox', { name: 'ISO' }).locator('option').allInnerTexts();
    await expect.poll(isoOptions).toContain('Debian 12 netinst');
    expect(await isoOptions()).not.toContain('live-iso');
    await registered('registerIso', { name: 'live-iso', url: `${base}/live.iso` });
    await expect.poll(isoOptions, { timeout: 30_000 }).toContain('live-iso');
    await page.getByRole('combobox', { name: 'ISO' }).selectOption({ label: 'live-iso' });
    await ui.shot('leftovers-wizard-live-iso');
    expect(ui.pageErrors).toEqual([]);
  });

  it('the review shows the disk size and custom CPU/memory that are sent, not ones left from an earlier choice', async () => {
    const { page } = ui;
    // Still on the Image step with live-iso chosen: a custom-size disk offering and a size.
    await page.getByRole('combobox', { name: 'Disk offering (the root disk)' }).selectOption({ label: 'Custom (custom size)' });
    // The label says GiB, the unit deployVirtualMachine multiplies size by (the review's 50.0 GiB below).
    expect(await page.locator('label', { hasText: /^Disk size/ }).innerText()).toBe('Disk size (GiB)');
    await page.getByLabel('Disk size (GiB)', { exact: true }).fill('50');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /^Custom\b/ }).first().check();
    await page.getByLabel(/^CPU cores/).fill('2');
    if (await page.getByLabel('CPU speed (MHz)').count()) await page.getByLabel('CPU speed (MHz)').fill('1000');
    expect(await page.locator('label', { hasText: /^Memory/ }).innerText()).toMatch(/^Memory \(MiB\)( \(.*\))?$/);
    await page.getByLabel(/^Memory \(MiB\)/).fill('1024');
    // Network, Names, SSH keys, User data: as they are.
    for (let i = 0; i < 5; i++) await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: '8. Review' }).waitFor();
    expect(await reviewRow('Root disk').innerText()).toBe('Custom (custom size), 50.0 GiB');
    expect(await reviewRow('Offering').innerText()).toMatch(/^Custom.* \(2 vCPU, 1024 MB\)$/);
    await ui.shot('leftovers-review-custom');

    // A fixed disk offering and a fixed service offering: their own sizes, nothing typed before.
    await stepButton('Image').click();
    await page.getByRole('combobox', { name: 'Disk offering (the root disk)' }).selectOption({ label: 'Small (5.0 GiB)' });
    await stepButton('Offering').click();
    await page.getByRole('radio', { name: /Small Instance/ }).check();
    await stepButton('Review').click();
    await page.getByRole('heading', { name: '8. Review' }).waitFor();
    expect(await reviewRow('Root disk').innerText()).toBe('Small (5.0 GiB)');
    expect(await reviewRow('Offering').innerText()).toBe('Small Instance');
    await ui.shot('leftovers-review-fixed');
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  });
});
