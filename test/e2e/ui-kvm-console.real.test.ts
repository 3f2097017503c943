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
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { idOf, serveApi, serveKvmZone, serveTestGuest, type ServeApi } from '../helpers/serve-api.js';
import { kvmHostsOrSkip } from '../helpers/kvm-zone.js';
import { HOSTS_JSON } from '../kvm/real-hosts.js';
import { inPage, serveUiSuite, vmRow, type UiSession } from './ui-helpers.js';

const hosts = kvmHostsOrSkip();
if (!hosts) console.warn(`ui-kvm-console.real: skipped, no KVM test hosts (${HOSTS_JSON} is missing; run test/kvm-hosts/hosts.sh setup, or set KILN_REQUIRE_REAL=1 to make this a failure)`);

const VM_NAME = 'ui-console';

let ui: UiSession;
let vmId: string | undefined;
let createdState: string;

let call: ServeApi['call'];
let ok: ServeApi['ok'];

/** The terminal's text as xterm.js renders it (the DOM renderer's rows). */
const terminalText = (page: Page) => page.locator('.console-terminal .xterm-rows').innerText();
const terminalLines = async (page: Page) => (await terminalText(page)).split('\n').map((line) => line.trim());

describe.skipIf(!hosts)('the live console of a VM on a real KVM host, in Chromium', () => {
  serveUiSuite(
    (suite) => {
      ui = suite.ui;
    },
    {
      prepare: async (kiln) => {
        ({ call, ok } = serveApi(kiln));
        const { zone, network, os } = await serveKvmZone({ call, ok }, hosts!, 'KVM UI', '201');
        const { template, offering } = await serveTestGuest({ call, ok }, hosts!, { zone, os }, {
          template: 'Busybox test guest', kernelArgs: 'quiet panic=-1', offering: 'kvm-ui-tiny', instancePrefix: 'U',
        });
        const deployed = await ok('deployVirtualMachine', {
          zoneid: zone, templateid: template, serviceofferingid: offering, networkids: network, name: VM_NAME, displayname: VM_NAME, startvm: 'false',
        });
        vmId = idOf(deployed, 'virtualmachine');
        // Not started: Kiln keeps a never-started VM in Created (start, destroy and the console gates apply as for Stopped).
        expect(['Created', 'Stopped']).toContain((deployed['virtualmachine'] as { state: string }).state);
        createdState = (deployed['virtualmachine'] as { state: string }).state;
      },
      cleanup: async () => {
        // The hosts are shared: leave no domain and no disk behind.
        if (vmId) await ok('destroyVirtualMachine', { id: vmId, expunge: 'true' });
      },
      timeoutMs: 300_000,
    },
  );

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
