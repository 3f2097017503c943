/**
 * The GPU view in Chromium against `kiln serve` with a XenServer pool on the xapi simulator: one
 * host with a GRID K1 and a K2 board, one with a K1, one without GPUs. Added by addCluster
 * (hypervisor=XenServer), a K120Q VM deployed; the page shows each host's groups with their
 * physical GPUs and vGPU types, the K120Q remaining/maximum numbers listHosts answers (on the host
 * and summed per cluster), the resident VM in its type's row, which GPU offerings fit where, and
 * for K260Q on the K1-only host the explainer's reason. Stopping the VM frees the slot in the view.
 * Screenshots of the K1+K2 pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { goTo, openUi, waitJob, type UiSession } from './ui-helpers.js';

const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const K2 = 'Group of NVIDIA Corporation GK104GL [GRID K2] GPUs';
/** A template the pool holds, registered by its name as a host path (root admin, inside kiln.template.local.dir): nothing is copied. */
const POOL_TEMPLATE = '/srv/xen-templates/kiln-gpu';

interface Vgpu { vgputype: string; remainingcapacity: number; maxcapacity: number }
interface HostOut { id: string; name: string; gpugroup?: { gpugroupname: string; vgpu: Vgpu[] }[] }

describe('the GPU view (Chromium, xapi simulator K1+K2 pool)', () => {
  let sim: XapiSim;
  let kiln: KilnProcess;
  let browser: Browser;
  let ui: UiSession;
  let page: Page;
  const ids: Record<string, string> = {};
  let vm: { id: string; hostname: string };
  const ok = async (command: string, params: Record<string, string>) => {
    const r = await ui.api(command, params);
    if (r['errorcode']) throw new Error(`${command}: ${JSON.stringify(r)}`);
    return r;
  };
  const job = async (command: string, params: Record<string, string>) => waitJob(ui, String((await ok(command, params))['jobid']));
  const hosts = async () => (await ok('listHosts', { clusterid: ids['cluster']! }))['host'] as HostOut[];
  const capacity = (h: HostOut, group: string, type: string) => h.gpugroup!.find((g) => g.gpugroupname === group)!.vgpu.find((v) => v.vgputype === type)!;
  const typeRow = (host: string, group: string, type: string) => page.getByRole('table', { name: `vGPU types of ${group} on ${host}`, exact: true }).locator(`tr[data-vgpu="${type}"]`);

  beforeAll(async () => {
    sim = await XapiSim.start({
      hosts: [{ name: 'xen-k1k2', gpus: ['K1', 'K2'], memoryGiB: 64 }, { name: 'xen-k1', gpus: ['K1'], memoryGiB: 64 }, { name: 'xen-plain', memoryGiB: 64 }],
      vms: [{ name: POOL_TEMPLATE, template: true }],
      eventTimeoutClampS: 1,
      taskDelayMs: 2,
    });
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    page = ui.page;
    page.setDefaultTimeout(10_000);
    ids['zone'] = ((await ok('createZone', { name: 'GPU zone' }))['zone'] as { id: string }).id;
    ids['pod'] = ((await ok('createPod', { name: 'GPU pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    ids['cluster'] = ((await ok('addCluster', { zoneid: ids['zone'], podid: ids['pod'], clustername: 'grid-pool', hypervisor: 'XenServer', url: sim.url, username: sim.username, password: sim.password }))['cluster'] as { id: string }).id;
    const networkid = ((await ok('createNetwork', { name: 'Pool network', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await ok('listOsTypes', {}))['ostype'] as { id: string }[])[0]!.id;
    const templateid = ((await ok('registerTemplate', { name: 'grid-desktop', displaytext: 'GRID desktop', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: POOL_TEMPLATE, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
    const offering = async (name: string, group: string, type: string) =>
      ((await ok('createServiceOffering', { name, displaytext: name, cpunumber: '1', cpuspeed: '1000', memory: '1024', 'serviceofferingdetails[0].pciDevice': group, 'serviceofferingdetails[0].vgpuType': type }))['serviceoffering'] as { id: string }).id;
    ids['k120q'] = await offering('CAD K120Q', K1, 'GRID K120Q');
    ids['k260q'] = await offering('Render K260Q', K2, 'GRID K260Q');
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zone'], templateid, serviceofferingid: ids['k120q'], networkids: networkid, name: 'cad-desk-1' });
    expect([deployed['jobstatus'], deployed['jobresult']]).toEqual([1, expect.anything()]);
    vm = (deployed['jobresult'] as { virtualmachine: { id: string; hostname: string } }).virtualmachine;
  }, 40_000);
  afterAll(async () => {
    if (vm) await job('destroyVirtualMachine', { id: vm.id, expunge: 'true' }).catch(() => undefined);
    await browser?.close();
    await kiln?.stop();
    await sim?.stop();
  });

  it('shows each host\'s groups and vGPU types with listHosts\' numbers, the resident VM, and the summary per cluster', async () => {
    await goTo(ui, '#/vms', 'Virtual machines');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'GPUs' }).click();
    await page.getByRole('heading', { name: 'GPUs', level: 1 }).waitFor();
    const listed = await hosts();
    const on = listed.find((h) => h.name === vm.hostname)!;
    const held = capacity(on, K1, 'GRID K120Q');
    expect(held.remainingcapacity).toBe(held.maxcapacity - 1);

    // The tree: host → group (with its physical GPUs) → type; K1 has 4 pGPUs, K2 2 (a K1 board and a K2 board).
    const k1k2 = page.locator('details.gpu-host[data-host="xen-k1k2"]');
    await k1k2.waitFor();
    expect(await k1k2.getByRole('group', { name: `${K1} on xen-k1k2`, exact: true }).locator(':scope > summary').innerText()).toBe(`${K1} · 4 physical GPUs`);
    expect(await k1k2.getByRole('group', { name: `${K2} on xen-k1k2`, exact: true }).locator(':scope > summary').innerText()).toBe(`${K2} · 2 physical GPUs`);
    expect(await page.locator('details.gpu-host[data-host="xen-k1"] .gpu-group-name').allInnerTexts()).toEqual([K1]);
    // The GPU zone's host without GPUs (kiln serve's demo simulator zone is not listed: no GPU offering can go there).
    expect(await page.locator('.gpu-plain-hosts').innerText()).toBe('Without GPUs: xen-plain');
    const passthrough = typeRow('xen-k1k2', K2, 'passthrough');
    expect(await passthrough.innerText()).toMatch(/^passthrough\s+2 of 2 free\s+1\s+the whole physical GPU\s+none$/);

    // Every host's K120Q row says what listHosts says, the bar holds the same numbers, and the VM is in its host's row only.
    for (const h of listed.filter((x) => x.gpugroup)) {
      const c = capacity(h, K1, 'GRID K120Q');
      const row = typeRow(h.name, K1, 'GRID K120Q');
      await expect.poll(() => row.locator('.gpu-numbers').innerText()).toBe(`${c.remainingcapacity} of ${c.maxcapacity} free`);
      const bar = row.getByRole('meter', { name: `GRID K120Q remaining on ${h.name}` });
      expect([await bar.getAttribute('value'), await bar.getAttribute('max')]).toEqual([String(c.remainingcapacity), String(c.maxcapacity)]);
      expect(await row.locator('.gpu-residents').innerText()).toBe(h.name === vm.hostname ? 'cad-desk-1 (Running, CAD K120Q)' : 'none');
    }
    // Each physical GPU is a node of its own: the pGPU holding the VM shows it in its K120Q row with one
    // slot taken, and (a pGPU holds one type at a time) no free K100 slot; its idle siblings show all free.
    const pgpus = (capacity(on, K1, 'GRID K120Q') as Vgpu & { pgpu: { pciaddress: string; remainingcapacity: number; maxcapacity: number; virtualmachineids: string[] }[] }).pgpu;
    const holding = pgpus.find((p) => p.virtualmachineids.includes(vm.id))!;
    expect(holding).toMatchObject({ remainingcapacity: 7, maxcapacity: 8 });
    const hostNode = page.locator(`details.gpu-host[data-host="${vm.hostname}"]`);
    expect(await hostNode.getByRole('group', { name: `${K1} on ${vm.hostname}`, exact: true }).locator('details.gpu-pgpu .gpu-pgpu-name').allInnerTexts()).toEqual(pgpus.map((p) => `pGPU ${p.pciaddress}`));
    const pgpuTable = page.getByRole('table', { name: `vGPU types of pGPU ${holding.pciaddress} on ${vm.hostname}`, exact: true });
    expect(await pgpuTable.locator('tr[data-vgpu="GRID K120Q"]').innerText()).toMatch(/^GRID K120Q\s+7 of 8 free\s+cad-desk-1$/);
    expect(await pgpuTable.locator('tr[data-vgpu="GRID K100"] .gpu-numbers').innerText()).toBe('0 of 8 free');
    const meter = pgpuTable.getByRole('meter', { name: `GRID K120Q remaining on pGPU ${holding.pciaddress} of ${vm.hostname}` });
    expect([await meter.getAttribute('value'), await meter.getAttribute('max')]).toEqual(['7', '8']);
    const idle = pgpus.find((p) => p.virtualmachineids.length === 0)!;
    expect(await page.getByRole('table', { name: `vGPU types of pGPU ${idle.pciaddress} on ${vm.hostname}`, exact: true }).locator('tr[data-vgpu="GRID K120Q"]').innerText()).toMatch(/^GRID K120Q\s+8 of 8 free\s+none$/);
    await page.getByRole('group', { name: `pGPU ${holding.pciaddress} on ${vm.hostname}`, exact: true }).scrollIntoViewIfNeeded();
    await ui.shot('gpu-pgpus');
    const k260q = capacity(listed.find((h) => h.name === 'xen-k1k2')!, K2, 'GRID K260Q');
    expect(await typeRow('xen-k1k2', K2, 'GRID K260Q').locator('.gpu-numbers').innerText()).toBe(`${k260q.remainingcapacity} of ${k260q.maxcapacity} free`);

    // The cluster's summary: per group, its hosts and pGPUs, and K120Q summed over both K1 hosts.
    const summary = page.getByRole('group', { name: 'GPU summary of grid-pool' });
    const k1Sum = summary.locator(`[data-group="${K1}"]`);
    expect(await k1Sum.locator('.gpu-group-name').innerText()).toBe(`${K1} · 2 hosts · 8 physical GPUs`);
    const sum = listed.filter((h) => h.gpugroup).map((h) => capacity(h, K1, 'GRID K120Q'));
    expect(await k1Sum.locator('li[data-vgpu="GRID K120Q"] .gpu-numbers').innerText()).toBe(`${sum.reduce((a, c) => a + c.remainingcapacity, 0)} of ${sum.reduce((a, c) => a + c.maxcapacity, 0)} free`);
    expect(await summary.locator(`[data-group="${K2}"] .gpu-group-name`).innerText()).toBe(`${K2} · 1 host · 2 physical GPUs`);
    await ui.shot('gpu-tree');
    await page.locator('details.gpu-host[data-host="xen-k1k2"]').scrollIntoViewIfNeeded();
    await ui.shot('gpu-tree-k1k2');
  });

  it('says which GPU offerings fit where, and why K260Q will not start on the K1-only host, as the explainer answers', async () => {
    const fit = page.getByRole('table', { name: 'GPU offerings by host' });
    const cell = (offering: string, host: string) => fit.locator(`tr[data-offering="${offering}"] td[data-host="${host}"]`);
    await expect.poll(() => cell('Render K260Q', 'xen-k1k2').getAttribute('data-fit')).toBe('fits');
    expect(await cell('Render K260Q', 'xen-k1').getAttribute('data-fit')).toBe('refused');
    expect(await cell('Render K260Q', 'xen-plain').getAttribute('data-fit')).toBe('refused');
    expect(await cell('CAD K120Q', 'xen-k1').getAttribute('data-fit')).toBe('fits');
    expect(await cell('CAD K120Q', 'xen-k1').innerText()).toBe('Fits');

    const explained = (await ok('explainPlacement', { zoneid: ids['zone']!, serviceofferingid: ids['k260q']! }))['placement'] as { hosts: { hostName: string; suitable: boolean; reason: string }[] };
    const reason = explained.hosts.find((h) => h.hostName === 'xen-k1')!.reason;
    expect(reason).toContain('GRID K260Q');
    const why = page.getByRole('region', { name: 'Why not here?' });
    await why.getByRole('combobox', { name: 'Offering' }).selectOption({ label: `Render K260Q (GRID K260Q in ${K2})` });
    await why.getByRole('combobox', { name: 'Host' }).selectOption('xen-k1');
    const answer = why.getByRole('status', { name: 'Placement answer' });
    expect(await answer.innerText()).toBe(`Render K260Q would not start on xen-k1: ${reason}`);
    expect(await answer.getAttribute('data-verdict')).toBe('refused');
    await why.getByRole('combobox', { name: 'Host' }).selectOption('xen-k1k2');
    expect(await answer.innerText()).toMatch(/^Render K260Q can start on xen-k1k2 \(tried #1\): it passes every filter\.$/);
    await why.getByRole('combobox', { name: 'Host' }).selectOption('xen-k1');
    await why.scrollIntoViewIfNeeded();
    await ui.shot('gpu-why-not-here');
  });

  it('stopping the VM frees its K120Q slot in the view and it is no longer listed', async () => {
    expect((await job('stopVirtualMachine', { id: vm.id, forced: 'true' }))['jobstatus']).toBe(1);
    const c = capacity((await hosts()).find((h) => h.name === vm.hostname)!, K1, 'GRID K120Q');
    expect(c.remainingcapacity).toBe(c.maxcapacity);
    const row = typeRow(vm.hostname, K1, 'GRID K120Q');
    await expect.poll(() => row.locator('.gpu-numbers').innerText(), { timeout: 10_000 }).toBe(`${c.maxcapacity} of ${c.maxcapacity} free`);
    await expect.poll(() => row.locator('.gpu-residents').innerText()).toBe('none');
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
