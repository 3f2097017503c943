/**
 * The import wizard's external-host step when the host's SSH key changed (Chromium against a real
 * `kiln serve` and the third host of the KVM test set, which Kiln does not manage): the first
 * listing pins the host's key; the host is then re-keyed (`hosts.sh rekey-host`), and a new visit
 * to the wizard shows the engine's refusal on the host step with the key Kiln trusted and the one
 * the host presents now; once the admin says they read the new key on the host, "Trust the new
 * key" lists the host's VMs again (listVmsForImport with hostkeyfingerprint), and the new key is
 * the pinned one from then on. The domain it lists is defined by hand and removed at the end.
 *
 * Needs the KVM test hosts; skips without them unless KILN_REQUIRE_REAL=1. Screenshots:
 * test-results/screenshots/import-host-key-*.png.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { kvmHostsOrSkip, harness, onHost } from '../helpers/kvm-zone.js';
import { ensureThirdHost } from '../helpers/third-kvm-host.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';
import { currentFingerprint, type HostEntry } from '../kvm/real-hosts.js';
import { goTo, one, openUi, type UiSession } from './ui-helpers.js';

let hosts = kvmHostsOrSkip();
let kiln: KilnProcess;
let browser: Browser;
let ui: UiSession;
let source: HostEntry;
const name = `hk-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const file = `/var/lib/libvirt/images/${name}.qcow2`;

describe.skipIf(!hosts)('import wizard: a host Kiln does not manage whose SSH key changed (Chromium, real KVM host)', () => {
  beforeAll(async () => {
    ({ hosts, external: source } = ensureThirdHost());
    onHost(source.name, 'sh', '-c', `mkdir -p /var/lib/libvirt/images && qemu-img create -q -f qcow2 ${file} 16M`);
    const xml = join(mkdtempSync(join(tmpdir(), 'kiln-hk-')), 'domain.xml');
    writeFileSync(xml, handMadeDomainXml(hosts!, name, [file], ['52:54:00:4e:00:01']));
    onHost(source.name, 'virsh', 'define', xml);
    rmSync(dirname(xml), { recursive: true, force: true });
    kiln = await startKiln();
    browser = await launchChromium();
    ui = await openUi(browser, kiln);
    // A KVM cluster to receive copies (no host is needed to list another host's VMs).
    const zone = await one<{ id: string }>(ui, 'listZones', 'zone', { name: 'Demo' });
    const pod = await one<{ id: string }>(ui, 'listPods', 'pod', { zoneid: zone.id });
    const added = await ui.api('addCluster', { zoneid: zone.id, podid: pod.id, clustername: 'KVM import cluster', hypervisor: 'KVM' });
    expect(added['cluster'], JSON.stringify(added)).toBeDefined();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await kiln?.stop();
    if (source) onHost(source.name, 'sh', '-c', `virsh undefine ${name} >/dev/null 2>&1; rm -f ${file}; true`);
  }, 60_000);

  /** A fresh wizard on the KVM source with the host's address and key typed in, then Next. */
  async function listFromHost(): Promise<void> {
    const { page } = ui;
    // A new visit: the wizard as a page load makes it (nothing typed before is kept).
    await goTo(ui, '#/vms', 'Virtual machines');
    await page.reload();
    await page.getByRole('table', { name: 'Virtual machines' }).waitFor();
    await goTo(ui, '#/import', 'Import virtual machines');
    await page.getByRole('radiogroup', { name: 'Import from' }).getByRole('radio', { name: /A KVM host Kiln does not manage/ }).check();
    await expect.poll(() => page.getByRole('combobox', { name: 'Cluster that receives the copies' }).locator('option:checked').innerText()).toBe('KVM import cluster (pod Demo Pod)');
    const fields = page.getByRole('group', { name: 'Host Kiln does not manage' });
    await fields.getByRole('textbox', { name: 'Host', exact: true }).fill(source.address);
    await fields.getByLabel('Private key (instead of a password)').fill(readFileSync(source.privateKeyPath, 'utf8'));
    await page.getByRole('button', { name: 'Next' }).click();
  }

  it('shows the refusal with the old and the new key, and lists the VMs once the new key is trusted', async () => {
    const { page } = ui;
    page.setDefaultTimeout(20_000);
    const vmRow = () => page.getByRole('table', { name: 'Unmanaged VMs' }).locator('tbody tr').filter({ has: page.getByRole('cell', { name, exact: true }) });

    // First contact: the key is pinned, the host's VMs are listed.
    const oldKey = currentFingerprint(source);
    await listFromHost();
    await vmRow().waitFor();
    expect(await vmRow().innerText()).toContain('Stopped');

    harness('rekey-host', source.name);
    const newKey = currentFingerprint(source);
    expect(newKey).not.toBe(oldKey);

    await listFromHost();
    const panel = page.getByRole('region', { name: 'Host key changed' });
    await panel.waitFor();
    // Back on the host step, with the engine's words and both keys.
    await page.getByRole('heading', { name: '1. Cluster' }).waitFor();
    expect(await panel.getByRole('heading').innerText()).toBe(`The SSH host key of ${source.address} has changed`);
    expect(await panel.locator('p.error').innerText()).toBe(
      `host: ${source.address}: SSH host key of ${source.address}:22 has changed: Kiln pinned ${oldKey} but the host now presents ${newKey}. ` +
        'If the host was reinstalled or rekeyed on purpose, verify the new key and update the pinned key; otherwise someone may be intercepting the connection. (pass hostkeyfingerprint with the new key to trust it)',
    );
    expect(await panel.locator('dl.key-compare').innerText()).toMatch(new RegExp(`Trusted until now\\s+${oldKey.replace(/[+/]/g, '\\$&')}\\s+Presented now\\s+${newKey.replace(/[+/]/g, '\\$&')}`));
    const trust = panel.getByRole('button', { name: 'Trust the new key and list its VMs' });
    expect(await trust.isDisabled()).toBe(true);
    await panel.scrollIntoViewIfNeeded();
    await ui.shot('import-host-key-changed');

    await panel.getByRole('checkbox', { name: `I read ${newKey} on ${source.address} itself` }).check();
    await trust.click();
    await vmRow().waitFor();
    await page.getByRole('button', { name: 'Back' }).click();
    // The source step now carries the key the admin confirmed (sent as hostkeyfingerprint with the import too).
    expect(await page.getByRole('group', { name: 'Host Kiln does not manage' }).getByRole('textbox', { name: 'Host key fingerprint' }).inputValue()).toBe(newKey);
    await page.getByRole('button', { name: 'Next' }).click();
    await vmRow().waitFor();
    expect(await page.getByRole('region', { name: 'Host key changed' }).count()).toBe(0);
    await ui.shot('import-host-key-trusted');

    // The new key is the pinned one now: a call without hostkeyfingerprint is answered.
    const zoneid = (await one<{ id: string }>(ui, 'listZones', 'zone', { name: 'Demo' })).id;
    const listed = await ui.api('listVmsForImport', { zoneid, hypervisor: 'KVM', host: source.address, privatekey: readFileSync(source.privateKeyPath, 'utf8'), name });
    expect((listed['unmanagedinstance'] as { name: string }[] | undefined)?.map((v) => v.name), JSON.stringify(listed)).toEqual([name]);
    expect(ui.pageErrors).toEqual([]);
    expect(ui.cspViolations).toEqual([]);
  }, 180_000);
});
