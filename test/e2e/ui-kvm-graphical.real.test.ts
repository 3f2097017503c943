/**
 * The graphical console (noVNC) of a VM on a real KVM host, in Chromium: a real `kiln serve` with
 * the harness host1 added over SSH, the busybox test guest booted with its kernel console also on
 * the VGA screen (console=tty0), and the VM's Console tab. The canvas shows the guest's screen
 * (pixels sampled, not blank); a shell started on tty1 from the serial console takes what is typed
 * into the canvas (the screen changes, and the command's file is read back on the serial console);
 * Ctrl+Alt+F2 from the key menu switches the guest to an empty virtual terminal and Ctrl+Alt+F1
 * back; pasted text arrives as keys (Shift for capitals); scaling to fit resizes the canvas. An
 * ISO (genisoimage, registered by http URL) is attached from the VM's actions and is in the running
 * domain's CD-ROM drive on the host, then detached.
 *
 * Needs the KVM test hosts (test/kvm-hosts, /tmp/kiln-kvm/hosts.json); skips without them
 * unless KILN_REQUIRE_REAL=1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { idOf, serveApi, serveKvmZone, serveTestGuest, type ServeApi } from '../helpers/serve-api.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { HOSTS_JSON } from '../kvm/real-hosts.js';
import { inPage, serveUiSuite, type UiSession } from './ui-helpers.js';

const hosts = kvmHostsOrSkip();
if (!hosts) console.warn(`ui-kvm-graphical.real: skipped, no KVM test hosts (${HOSTS_JSON} is missing; run test/kvm-hosts/hosts.sh setup, or set KILN_REQUIRE_REAL=1 to make this a failure)`);

const VM_NAME = 'ui-graphical';

let ui: UiSession;
let vmId: string | undefined;
let isoId: string | undefined;
let isoServer: Server | undefined;
let isoDir: string | undefined;

let call: ServeApi['call'];
let ok: ServeApi['ok'];

interface Screen {
  width: number;
  height: number;
  /** Pixels brighter than the dark background: the guest's text. */
  lit: number;
  /** A checksum of every pixel, to see that the screen changed. */
  sum: number;
  cssWidth: number;
  paneWidth: number;
}

/** Samples noVNC's canvas: the framebuffer as the page holds it. */
const screenOf = (page: Page) =>
  inPage<Screen | null>(
    page,
    `(() => {
      const c = document.querySelector('.console-screen canvas');
      if (!c || !c.width) return null;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let lit = 0, sum = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] + d[i + 1] + d[i + 2] > 240) lit++;
        sum = (sum * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
      }
      return { width: c.width, height: c.height, lit, sum, cssWidth: c.getBoundingClientRect().width, paneWidth: document.querySelector('.console-screen').getBoundingClientRect().width };
    })()`,
  );

/**
 * The screen once it has settled: two samples 700 ms apart that differ by less than a blinking
 * cursor's pixels. The shell started on tty1 in the background may still be drawing (or clearing)
 * its screen when the canvas first shows it; a baseline taken then makes typed text look like less.
 */
async function settledScreen(page: Page): Promise<Screen> {
  let last = (await screenOf(page))!;
  for (const end = Date.now() + 30_000; Date.now() < end; ) {
    await page.waitForTimeout(700);
    const next = (await screenOf(page))!;
    if (Math.abs(next.lit - last.lit) < 150) return next;
    last = next;
  }
  return last;
}

const serialText = (page: Page) => page.locator('.console-terminal .xterm-rows').innerText();
const graphicalStatus = (page: Page) => page.getByRole('toolbar', { name: 'Graphical console' }).getByRole('status').innerText();
const consoleType = (page: Page, name: 'Serial' | 'Graphical') => page.getByRole('group', { name: 'Console type' }).getByRole('button', { name, exact: true });

/**
 * Runs COMMAND on the serial console until it shows what the graphical shell wrote (a TCG guest
 * runs what was typed a little later).
 */
async function serialUntil(page: Page, command: string, content: RegExp): Promise<void> {
  for (let i = 0; ; i++) {
    await page.locator('.console-terminal').click();
    await page.keyboard.type(command);
    await page.keyboard.press('Enter');
    try {
      await expect.poll(() => serialText(page), { timeout: 4_000 }).toMatch(content);
      return;
    } catch (error) {
      if (i >= 6) throw error;
    }
  }
}

/** How long a booting guest may take to bring up its shell (the first boot of a loaded machine's TCG guest). */
const BOOT_MS = 180_000;

/**
 * The guest's shell prompt on the serial console, once it has booted. The VM was deployed in the
 * suite's prepare, but its kernel may still be booting: under TCG with CI's other shards' guests
 * booting beside it, the kernel alone took past 22 s and the shell was not up 30 s after the first
 * case (CI: the serial console ended at "Run /init as init process"). A newline every few seconds
 * brings a fresh prompt once init has started the shell, whatever scrolled by before.
 */
async function shellPrompt(page: Page): Promise<void> {
  for (const end = Date.now() + BOOT_MS; ; ) {
    await page.locator('.console-terminal').click();
    await page.keyboard.press('Enter');
    try {
      await expect.poll(() => serialText(page), { timeout: 5_000 }).toMatch(/#\s*$/m);
      return;
    } catch (error) {
      if (Date.now() > end) throw error;
    }
  }
}

/** Types into the serial console's shell and waits for OUTPUT. */
async function serialRun(page: Page, line: string, output: string | RegExp): Promise<void> {
  await page.locator('.console-terminal').click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
  await expect.poll(() => serialText(page), { timeout: 30_000 }).toMatch(output);
}

describe.skipIf(!hosts)('the graphical console of a VM on a real KVM host, in Chromium', () => {
  serveUiSuite(
    (suite) => {
      ui = suite.ui;
    },
    {
      prepare: async (kiln) => {
        ({ call, ok } = serveApi(kiln));
        const { zone, network, os } = await serveKvmZone({ call, ok }, hosts!, 'KVM VNC', '202');
        // console=tty0 besides the driver's ttyS0: the kernel's messages also go to the VGA screen.
        const { template, offering } = await serveTestGuest({ call, ok }, hosts!, { zone, os }, {
          template: 'Busybox guest on VGA', kernelArgs: 'console=tty0 panic=-1', offering: 'kvm-vnc-tiny', instancePrefix: 'G',
        });
        const deployed = await ok('deployVirtualMachine', { zoneid: zone, templateid: template, serviceofferingid: offering, networkids: network, name: VM_NAME, displayname: VM_NAME });
        vmId = idOf(deployed, 'virtualmachine');
        // An ISO to attach from the UI: made with genisoimage, served here, downloaded by the engine.
        isoDir = mkdtempSync(join(tmpdir(), 'kiln-ui-iso-'));
        writeFileSync(join(isoDir, 'README.TXT'), 'Kiln UI test ISO\n');
        const iso = execFileSync('genisoimage', ['-quiet', '-V', 'KILN_UI', isoDir]);
        isoServer = createServer((_req, res) => void res.writeHead(200, { 'content-length': String(iso.length) }).end(iso));
        await new Promise<void>((resolve) => isoServer!.listen(0, '127.0.0.1', resolve));
        isoId = idOf(await ok('registerIso', { name: 'ui-installer', url: `http://127.0.0.1:${(isoServer.address() as AddressInfo).port}/ui.iso`, zoneid: zone, ostypeid: os }), 'iso');
      },
      cleanup: async () => {
        try {
          if (vmId) await ok('destroyVirtualMachine', { id: vmId, expunge: 'true' });
        } finally {
          isoServer?.close();
          if (isoDir) rmSync(isoDir, { recursive: true, force: true });
          // The pool copy the attach made (the hosts share the pool's directory).
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

  it('says which consoles the VM has and shows the guest screen on the canvas', async () => {
    const { page } = ui;
    await page.goto(`${new URL(page.url()).origin}/#/vms/${vmId}/console`);
    await expect.poll(() => page.locator('.console-kinds').innerText(), { timeout: 30_000 }).toContain('This VM has a serial console and a graphical console (VNC).');
    await consoleType(page, 'Graphical').click();
    await expect.poll(() => graphicalStatus(page), { timeout: 30_000 }).toBe('Connected');
    // The boot log on the VGA text screen: many lit pixels, on a 720x400 text-mode framebuffer.
    await expect.poll(async () => (await screenOf(page))?.lit ?? 0, { timeout: 90_000 }).toBeGreaterThan(2_000);
    const screen = (await screenOf(page))!;
    expect(screen).toMatchObject({ width: 720, height: 400 });
    console.log(`graphical console: ${screen.width}x${screen.height}, ${screen.lit} lit pixels, drawn ${Math.round(screen.cssWidth)} px wide in a ${Math.round(screen.paneWidth)} px pane`);
    await ui.shot('kvm-graphical-boot');
  });

  it('takes typed keys: a shell on tty1 (started from the serial console) runs what is typed into the canvas', { timeout: BOOT_MS + 120_000 }, async () => {
    const { page } = ui;
    await consoleType(page, 'Serial').click();
    await expect.poll(() => page.getByRole('toolbar', { name: 'Console' }).getByRole('status').innerText(), { timeout: 30_000 }).toBe('Connected');
    await shellPrompt(page);
    // A shell on tty1 (the VGA screen), and a word on tty2 (a terminal switches only to one in use).
    await serialRun(page, 'setsid -c sh -l </dev/tty1 >/dev/tty1 2>&1 & echo vt2 >/dev/tty2; echo tty1-$((40+2))', /tty1-42/);

    await consoleType(page, 'Graphical').click();
    await expect.poll(() => graphicalStatus(page), { timeout: 30_000 }).toBe('Connected');
    await expect.poll(async () => (await screenOf(page))?.lit ?? 0, { timeout: 30_000 }).toBeGreaterThan(5_000);
    const before = await settledScreen(page);
    await page.locator('.console-screen canvas').click();
    // At a typist's pace: a guest's PS/2 buffer is small (keyboard.type's default is as fast as it
    // can). No character that needs Shift: Playwright types '$' as the 4 key without holding Shift.
    await page.keyboard.type('touch /tmp/vnc-typed-ok', { delay: 60 });
    // The typed line on the screen: its 23 characters light far more pixels than a blinking cursor.
    await expect.poll(async () => (await screenOf(page))!.lit - before.lit, { timeout: 30_000 }).toBeGreaterThan(300);
    const after = (await screenOf(page))!;
    expect(after.sum).not.toBe(before.sum);
    console.log(`typing lit ${after.lit - before.lit} more pixels`);
    await ui.shot('kvm-graphical-typed');
    await page.keyboard.press('Enter');

    await consoleType(page, 'Serial').click();
    await expect.poll(() => page.getByRole('toolbar', { name: 'Console' }).getByRole('status').innerText(), { timeout: 30_000 }).toBe('Connected');
    await serialUntil(page, 'ls /tmp/vnc-typed-ok', /^\/tmp\/vnc-typed-ok$/m);
  });

  it('sends key combinations from the menu (Ctrl+Alt+F2 shows an empty terminal, Ctrl+Alt+F1 the shell again) and pastes text as keys', async () => {
    const { page } = ui;
    await consoleType(page, 'Graphical').click();
    await expect.poll(() => graphicalStatus(page), { timeout: 30_000 }).toBe('Connected');
    await expect.poll(async () => (await screenOf(page))?.lit ?? 0, { timeout: 30_000 }).toBeGreaterThan(5_000);
    const sendKeys = async (label: string) => {
      await page.getByRole('toolbar', { name: 'Graphical console' }).getByRole('button', { name: /Send keys/ }).click();
      await page.getByRole('menu', { name: 'Send keys' }).getByRole('menuitem', { name: label, exact: true }).click();
    };
    await sendKeys('Ctrl+Alt+F2');
    await expect.poll(async () => (await screenOf(page))!.lit, { timeout: 30_000 }).toBeLessThan(500);
    await ui.shot('kvm-graphical-tty2');
    await sendKeys('Ctrl+Alt+F1');
    await expect.poll(async () => (await screenOf(page))!.lit, { timeout: 30_000 }).toBeGreaterThan(5_000);

    await page.getByRole('toolbar', { name: 'Graphical console' }).getByRole('button', { name: 'Paste as keystrokes…' }).click();
    await page.getByLabel('Text to type into the console').fill('echo Pasted-OK_$((2+3)) > /tmp/vnc-pasted\n');
    await page.getByRole('button', { name: 'Type it' }).click();
    // The dialog stays open ("Typing…") until the last key is in.
    await expect.poll(() => page.getByRole('dialog').count(), { timeout: 20_000 }).toBe(0);

    // Scale to fit: the 720-pixel screen fills the pane; unscaled, it is drawn at its own size.
    const scaled = (await screenOf(page))!;
    expect(scaled.cssWidth).toBeGreaterThan(721);
    await page.getByLabel('Scale to fit').uncheck();
    await expect.poll(async () => Math.round((await screenOf(page))!.cssWidth)).toBe(720);
    await ui.shot('kvm-graphical-unscaled');
    await page.getByLabel('Scale to fit').check();

    await consoleType(page, 'Serial').click();
    await expect.poll(() => page.getByRole('toolbar', { name: 'Console' }).getByRole('status').innerText(), { timeout: 30_000 }).toBe('Connected');
    await serialUntil(page, 'cat /tmp/vnc-pasted', /^Pasted-OK_5$/m);
  });

  it('attaches an ISO from the VM actions: it is in the running domain\'s CD-ROM drive on the host; Detach ISO ejects it', async () => {
    const { page } = ui;
    const instance = ((await call('listVirtualMachines', { id: vmId! })).body['virtualmachine'] as { instancename: string }[])[0]!.instancename;
    const hdc = () => onHost('host1', 'virsh', 'domblklist', instance).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'hdc')?.[1];
    await expect.poll(async () => ((await call('listIsos', { id: isoId! })).body['iso'] as { isready: boolean }[])[0]!.isready, { timeout: 30_000 }).toBe(true);
    const actions = page.getByRole('toolbar', { name: `Actions for ${VM_NAME}` });
    await actions.getByRole('button', { name: 'Attach ISO…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Attach an ISO to ${VM_NAME}` });
    await dialog.getByLabel('ISO').selectOption({ label: 'ui-installer' });
    await ui.shot('kvm-attach-iso-dialog');
    await dialog.getByRole('button', { name: 'Attach ISO', exact: true }).click();
    await expect.poll(() => hdc(), { timeout: 60_000 }).toMatch(new RegExp(`/kiln-iso-${isoId}\\.iso$`));
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await expect.poll(() => page.locator('.tab-panel').innerText(), { timeout: 30_000 }).toContain('ui-installer');
    await ui.shot('kvm-iso-attached');

    await actions.getByRole('button', { name: 'Detach ISO', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Detach ISO', exact: true }).click();
    await expect.poll(() => hdc(), { timeout: 60_000 }).toBe('-');
    await expect.poll(() => actions.getByRole('button', { name: 'Attach ISO…', exact: true }).count(), { timeout: 30_000 }).toBe(1);
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
