/**
 * The live console on a real KVM host, end to end: a real `kiln serve` (the built CLI, its own
 * temporary data directory), a KVM zone built in THAT process through its HTTP API with signed
 * calls (zone, pod, cluster, the harness host over SSH with its key, an L2 network, the busybox
 * test guest as a template, a tiny offering), a VM deployed on it, and then Chromium: open the
 * VM's console from the UI, see the guest's banner, type a command and see its output.
 *
 * The VM is created stopped and started from the UI with its console tab open: the banner is
 * printed once, at boot, and a serial console has no scrollback from before it connected, so
 * this is the way to be sure the page is listening when the guest prints it (it also shows the
 * console's "not running" message turning into a live terminal by itself).
 *
 * Needs the KVM test hosts (test/kvm-hosts, /tmp/kiln-kvm/hosts.json); skips without them
 * unless KILN_REQUIRE_REAL=1.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { signRequest } from '../../main/engine/auth/signing.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { kvmHostsOrSkip } from '../helpers/kvm-zone.js';
import { HOSTS_JSON } from '../kvm/real-hosts.js';
import { inPage, openUi, vmRow, type UiSession } from './ui-helpers.js';

const hosts = kvmHostsOrSkip();
if (!hosts) console.warn(`ui-kvm-console.real: skipped, no KVM test hosts (${HOSTS_JSON} is missing; run test/kvm-hosts/hosts.sh setup, or set KILN_REQUIRE_REAL=1 to make this a failure)`);

const VM_NAME = 'ui-console';

let kiln: KilnProcess;
let browser: Browser | undefined;
let ui: UiSession;
let vmId: string | undefined;
let createdState: string;

type Body = Record<string, unknown>;

/** One signed API call to the serve process (HMAC-SHA256 with the admin's keys, as `kiln api` signs). */
async function call(command: string, params: Record<string, string> = {}): Promise<{ status: number; body: Body }> {
  const signed = signRequest({ command, response: 'json', apiKey: kiln.apiKey, ...params }, kiln.secretKey);
  const res = await fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams(signed) });
  const json = (await res.json()) as Record<string, Body>;
  return { status: res.status, body: Object.values(json)[0] ?? {} };
}

/** A call that must succeed; an async one is followed to its end and its job result returned. */
async function ok(command: string, params: Record<string, string> = {}, timeoutMs = 180_000): Promise<Body> {
  const { status, body } = await call(command, params);
  if (status !== 200) throw new Error(`${command} answered ${status}: ${JSON.stringify(body)}`);
  if (typeof body['jobid'] !== 'string') return body;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await call('queryAsyncJobResult', { jobid: body['jobid'] })).body;
    if (job['jobstatus'] === 1) return (job['jobresult'] as Body | undefined) ?? {};
    if (job['jobstatus'] === 2) throw new Error(`${command} failed: ${JSON.stringify(job['jobresult'])}`);
    if (Date.now() > deadline) throw new Error(`${command}: job ${String(body['jobid'])} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const idOf = (body: Body, key: string): string => {
  const value = body[key];
  const item = (Array.isArray(value) ? value[0] : value) as { id?: string } | undefined;
  if (!item?.id) throw new Error(`no ${key} id in ${JSON.stringify(body)}`);
  return item.id;
};

/** The terminal's text as xterm.js renders it (the DOM renderer's rows). */
const terminalText = (page: Page) => page.locator('.console-terminal .xterm-rows').innerText();
const terminalLines = async (page: Page) => (await terminalText(page)).split('\n').map((line) => line.trim());

describe.skipIf(!hosts)('the live console of a VM on a real KVM host, in Chromium', () => {
  beforeAll(async () => {
    const host = hosts!.hosts[0]!;
    kiln = await startKiln();
    const zone = idOf(await ok('createZone', { name: 'KVM UI Zone' }), 'zone');
    const pod = idOf(await ok('createPod', { name: 'KVM UI Pod', zoneid: zone }), 'pod');
    const cluster = idOf(await ok('addCluster', { clustername: 'KVM UI Cluster', zoneid: zone, podid: pod, hypervisor: 'KVM' }), 'cluster');
    await ok('addHost', {
      zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${host.address}:${host.port}`, username: host.username,
      privatekey: readFileSync(host.privateKeyPath, 'utf8'), 'details[0].pool': hosts!.poolName,
    });
    const network = idOf(await ok('createNetwork', { name: 'kvm-ui-l2', zoneid: zone, vlan: '201' }), 'network');
    const os = idOf(await ok('listOsTypes', { description: 'Other Linux (64-bit)' }), 'ostype');
    // The test guest is registered by host path, which only the root admin may do, inside this directory.
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: hosts!.storagePath });
    const template = idOf(await ok('registerTemplate', {
      name: 'Busybox test guest', format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts!.templateImage, zoneid: zone,
      ispublic: 'true', size: String(64 * 1024 * 1024),
      'details[0].kernel': hosts!.kernel, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    }), 'template');
    const offering = idOf(await ok('createServiceOffering', { name: 'kvm-ui-tiny', cpunumber: '1', cpuspeed: '100', memory: '128' }), 'serviceoffering');
    // Internal names are i-<user>-<vm>-<instance.name>; a per-run value keeps this run's domain
    // from clashing with other runs (each with a fresh database) on the shared hosts.
    await ok('updateConfiguration', { name: 'instance.name', value: `U${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}` });
    const deployed = await ok('deployVirtualMachine', {
      zoneid: zone, templateid: template, serviceofferingid: offering, networkids: network, name: VM_NAME, displayname: VM_NAME, startvm: 'false',
    });
    vmId = idOf(deployed, 'virtualmachine');
    // Not started: Kiln keeps a never-started VM in Created (start, destroy and the console gates apply as for Stopped).
    expect(['Created', 'Stopped']).toContain((deployed['virtualmachine'] as { state: string }).state);
    createdState = (deployed['virtualmachine'] as { state: string }).state;

    browser = await launchChromium();
    ui = await openUi(browser, kiln);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    try {
      // The hosts are shared: leave no domain and no disk behind.
      if (vmId && kiln) await ok('destroyVirtualMachine', { id: vmId, expunge: 'true' });
    } finally {
      await kiln?.stop();
    }
  }, 300_000);

  it('lists the KVM VM (not started yet), and its console tab says it needs a running VM', async () => {
    const { page } = ui;
    const row = vmRow(page, VM_NAME);
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe(createdState);
    await row.getByRole('link', { name: VM_NAME, exact: true }).click();
    await page.getByRole('link', { name: 'Console', exact: true }).click();
    await expect.poll(() => inPage<string>(page, 'location.hash')).toBe(`#/vms/${vmId}/console`);
    await expect.poll(() => page.locator('.tab-panel').innerText()).toContain(`The console is not available: ${VM_NAME} is ${createdState}.`);
    await ui.shot('kvm-console-stopped-light');
  });

  it('starts the VM from the UI; the console connects by itself and shows the guest banner', async () => {
    const { page } = ui;
    await page.getByRole('toolbar', { name: `Actions for ${VM_NAME}` }).getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).locator('[data-state]').getAttribute('data-state'), { timeout: 120_000 }).toBe('Running');
    await expect.poll(() => page.getByRole('toolbar', { name: 'Console' }).getByRole('status').innerText(), { timeout: 30_000 }).toBe('Connected');
    await expect.poll(() => terminalText(page), { timeout: 120_000 }).toContain('KILN-GUEST-READY');
    const host = hosts!.hosts[0]!;
    const vm = (await call('listVirtualMachines', { id: vmId! })).body['virtualmachine'] as { hostname: string; hypervisor: string; instancename: string }[];
    expect(vm[0]).toMatchObject({ hypervisor: 'KVM' });
    expect(vm[0]!.hostname).toBeTruthy();
    console.log(`console of ${vm[0]!.instancename} on ${vm[0]!.hostname} (${host.address}) connected and showed the banner`);
  });

  it('types a command into the guest and shows its output', async () => {
    const { page } = ui;
    // Wait for the shell's prompt after the banner, then type as a user would.
    await expect.poll(async () => (await terminalLines(page)).some((line) => /#$/.test(line)), { timeout: 60_000 }).toBe(true);
    await page.locator('.console-terminal').click();
    await page.keyboard.type('echo $((6*7))-kiln');
    await page.keyboard.press('Enter');
    await expect.poll(() => terminalLines(page), { timeout: 30_000 }).toContain('42-kiln');
    // The command line itself was echoed back by the guest's shell (not by the page).
    expect(await terminalText(page)).toContain('echo $((6*7))-kiln');
    await ui.shot('kvm-console-light');
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
