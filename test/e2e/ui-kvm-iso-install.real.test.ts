/**
 * An OS installed from an ISO through the UI, in Chromium, on a real KVM host (R6), as a user does
 * it: the test installer ISO (test/kvm-hosts/installer-iso.sh, cached) registered by URL in a real
 * `kiln serve`; the deploy wizard's "ISO (installs onto a blank disk)" source with a disk offering
 * for the blank root disk, deployed not started; the VM started from its Console tab, where the
 * serial console shows the installer writing the busybox system onto /dev/vda and saying it is
 * done (its SHA-256 checked against the build's); the ISO detached from the VM's actions (gone from
 * the overview and from the domain's CD-ROM drive); Reboot from the toolbar, and the console shows
 * the installed system booting from its own disk (its hostname, and kiln.booted=disk on its kernel
 * command line).
 *
 * The VM is started from the Console tab because a serial console has no scrollback: the page must
 * be listening when the installer prints. Needs the KVM test hosts (KILN_KVM_WORK, default
 * /tmp/kiln-kvm); skips without them unless KILN_REQUIRE_REAL=1.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { idOf, serveApi, serveKvmZone, type ServeApi } from '../helpers/serve-api.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { HOSTS_JSON, WORK } from '../kvm/real-hosts.js';
import { inPage, serveUiSuite, type UiSession } from './ui-helpers.js';

const hosts = kvmHostsOrSkip();
if (!hosts) console.warn(`ui-kvm-iso-install.real: skipped, no KVM test hosts (${HOSTS_JSON} is missing; run test/kvm-hosts/hosts.sh setup, or set KILN_REQUIRE_REAL=1 to make this a failure)`);

const INSTALLER_SH = join(import.meta.dirname, '../kvm-hosts/installer-iso.sh');
const VM_NAME = 'ui-iso-install';
const ISO_NAME = 'Kiln busybox installer';
const OFFERING = 'kvm-iso-ui-tiny';

let ui: UiSession;
let call: ServeApi['call'];
let ok: ServeApi['ok'];
let zoneName: string;
let isoId: string | undefined;
let isoServer: Server | undefined;
/** Serves an ISO that never arrives: it stays downloading (not ready) for the whole suite. */
let stalledServer: Server | undefined;
let vmId: string | undefined;
/** The installed system's SHA-256, as the ISO's build wrote it. */
let diskSha: string;

const terminalText = (page: Page) => page.locator('.console-terminal .xterm-rows').innerText();
const consoleStatus = (page: Page) => page.getByRole('toolbar', { name: 'Console' }).getByRole('status').innerText();
const headingState = (page: Page) => page.getByRole('heading', { level: 1 }).locator('[data-state]').getAttribute('data-state');
const actions = (page: Page) => page.getByRole('toolbar', { name: `Actions for ${VM_NAME}` });
const instanceName = async () => ((await call('listVirtualMachines', { id: vmId! })).body['virtualmachine'] as { instancename: string }[])[0]!.instancename;
/** The domain's CD-ROM (hdc) source on the host, '-' when empty. */
const cdrom = async () => onHost('host1', 'virsh', 'domblklist', await instanceName()).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'hdc')?.[1];

describe.skipIf(!hosts)('an OS installed from an ISO through the UI on a real KVM host, in Chromium', () => {
  serveUiSuite(
    (suite) => {
      ui = suite.ui;
    },
    {
      prepare: async (kiln) => {
        const isoPath = execFileSync(INSTALLER_SH, { encoding: 'utf8', env: { ...process.env, KILN_KVM_WORK: WORK } }).trim();
        diskSha = readFileSync(join(WORK, 'cache/installer/disk.sha256'), 'utf8').trim().split(' ')[1]!;
        ({ call, ok } = serveApi(kiln));
        zoneName = 'KVM ISO UI Zone';
        const { zone, os } = await serveKvmZone({ call, ok }, hosts!, 'KVM ISO UI', '234');
        await ok('createServiceOffering', { name: OFFERING, cpunumber: '1', cpuspeed: '100', memory: '128' });
        // A per-run instance.name keeps this run's domain apart from other runs' on the shared hosts.
        await ok('updateConfiguration', { name: 'instance.name', value: `J${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}` });
        // The ISO as a user registers one: by URL (served here), downloaded by kiln serve.
        const iso = readFileSync(isoPath);
        isoServer = createServer((_req, res) => void res.writeHead(200, { 'content-length': String(iso.length) }).end(iso));
        await new Promise<void>((resolve) => isoServer!.listen(0, '127.0.0.1', resolve));
        isoId = idOf(await ok('registerIso', { name: ISO_NAME, url: `http://127.0.0.1:${(isoServer.address() as AddressInfo).port}/installer.iso`, zoneid: zone, ostypeid: os }), 'iso');
        stalledServer = createServer(() => { /* never answers */ });
        await new Promise<void>((resolve) => stalledServer!.listen(0, '127.0.0.1', resolve));
        await ok('registerIso', { name: 'Stalled ISO', url: `http://127.0.0.1:${(stalledServer.address() as AddressInfo).port}/stalled.iso`, zoneid: zone, ostypeid: os });
        for (let i = 0; !((await call('listIsos', { id: isoId })).body['iso'] as { isready: boolean }[])[0]!.isready; i++) {
          if (i > 240) throw new Error('the installer ISO was not ready after 60 s');
          await new Promise((r) => setTimeout(r, 250));
        }
      },
      cleanup: async () => {
        try {
          // The hosts are shared: leave no domain, no disk and no pool copy of the ISO behind (the
          // VM found by name too, should a failure come between the deploy and reading its id).
          vmId ??= ((await call('listVirtualMachines', { name: VM_NAME })).body['virtualmachine'] as { id: string }[] | undefined)?.[0]?.id;
          if (vmId) await ok('destroyVirtualMachine', { id: vmId, expunge: 'true' });
        } finally {
          isoServer?.close();
          stalledServer?.closeAllConnections();
          stalledServer?.close();
          if (isoId) {
            try {
              onHost('host1', 'virsh', 'vol-delete', '--pool', hosts!.poolName, `kiln-iso-${isoId}.iso`);
            } catch {
              /* never copied */
            }
          }
        }
      },
      timeoutMs: 300_000,
    },
  );

  it('deploys a blank VM from the ISO in the wizard, with a disk offering for its root disk', async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Deploy VM' }).click();
    // As a user who looks before choosing: the wizard's first zone (the demo zone) and its lists
    // have loaded when the KVM zone is chosen, so its networks must not stand in for the new zone's.
    await expect.poll(() => page.getByRole('combobox', { name: 'Zone' }).inputValue()).not.toBe('');
    await page.waitForTimeout(1_500);
    await page.getByRole('combobox', { name: 'Zone' }).selectOption({ label: zoneName });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /ISO/ }).check();
    // Without an ISO and a disk offering the step says what it needs.
    await page.getByRole('button', { name: 'Next' }).click();
    const step = page.locator('.view.deploy');
    await expect.poll(() => step.innerText()).toContain('Choose an ISO.');
    expect(await step.innerText()).toContain('An ISO needs a disk offering for its blank root disk.');
    // Only a downloaded ISO is offered; one still downloading is named as not ready.
    const isoChoices = await page.getByRole('combobox', { name: 'ISO', exact: true }).locator('option').allInnerTexts();
    expect(isoChoices).toEqual(['Choose…', ISO_NAME]);
    expect(await step.innerText()).toMatch(/Not ready yet, so not offered: Stalled ISO \(/);
    expect(await step.innerText()).toContain('when it is done, detach the ISO (Detach ISO) and reboot');
    await page.getByRole('combobox', { name: 'ISO', exact: true }).selectOption({ label: ISO_NAME });
    await page.getByRole('combobox', { name: /Disk offering/ }).selectOption({ label: 'Small (5.0 GiB)' });
    await ui.shot('kvm-iso-wizard-source');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: new RegExp(OFFERING) }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByRole('checkbox', { name: /kvm-iso-ui-l2/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox').count()).toBe(1);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel(/^Name/).fill(VM_NAME);
    for (let i = 0; i < 5 && (await page.getByRole('button', { name: 'Deploy', exact: true }).count()) === 0; i++) await page.getByRole('button', { name: 'Next' }).click();
    const review = await page.locator('dl.review').innerText();
    expect(review).toMatch(/ISO\s+Kiln busybox installer/);
    expect(review).toMatch(/Root disk\s+Small \(5\.0 GiB\)/);
    await page.getByLabel('Start the VM now').uncheck();
    await ui.shot('kvm-iso-wizard-review');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await expect.poll(() => page.locator('.deploy-progress').innerText(), { timeout: 120_000 }).toContain(`${VM_NAME} is deployed (not started).`);
    expect(await page.locator('.deploy-progress').innerText()).toContain('When you start it, it boots the installer from the ISO: follow the install on its console, then detach the ISO and reboot');
    await ui.shot('kvm-iso-deployed');
    await page.getByRole('link', { name: 'Open its console' }).click();
    const hash = /#\/vms\/([^/]+)\/console$/.exec(await inPage<string>(page, 'location.hash'));
    expect(hash).not.toBeNull();
    vmId = hash![1];
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    const overview = page.locator('.tab-panel');
    await expect.poll(() => overview.innerText(), { timeout: 30_000 }).toMatch(/ISO in the CD-ROM drive\s+Kiln busybox installer/);
    // A blank VM: no template.
    expect(await overview.innerText()).toMatch(/Template\s+—/);
    const vm = ((await call('listVirtualMachines', { id: vmId })).body['virtualmachine'] as { isoid?: string; hypervisor: string }[])[0]!;
    expect(vm).toMatchObject({ isoid: isoId, hypervisor: 'KVM' });
    const root = ((await call('listVolumes', { virtualmachineid: vmId })).body['volume'] as { type: string; size: number }[]).filter((v) => v.type === 'ROOT');
    expect(root.map((v) => v.size)).toEqual([5 * 1024 ** 3]);
    await ui.shot('kvm-iso-overview');
  });

  it('starts it from the Console tab: the serial console shows the installer writing the system to the disk and saying it is done', { timeout: 300_000 }, async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Console', exact: true }).click();
    await expect.poll(() => page.locator('.tab-panel').innerText()).toContain(`The console is not available: ${VM_NAME} is`);
    await actions(page).getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => headingState(page), { timeout: 120_000 }).toBe('Running');
    await expect.poll(() => consoleStatus(page), { timeout: 30_000 }).toBe('Connected');
    await expect.poll(() => terminalText(page), { timeout: 180_000 }).toMatch(/KILN-INSTALLER-DONE sha256=[0-9a-f]{64}/);
    const text = await terminalText(page);
    expect(text).toMatch(/KILN-INSTALLER: writing the busybox system \(\d+ bytes\) to \/dev\/vda/);
    expect(/KILN-INSTALLER-DONE sha256=([0-9a-f]{64})/.exec(text)![1]).toBe(diskSha);
    expect(text).toContain('remove the installation medium and reboot');
    expect(text).not.toContain('KILN-INSTALLER-FAILED');
    // It booted the CD: the ISO is in the domain's drive, and the host's log of the serial port has
    // the CD's boot loader first (the page may connect after it printed, when the machine is busy).
    expect(await cdrom()).toMatch(new RegExp(`/kiln-iso-${isoId}\\.iso$`));
    expect(onHost('host1', 'cat', `/var/log/libvirt/qemu/${await instanceName()}-serial.log`)).toMatch(/ISOLINUX 6\.\d+[\s\S]*KILN-INSTALLER-DONE/);
    await ui.shot('kvm-iso-installer-done');
  });

  it('detaches the ISO from the VM actions: gone from the overview and from the domain\'s CD-ROM drive', async () => {
    const { page } = ui;
    await actions(page).getByRole('button', { name: 'Detach ISO', exact: true }).click();
    const confirm = page.getByRole('dialog');
    await expect.poll(() => confirm.innerText()).toContain(`Eject the ISO from the CD-ROM drive of ${VM_NAME}?`);
    await confirm.getByRole('button', { name: 'Detach ISO', exact: true }).click();
    await expect.poll(() => cdrom(), { timeout: 60_000 }).toBe('-');
    await expect.poll(() => actions(page).getByRole('button', { name: 'Attach ISO…', exact: true }).count(), { timeout: 30_000 }).toBe(1);
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await expect.poll(() => page.locator('.tab-panel').innerText(), { timeout: 30_000 }).toMatch(/State\s+Running/);
    const overview = await page.locator('.tab-panel').innerText();
    expect(overview).toMatch(/ISO in the CD-ROM drive\s+—/);
    expect(overview).not.toContain(ISO_NAME);
    await ui.shot('kvm-iso-detached');
  });

  it('reboots from the toolbar: the console shows the installed system booting from its own disk', { timeout: 300_000 }, async () => {
    const { page } = ui;
    await page.getByRole('link', { name: 'Console', exact: true }).click();
    await expect.poll(() => consoleStatus(page), { timeout: 30_000 }).toBe('Connected');
    await actions(page).getByRole('button', { name: 'Reboot', exact: true }).click();
    await expect.poll(() => terminalText(page), { timeout: 180_000 }).toMatch(/KILN-GUEST-READY hostname=kiln-installed [^\n]*disks=vda/);
    expect(await headingState(page)).toBe('Running');
    // Its kernel command line is the installed system's (SYSLINUX's on the disk), not the CD's.
    for (let i = 0; ; i++) {
      await page.locator('.console-terminal').click();
      await page.keyboard.type('cat /proc/cmdline');
      await page.keyboard.press('Enter');
      try {
        await expect.poll(() => terminalText(page), { timeout: 5_000 }).toMatch(/hostname=kiln-installed kiln\.booted=disk/);
        break;
      } catch (error) {
        if (i >= 6) throw error;
      }
    }
    // After the installer's power-off line: SYSLINUX from the disk's MBR, never the CD's ISOLINUX.
    const text = await terminalText(page);
    const poweroff = text.indexOf('KILN-GUEST-POWEROFF hostname=kiln-installer');
    expect(poweroff).toBeGreaterThanOrEqual(0);
    const boot = text.slice(text.indexOf('\n', poweroff));
    expect(boot).toMatch(/SYSLINUX 6\.\d+/);
    expect(boot).not.toContain('ISOLINUX');
    expect(boot).not.toMatch(/hostname=kiln-installer\b/);
    await ui.shot('kvm-iso-booted-from-disk');
  });

  it('lists the KVM host with the metadataRelay capability (its guests reach the metadata service through it)', async () => {
    const listed = (await call('listHosts', { type: 'Routing' })).body['host'] as { zonename: string; capabilities?: Record<string, unknown> }[];
    const ours = listed.filter((h) => h.zonename === zoneName);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.capabilities).toMatchObject({ metadataRelay: true, consoleSerial: true });
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
