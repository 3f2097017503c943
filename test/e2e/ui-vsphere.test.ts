/**
 * vSphere in the UI, in Chromium against `kiln serve` and vcsim: the add-vCenter dialog built from
 * the driver's published connection form (the certificate's SHA-256 thumbprint read first and
 * shown exactly as vcsim presents it, confirmed, then addCluster pins it and the cluster's ESXi
 * hosts are listed Up); actions gated by capability (the KVM-style add-host dialog does not offer
 * the vCenter cluster: its driver adds a whole cluster per URL, trusted by TLS); the deploy
 * wizard's OVA step (deployment options, typed properties with the password masked and checked
 * by the engine's rule, the EULA that must be accepted, one network per NIC, offerings filtered
 * by the option); and the VMware VM it deploys in the list and the detail view, its size that of
 * the option, as vcsim holds it. Screenshots of each.
 */
import { createReadStream } from 'node:fs';
import Database from 'better-sqlite3';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { MoRef, getProperties, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { buildOva } from '../helpers/ova-fixture.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { goTo, one, openUi, vmRow, waitJob, type UiSession } from './ui-helpers.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('vSphere in the UI (Chromium, vcsim)', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let kiln: KilnProcess;
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  let files: Server;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-vm', '0']);
    admin = await sim.connect();
    const ova = buildOva();
    files = createServer((req, res) => (req.url === '/appliance.ova' ? (res.writeHead(200), createReadStream(ova.path).pipe(res)) : res.writeHead(404).end()));
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    const id = async (cmd: string, params: Record<string, string>, key: string) => ((await ui.api(cmd, params))[key] as { id: string }).id;
    ids['zone'] = await id('createZone', { name: 'vSphere' }, 'zone');
    ids['pod'] = await id('createPod', { name: 'vSphere pod', zoneid: ids['zone'] }, 'pod');
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
    await admin?.logout().catch(() => undefined);
    files?.close();
    sim?.stop();
  });

  it('adds a vCenter cluster: the thumbprint is read first, shown and confirmed, and the ESXi hosts come Up', async () => {
    await goTo(ui, '#/hosts', 'Hosts');
    await page.getByRole('button', { name: 'Add endpoint cluster…' }).click();
    // The hypervisors whose one URL adds a cluster, from listHypervisorCapabilities (XenServer's pool may be one too).
    const hypervisor = page.getByRole('dialog').getByRole('combobox', { name: 'Hypervisor' });
    expect(await hypervisor.locator('option').allInnerTexts()).toContain('VMware');
    await hypervisor.selectOption('VMware');
    const dialog = page.getByRole('form', { name: 'Add a VMware cluster' });
    await dialog.waitFor();
    await dialog.getByRole('combobox', { name: 'Zone' }).selectOption({ label: 'vSphere' });
    await expect.poll(() => dialog.getByRole('combobox', { name: 'Pod' }).inputValue()).toBe(ids['pod']);
    await dialog.getByRole('textbox', { name: 'Cluster name (in Kiln)' }).fill('vc-cluster');
    const url = dialog.getByRole('textbox', { name: 'Endpoint URL' });
    // The driver's own example and rule, as listHypervisorCapabilities publishes them.
    expect(await url.getAttribute('placeholder')).toBe('https://vcenter.example.com/Datacenter/Cluster');
    await expect.poll(() => dialog.innerText()).toContain('a vCenter cluster is https://VCENTER[:port]/DATACENTER/CLUSTER');
    await url.fill(`https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`);
    await dialog.getByRole('textbox', { name: 'Username' }).fill(sim.info.username);
    await dialog.getByLabel('Password').fill(sim.info.password);
    const add = dialog.getByRole('button', { name: 'Add cluster' });
    expect(await add.isDisabled()).toBe(true);
    // Before the real one: an address nothing answers on shows probeEndpointTrust's 534 in the dialog, and nothing can be added.
    await url.fill('https://127.0.0.1:1/DC0/DC0_C0');
    await dialog.getByRole('button', { name: 'Check certificate' }).click();
    await expect.poll(() => dialog.getByRole('alert').innerText()).toMatch(/Could not read the TLS certificate:[\s\S]*534[\s\S]*127\.0\.0\.1:1 cannot be reached for its certificate/);
    expect(await add.isDisabled()).toBe(true);
    await url.fill(`https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`);
    await dialog.getByRole('button', { name: 'Check certificate' }).click();
    const shown = dialog.locator('.fingerprint');
    await shown.waitFor();
    expect(await shown.innerText()).toBe(sim.info.thumbprint);
    expect(await dialog.getByRole('status').innerText()).toContain('presents this TLS certificate (SHA-256)');
    // Not confirmed yet: nothing can be added.
    expect(await add.isDisabled()).toBe(true);
    await ui.shot('vsphere-add-vcenter');
    await dialog.getByRole('checkbox', { name: /The thumbprint matches/ }).check();
    await add.click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Cluster vc-cluster added' }).count(), { timeout: 20_000 }).toBeGreaterThan(0);
    const hosts = (await ui.api('listHosts', { hypervisor: 'VMware' }))['host'] as { name: string; state: string; clustername: string; hostkeyfingerprint?: string }[];
    expect(hosts.map((h) => [h.name, h.state, h.clustername, h.hostkeyfingerprint])).toEqual([
      ['DC0_C0_H0', 'Up', 'vc-cluster', sim.info.thumbprint],
      ['DC0_C0_H1', 'Up', 'vc-cluster', sim.info.thumbprint],
    ]);
    await expect.poll(() => page.getByRole('main').innerText()).toContain('DC0_C0_H1');
    // The pinned thumbprint is shown as what it is: a TLS certificate's, not an SSH key's.
    const hostRow = page.getByRole('row').filter({ hasText: 'DC0_C0_H1' });
    expect(await hostRow.locator('.fingerprint-cell').innerText()).toBe(`TLS certificate ${sim.info.thumbprint}`.replace(/\s+/g, ' '));
    await ui.shot('vsphere-hosts');
  });

  it('probeEndpointTrust refuses an unknown hypervisor and a URL the driver cannot read, naming the parameter', async () => {
    const nope = await ui.api('probeEndpointTrust', { hypervisor: 'Nope', url: 'https://x' });
    expect([nope['errorcode'], String(nope['errortext'])]).toEqual([431, expect.stringMatching(/^hypervisor: no driver for Nope/)]);
    const ftp = await ui.api('probeEndpointTrust', { hypervisor: 'VMware', url: 'ftp://vcenter/DC/C' });
    expect([ftp['errorcode'], String(ftp['errortext'])]).toEqual([431, expect.stringMatching(/^url: /)]);
  });

  it('gates by capability: the add-host dialog (one host per URL, SSH keys) does not offer the vCenter cluster', async () => {
    await page.getByRole('button', { name: 'Add host' }).click();
    const dialog = page.getByRole('form', { name: 'Add a KVM host' });
    const clusters = await dialog.getByRole('combobox', { name: 'Cluster' }).locator('option').allInnerTexts();
    expect(clusters.some((c) => c.includes('vc-cluster'))).toBe(false);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  it('the OVA step: options, typed properties, the EULA, a network per NIC and offerings filtered by the option; the VM runs with the option\'s size', async () => {
    ids['mgmt'] = ((await ui.api('createNetwork', { name: 'VM Network', zoneid: ids['zone']! }))['network'] as { id: string }).id;
    ids['data'] = ((await ui.api('createNetwork', { name: 'DC0_DVPG0', zoneid: ids['zone']! }))['network'] as { id: string }).id;
    for (const [name, cpu, mem] of [['ova-tiny', '1', '512'], ['ova-small', '1', '1024'], ['ova-large', '2', '2048']] as const) {
      await ui.api('createServiceOffering', { name, cpunumber: cpu, cpuspeed: '500', memory: mem });
    }
    const os = ((await ui.api('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    const reg = await ui.api('registerTemplate', { name: 'Kiln appliance', format: 'OVA', hypervisor: 'VMware', ostypeid: os, zoneid: ids['zone']!, url: `http://127.0.0.1:${(files.address() as AddressInfo).port}/appliance.ova` });
    const templateId = ((reg['template'] as { id: string }[])[0]!).id;
    await expect.poll(async () => (await one<{ isready: boolean }>(ui, 'listTemplates', 'template', { templatefilter: 'all', id: templateId })).isready, { timeout: 20_000 }).toBe(true);

    await page.getByRole('link', { name: 'Deploy VM' }).click();
    const zone = page.getByRole('combobox', { name: 'Zone' });
    await zone.selectOption({ label: 'vSphere' });
    // The zone picked is the one shown (a pick made before the wizard's first-zone default ran was
    // once replaced by the Demo zone, whose templates were then offered: ui-deploy-zone-pick).
    expect(await zone.locator('option:checked').innerText()).toBe('vSphere');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('combobox', { name: 'Template' }).selectOption({ label: 'Kiln appliance' });
    const step = page.getByRole('region', { name: 'Appliance settings' });
    await step.waitFor();
    expect(await step.getByRole('radio', { name: /Small/ }).isChecked()).toBe(true);
    const password = step.getByLabel('Admin password');
    expect(await password.getAttribute('type')).toBe('password');
    expect(await step.getByRole('combobox', { name: 'Role' }).inputValue()).toBe('router');
    expect(await step.getByRole('spinbutton', { name: 'Worker threads' }).getAttribute('max')).toBe('255');
    expect(await step.getByRole('checkbox', { name: /Enable SSH/ }).isChecked()).toBe(false);
    expect(await step.getByRole('textbox', { name: 'Build' }).isDisabled()).toBe(true);
    expect(await step.getByLabel('Licence text').innerText()).toContain('<b>No warranty</b>');
    // The engine's rule, before any call: a short password, and the EULA not accepted.
    await password.fill('short');
    await page.getByRole('button', { name: 'Next' }).click();
    const alert = await page.getByRole('alert').innerText();
    expect(alert).toContain('Admin password (guestinfo.password): at least 8 characters');
    expect(alert).toContain('Accept the licence agreement to deploy this appliance.');
    await password.fill('correct-horse');
    await step.getByRole('radio', { name: /Large/ }).check();
    await step.getByRole('checkbox', { name: 'I accept the licence agreement' }).check();
    await ui.shot('vsphere-ova-step');
    await page.getByRole('button', { name: 'Next' }).click();
    // R38: only the offerings that meet Large's 2 vCPU and 2048 MB.
    await expect.poll(() => page.getByRole('note').innerText()).toContain('Deployment option Large needs 2 vCPU and 2048 MB');
    const offered = await page.locator('.offering-list .offering-name').allInnerTexts();
    expect(offered).toContain('ova-large');
    expect(offered).not.toContain('ova-small');
    expect(offered).not.toContain('ova-tiny');
    await page.getByRole('radio', { name: /ova-large/ }).check();
    await ui.shot('vsphere-ova-offerings');
    await page.getByRole('button', { name: 'Next' }).click();
    const nics = page.getByRole('group', { name: 'Appliance NICs' });
    await nics.getByRole('combobox', { name: /Network adapter 1/ }).selectOption({ label: 'VM Network' });
    await nics.getByRole('combobox', { name: /Network adapter 2/ }).selectOption({ label: 'DC0_DVPG0' });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('textbox', { name: "Name (the guest's hostname)" }).fill('appliance1');
    // One step at a time, each heading awaited: three clicks in a row outran a loaded renderer (CI).
    for (const title of ['6. SSH keys', '7. User data', '8. Review']) {
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('heading', { name: title, level: 2 }).waitFor();
    }
    await expect.poll(() => page.locator('.review').innerText()).toContain('Network adapter 1: VM Network, Network adapter 2: DC0_DVPG0');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'is deployed and running' }).count(), { timeout: 30_000 }).toBe(1);

    const vm = await one<{ id: string; cpunumber: number; memory: number; hypervisor: string; state: string; details?: Record<string, string> }>(ui, 'listVirtualMachines', 'virtualmachine', { name: 'appliance1' });
    expect([vm.state, vm.hypervisor, vm.cpunumber, vm.memory, vm.details?.['configurationId']]).toEqual(['Running', 'VMware', 2, 2048, 'large']);
    const ref = vmRef(kiln, vm.id);
    expect(ref).toMatch(/^vm-/);
    const inVcsim = await getProperties(admin, new MoRef('VirtualMachine', ref), ['config.hardware.numCPU', 'config.hardware.memoryMB', 'runtime.powerState']);
    expect([inVcsim['config.hardware.numCPU'], inVcsim['config.hardware.memoryMB'], inVcsim['runtime.powerState']]).toEqual([2, 2048, 'poweredOn']);

    // The VMware VM in the list and in the detail view.
    await goTo(ui, '#/vms', 'Virtual machines');
    const row = vmRow(page, 'appliance1');
    await row.waitFor();
    expect(await row.innerText()).toContain('Running');
    await ui.shot('vsphere-vm-list');
    await row.getByRole('link', { name: 'appliance1', exact: true }).click();
    await page.getByRole('heading', { name: 'appliance1', level: 1 }).waitFor();
    const main = await page.getByRole('main').innerText();
    expect(main).toContain('VMware');
    expect(main).toMatch(/DC0_C0_H[01]/);
    await ui.shot('vsphere-vm-detail');
    const job = await waitJob(ui, String((await ui.api('destroyVirtualMachine', { id: vm.id, expunge: 'true' }))['jobid']));
    expect(job['jobstatus']).toBe(1);
  });
});

/** The VM's vSphere ref as Kiln stored it (the API does not publish refs), read from its database. */
function vmRef(kiln: KilnProcess, vmId: string): string {
  const db = new Database(`${kiln.dataDir}/kiln.db`, { readonly: true });
  try {
    return String(db.prepare('SELECT ref FROM vm_instances WHERE uuid=?').pluck().get(vmId));
  } finally {
    db.close();
  }
}
