/**
 * VM actions gated by capability, in Chromium against `kiln serve` and vcsim: a VMware VM (the
 * vSphere driver has no serial console; createConsoleEndpoint needs `consoleSerial` in listApis)
 * is offered its actions without Console, in the list's menu and the detail view's toolbar, while
 * a simulator VM beside it (serial console) has Console; the engine refuses a serial console and
 * the webmks display with 431, and the Console tab shows that reason. The actions vSphere offers work from the
 * UI: live migration to the other ESXi host (vCenter moves it) and a snapshot with memory
 * (vCenter's snapshot tree has it). Screenshots of each.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { asArray, asMoRef, asObject, asString, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { imageServer, vmwareZone, type VmwareZone } from '../vsphere/vmware-zone.js';
import { deployDemoVm, goTo, serveUiSuite, vmRow, waitJob, type UiSession } from './ui-helpers.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('VM actions gated by capability: a VMware VM in the UI (Chromium, vcsim)', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let images: Awaited<ReturnType<typeof imageServer>>;
  let ui: UiSession;
  let page: Page;
  let z: VmwareZone;
  let vm: { id: string; instancename: string; hostname: string };

  /** The VM as vCenter holds it: its host's name and its snapshots (name, with memory). */
  const vcenter = async () => {
    const inv = await retrieveInventory(admin, [
      { type: 'VirtualMachine', pathSet: ['name', 'runtime.host', 'snapshot'] },
      { type: 'HostSystem', pathSet: ['name'] },
    ]);
    const found = inv.find((o) => o.obj.type === 'VirtualMachine' && o.props['name'] === vm.instancename)!;
    const host = inv.find((o) => o.obj.type === 'HostSystem' && o.obj.value === asMoRef(found.props['runtime.host'])?.value);
    const tree = asArray(asObject(found.props['snapshot'])['rootSnapshotList']).map(asObject);
    return { host: asString(host?.props['name']), snapshots: tree.map((s) => asString(s['name'])) };
  };
  const menuItems = async (name: string) => {
    await vmRow(page, name).getByRole('button', { name: `Actions for ${name}` }).click();
    const items = await page.getByRole('menu').getByRole('menuitem').allInnerTexts();
    return items.map((t) => t.trim());
  };

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '1']);
    admin = await sim.connect();
    images = await imageServer();
  });
  serveUiSuite(
    async (suite) => {
      ui = suite.ui;
      page = ui.page;
      page.setDefaultTimeout(10_000);
      z = await vmwareZone(async (command, params) => {
        const body = await ui.api(command, params);
        return { status: typeof body['errorcode'] === 'number' ? body['errorcode'] : 200, body };
      }, sim, images.url);
      const job = await waitJob(ui, String((await ui.api('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-ui' }))['jobid']));
      if (job['jobstatus'] !== 1) throw new Error(`deploy failed: ${JSON.stringify(job['jobresult'])}`);
      vm = (job['jobresult'] as { virtualmachine: typeof vm }).virtualmachine;
      await deployDemoVm(ui, 'sim-ui');
    },
    {
      cleanup: async () => {
        admin?.close();
        await images?.close();
        sim?.stop();
      },
      timeoutMs: 120_000,
    },
  );

  it('the list: the VMware VM\'s menu has its actions but no Console (its host has no serial console); the simulator VM\'s menu has Console', async () => {
    const hosts = (await ui.api('listHosts', { hypervisor: 'VMware' }))['host'] as { capabilities: Record<string, unknown> }[];
    expect(hosts[0]!.capabilities).toMatchObject({ consoleSerial: false, liveMigration: true, memorySnapshots: true, snapshots: true });
    const apis = (await ui.api('listApis', { name: 'createConsoleEndpoint' }))['api'] as { capabilities?: string[] }[];
    expect(apis[0]!.capabilities).toEqual(['consoleSerial']);
    await goTo(ui, '#/vms', 'Virtual machines');
    await vmRow(page, 'vmw-ui').waitFor();
    const vmware = await menuItems('vmw-ui');
    expect(vmware).toEqual(expect.arrayContaining(['Stop', 'Force stop', 'Reboot', 'Scale…', 'Migrate…', 'Attach ISO…', 'Destroy']));
    expect(vmware).not.toContain('Console');
    await ui.shot('vsphere-actions-menu');
    await page.keyboard.press('Escape');
    const simulated = await menuItems('sim-ui');
    expect(simulated).toContain('Console');
    await page.keyboard.press('Escape');
  });

  it('the detail view: the toolbar offers the same, without Console', async () => {
    await vmRow(page, 'vmw-ui').getByRole('link', { name: 'vmw-ui', exact: true }).click();
    await page.getByRole('heading', { name: 'vmw-ui', level: 1 }).waitFor();
    const toolbar = page.getByRole('toolbar', { name: 'Actions for vmw-ui' });
    await expect.poll(() => toolbar.getByRole('button').allInnerTexts()).toContain('Migrate…');
    const buttons = await toolbar.getByRole('button').allInnerTexts();
    expect(buttons).toEqual(expect.arrayContaining(['Stop', 'Reboot', 'Scale…', 'Migrate…', 'Attach ISO…']));
    expect(buttons).not.toContain('Console');
    expect(await page.getByRole('main').innerText()).toContain('VMware');
    await ui.shot('vsphere-actions-detail');
  });

  it('Console: the engine refuses a serial console (431 naming type), and the Console tab shows its reason for the webmks display instead of a dead console', async () => {
    const serial = await ui.api('createConsoleEndpoint', { virtualmachineid: vm.id });
    expect([serial['errorcode'], serial['errortext']]).toEqual([431, 'type: VM vmw-ui has no serial console on its host (its console: webmks)']);
    const graphical = await ui.api('createConsoleEndpoint', { virtualmachineid: vm.id, type: 'graphical' });
    expect([graphical['errorcode'], graphical['errortext']]).toEqual([431, "type: the graphical console of VM vmw-ui speaks webmks, which Kiln's console client cannot show"]);
    await page.getByRole('navigation', { name: 'VM sections' }).getByRole('link', { name: 'Console' }).click();
    const panel = page.locator('.console-tab');
    await expect.poll(() => panel.innerText()).toContain("speaks webmks, which Kiln's console client cannot show");
    expect(await panel.innerText()).not.toContain('Retrying');
    // The reason stands alone: no empty (black) console pane under it.
    expect(await panel.locator('.console-screen').isVisible()).toBe(false);
    await ui.shot('vsphere-actions-console');
    await page.getByRole('navigation', { name: 'VM sections' }).getByRole('link', { name: 'Overview' }).click();
  });

  it('Migrate…: the other ESXi host is offered and the VM moves there live; vCenter has it on that host', async () => {
    const from = (await vcenter()).host!;
    expect(from).toBe(vm.hostname);
    const to = from === 'DC0_C0_H0' ? 'DC0_C0_H1' : 'DC0_C0_H0';
    await page.getByRole('toolbar', { name: 'Actions for vmw-ui' }).getByRole('button', { name: 'Migrate…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('radio', { name: new RegExp(to) }).check();
    await ui.shot('vsphere-actions-migrate');
    await dialog.getByRole('button', { name: 'Migrate' }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 30_000 }).toContain(`vmw-ui was migrated live from ${from} to ${to}`);
    expect((await vcenter()).host).toBe(to);
    await ui.shot('vsphere-actions-migrated');
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  });

  it('Snapshots: a snapshot with memory of the running VM; vCenter\'s tree has it and Kiln lists it with memory', async () => {
    await page.getByRole('navigation', { name: 'VM sections' }).getByRole('link', { name: 'Snapshots' }).click();
    const form = page.getByRole('form', { name: 'Take a snapshot' });
    await form.getByRole('textbox', { name: 'Name' }).fill('before-upgrade');
    const memory = form.getByRole('checkbox', { name: 'Include memory' });
    expect(await memory.isDisabled()).toBe(false);
    expect(await memory.isChecked()).toBe(true);
    await form.getByRole('button', { name: 'Take snapshot' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'snapshot before-upgrade taken' }).count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.getByRole('list', { name: 'Snapshots of vmw-ui' }).innerText()).toContain('before-upgrade');
    const listed = (await ui.api('listVMSnapshot', { virtualmachineid: vm.id }))['vmSnapshot'] as { displayname: string; type: string }[];
    expect(listed.map((s) => [s.displayname, s.type])).toEqual([['before-upgrade', 'DiskAndMemory']]);
    // vCenter holds it under Kiln's internal snapshot name, as CloudStack names VM snapshots.
    expect((await vcenter()).snapshots).toEqual([expect.stringMatching(/^VM-[0-9a-f-]{36}_VS_\d{14}$/)]);
    await ui.shot('vsphere-actions-snapshot');
  });
});
