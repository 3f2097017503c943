/**
 * The hosts page in Chromium against `kiln serve`: a zone, a pod and a KVM cluster created
 * through the UI; the SSH host-key check before adding a host (an unreachable address gives a
 * clear 534; a reachable SSH server's fingerprint is shown exactly as OpenSSH prints it, and a
 * refused login shows addHost's 534); and, when the KVM test hosts exist (test/kvm-hosts,
 * /tmp/kiln-kvm/hosts.json), host1 added with its private key, its fingerprint confirmed
 * against hosts.json and the host Up; then a host whose key changes (a TCP relay that switches
 * from host2 to host1, so Kiln's pinned key no longer matches) is shown loudly with both
 * fingerprints, and accepting the new key brings it back Up. Editing tags and the preferred OS
 * category, light and dark screenshots, and no CSP violation anywhere.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { startServer, type TestServer } from '../kvm/fake-ssh-server.js';
import { goTo, infraRows, one, serveUiSuite, type UiSession } from './ui-helpers.js';

interface RealHost {
  name: string;
  address: string;
  port: number;
  username: string;
  privateKeyPath: string;
  sshHostKeyFingerprint: string;
}

const HOSTS_JSON = path.join(process.env['KILN_KVM_WORK'] ?? '/tmp/kiln-kvm', 'hosts.json');
const REQUIRE_REAL = process.env['KILN_REQUIRE_REAL'] === '1';

function realHosts(): RealHost[] | undefined {
  if (!existsSync(HOSTS_JSON)) {
    if (REQUIRE_REAL) throw new Error(`KILN_REQUIRE_REAL=1 but ${HOSTS_JSON} is missing; run sudo test/kvm-hosts/hosts.sh setup`);
    return undefined;
  }
  return (JSON.parse(readFileSync(HOSTS_JSON, 'utf8')) as { hosts: RealHost[] }).hosts;
}
const NO_HOSTS = `no KVM test hosts (${HOSTS_JSON} is absent): run sudo test/kvm-hosts/hosts.sh setup, or set KILN_REQUIRE_REAL=1 to make this a failure`;

/** A TCP relay whose target can be switched; switching drops the connections it carries. */
async function relay(target: { host: string; port: number }): Promise<{ port: number; switchTo(t: { host: string; port: number }): void; close(): Promise<void> }> {
  let current = target;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(current.port, current.host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    switchTo(next) {
      current = next;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let ui: UiSession;
let fakeSsh: TestServer | undefined;
let hostRelay: Awaited<ReturnType<typeof relay>> | undefined;

describe('hosts page in Chromium', () => {
  serveUiSuite(
    (suite) => {
      ui = suite.ui;
    },
    {
      cleanup: async () => {
        await hostRelay?.close();
        await fakeSsh?.close();
      },
    },
  );

  it('creates a zone, a pod and a KVM cluster through the UI', async () => {
    const { page } = ui;
    await goTo(ui, '#/hosts', 'Hosts');
    // The demo zone's simulated hosts are listed with state, capacity and their zone path.
    const hosts = page.getByRole('table', { name: 'Hosts' });
    await expect.poll(() => hosts.innerText()).toMatch(/sim-host-1[\s\S]*Up[\s\S]*Demo \/ Demo Pod \/ Demo Cluster/);
    await ui.shot('hosts-page-light');
    // A host's name is on one line, not broken at its hyphen ("sim-" / "host-1").
    expect(await page.locator('tr[data-host] td:first-child strong').evaluateAll((names) => names.map((n) => [n.textContent, n.getClientRects().length]))).toEqual([['sim-host-1', 1], ['sim-host-2', 1], ['sim-host-3', 1]]);

    // With no KVM cluster yet, Add host says so and nothing in it can be filled in or submitted.
    await page.getByRole('button', { name: 'Add host' }).click();
    const noCluster = page.getByRole('dialog', { name: 'Add a KVM host' });
    expect(await noCluster.getByRole('note').innerText()).toBe('No KVM cluster yet: add one first (Add cluster), then add its hosts here.');
    for (const field of ['Cluster', 'Address (URL)', 'Username', 'Host tags (optional)']) expect(await noCluster.getByLabel(field, { exact: true }).isDisabled(), field).toBe(true);
    expect(await noCluster.getByRole('button', { name: 'Add host' }).isDisabled()).toBe(true);
    expect(await noCluster.getByRole('button', { name: 'Add host' }).getAttribute('title')).toBe('No KVM cluster yet: add one first (Add cluster), then add its hosts here.');
    await ui.shot('hosts-add-host-no-cluster-light');
    await noCluster.getByRole('button', { name: 'Cancel' }).click();
    await noCluster.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Add zone' }).click();
    const zoneDialog = page.getByRole('dialog', { name: 'Add a zone' });
    await zoneDialog.getByLabel('Zone name', { exact: true }).fill('UI Zone');
    await ui.shot('hosts-add-zone-light');
    await zoneDialog.getByRole('button', { name: 'Create zone' }).click();
    await zoneDialog.waitFor({ state: 'detached' });
    await expect.poll(() => infraRows(page)).toContain('UI Zone | no pod yet |  |  |');

    // A duplicate name is refused by the engine, and its words are shown in the dialog.
    await page.getByRole('button', { name: 'Add zone' }).click();
    await zoneDialog.getByLabel('Zone name', { exact: true }).fill('UI Zone');
    await zoneDialog.getByRole('button', { name: 'Create zone' }).click();
    await expect.poll(() => zoneDialog.getByRole('alert').innerText()).toMatch(/431: .*already exists/);
    await zoneDialog.getByRole('button', { name: 'Cancel' }).click();
    await zoneDialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Add pod' }).click();
    const podDialog = page.getByRole('dialog', { name: 'Add a pod' });
    await podDialog.getByLabel('Zone', { exact: true }).selectOption({ label: 'UI Zone' });
    await podDialog.getByLabel('Pod name', { exact: true }).fill('UI Pod');
    await podDialog.getByRole('button', { name: 'Create pod' }).click();
    await podDialog.waitFor({ state: 'detached' });
    await expect.poll(() => infraRows(page)).toContain('UI Zone | UI Pod | no cluster yet |  |');

    await page.getByRole('button', { name: 'Add cluster' }).click();
    const clusterDialog = page.getByRole('dialog', { name: 'Add a KVM cluster' });
    await clusterDialog.getByLabel('Zone', { exact: true }).selectOption({ label: 'UI Zone' });
    await clusterDialog.getByLabel('Pod', { exact: true }).selectOption({ label: 'UI Pod' });
    await clusterDialog.getByLabel('Cluster name', { exact: true }).fill('UI Cluster');
    await ui.shot('hosts-add-cluster-light');
    await clusterDialog.getByRole('button', { name: 'Create cluster' }).click();
    await clusterDialog.waitFor({ state: 'detached' });
    await expect.poll(() => infraRows(page)).toContain('UI Zone | UI Pod | UI Cluster | KVM | 0');

    const cluster = await one<{ hypervisortype: string; podname: string; zonename: string }>(ui, 'listClusters', 'cluster', { name: 'UI Cluster' });
    expect(cluster).toMatchObject({ hypervisortype: 'KVM', podname: 'UI Pod', zonename: 'UI Zone' });
  });

  it('says clearly that an unreachable address has no SSH host key to show', async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Add host' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a KVM host' });
    await dialog.getByLabel('Cluster', { exact: true }).selectOption({ label: 'UI Cluster (UI Zone / UI Pod)' });
    // The address rule is probeHostKey's from listApis: the engine's words, and no check offered.
    await dialog.getByLabel('Address (URL)').fill('http://127.0.0.1');
    await expect.poll(() => dialog.innerText()).toContain('url: "http://127.0.0.1" is not an SSH host address: give ssh://host or ssh://host:port');
    expect(await dialog.getByRole('button', { name: 'Check host key' }).isDisabled()).toBe(true);
    await dialog.getByLabel('Address (URL)').fill('ssh://127.0.0.1:1');
    const addButton = dialog.getByRole('button', { name: 'Add host' });
    expect(await addButton.isDisabled()).toBe(true);
    await dialog.getByRole('button', { name: 'Check host key' }).click();
    const alert = dialog.getByRole('alert');
    await expect.poll(() => alert.innerText()).toMatch(/Could not read the host key:\s*534: cannot reach 127\.0\.0\.1:1: connect ECONNREFUSED/);
    // Nothing to confirm, so nothing can be added.
    expect(await dialog.locator('[data-fingerprint]').count()).toBe(0);
    expect(await addButton.isDisabled()).toBe(true);
    await ui.shot('hosts-add-host-unreachable-light');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('shows a reachable SSH server\'s fingerprint as OpenSSH prints it, and addHost\'s 534 when the login is refused', async () => {
    const { page } = ui;
    fakeSsh = await startServer();
    const url = `ssh://127.0.0.1:${fakeSsh.port}`;
    await page.getByRole('button', { name: 'Add host' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a KVM host' });
    await dialog.getByLabel('Cluster', { exact: true }).selectOption({ label: 'UI Cluster (UI Zone / UI Pod)' });
    await dialog.getByLabel('Address (URL)').fill(url);
    await dialog.getByRole('radio', { name: 'Password' }).check();
    await dialog.locator('input[type="password"]').fill('not-the-password');
    await dialog.getByRole('button', { name: 'Check host key' }).click();
    const shown = dialog.locator('.fingerprint');
    await shown.waitFor();
    // ssh-keygen -lf of the server's public key, character for character.
    expect(await shown.innerText()).toBe(fakeSsh.fingerprint);
    expect(await dialog.getByRole('button', { name: 'Add host' }).isDisabled()).toBe(true);
    await dialog.getByRole('checkbox', { name: /fingerprint matches/ }).check();
    await ui.shot('hosts-add-host-confirm-light');
    await dialog.getByRole('button', { name: 'Add host' }).click();
    const failure = dialog.getByRole('alert');
    await expect.poll(() => failure.innerText(), { timeout: 30_000 }).toContain('Kiln could not add the host');
    expect(await failure.innerText()).toMatch(new RegExp(`534: could not add host ssh://127\\.0\\.0\\.1:${fakeSsh.port}: .*(auth|All configured authentication methods failed)`, 'i'));
    await ui.shot('hosts-add-host-refused-light');
    // Nothing was half-added.
    expect(((await ui.api('listHosts', { zoneid: (await one<{ id: string }>(ui, 'listZones', 'zone', { name: 'UI Zone' })).id }))['host'] as unknown[] | undefined) ?? []).toEqual([]);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('edits a host\'s tags and preferred OS category', async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Edit host sim-host-3' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit host sim-host-3' });
    await dialog.getByLabel('Host tags', { exact: true }).fill('ssd, fast');
    await dialog.getByLabel('Preferred OS category', { exact: true }).selectOption({ label: 'Debian' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('tr[data-host="sim-host-3"]');
    await expect.poll(() => row.innerText()).toMatch(/ssd\s*fast[\s\S]*Prefers Debian/);
    const host = await one<{ hosttags: string; oscategoryname: string }>(ui, 'listHosts', 'host', { name: 'sim-host-3' });
    expect(host).toMatchObject({ hosttags: 'ssd,fast', oscategoryname: 'Debian' });
    // Emptied, the tags are cleared (the category stays).
    await page.getByRole('button', { name: 'Edit host sim-host-3' }).click();
    await dialog.getByLabel('Host tags', { exact: true }).fill('');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => row.innerText()).toMatch(/no tags[\s\S]*Prefers Debian/);
    expect((await one<{ hosttags?: string }>(ui, 'listHosts', 'host', { name: 'sim-host-3' })).hosttags).toBeUndefined();
  });

  it('adds the real KVM host host1 with its private key after confirming its fingerprint, and sees it Up', async (ctx) => {
    const hosts = realHosts();
    if (!hosts) return ctx.skip(NO_HOSTS);
    const host1 = hosts.find((h) => h.name === 'host1')!;
    const { page } = ui;
    await goTo(ui, '#/hosts', 'Hosts');
    await page.getByRole('button', { name: 'Add host' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a KVM host' });
    await dialog.getByLabel('Cluster', { exact: true }).selectOption({ label: 'UI Cluster (UI Zone / UI Pod)' });
    await dialog.getByLabel('Address (URL)').fill(`ssh://${host1.address}:${host1.port}`);
    await dialog.getByLabel('Username', { exact: true }).fill(host1.username);
    await dialog.getByRole('radio', { name: 'Private key' }).check();
    await dialog.getByRole('textbox', { name: 'Private key' }).fill(readFileSync(host1.privateKeyPath, 'utf8'));
    await dialog.getByRole('button', { name: 'Check host key' }).click();
    const shown = dialog.locator('.fingerprint');
    await shown.waitFor({ timeout: 20_000 });
    expect(await shown.innerText()).toBe(host1.sshHostKeyFingerprint);
    await dialog.getByRole('checkbox', { name: /fingerprint matches/ }).check();
    await ui.shot('hosts-add-real-host1-light');
    await dialog.getByRole('button', { name: 'Add host' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60_000 });

    const row = page.locator(`tr[data-host="${host1.address}"]`);
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 30_000 }).toBe('Up');
    expect(await row.locator('[data-fingerprint]').getAttribute('data-fingerprint')).toBe(host1.sshHostKeyFingerprint);
    expect(await row.innerText()).toMatch(/KVM[\s\S]*UI Zone \/ UI Pod \/ UI Cluster/);
    const added = await one<{ state: string; hostkeyfingerprint: string; cpunumber: number }>(ui, 'listHosts', 'host', { name: host1.address });
    expect(added).toMatchObject({ state: 'Up', hostkeyfingerprint: host1.sshHostKeyFingerprint });
    expect(added.cpunumber).toBeGreaterThan(0);
    await ui.shot('hosts-real-host1-up-light');
  });

  it('shows a changed host key loudly with both fingerprints, and accepting the checked new key brings the host back', async (ctx) => {
    const hosts = realHosts();
    if (!hosts) return ctx.skip(NO_HOSTS);
    const host1 = hosts.find((h) => h.name === 'host1')!;
    const host2 = hosts.find((h) => h.name === 'host2');
    if (!host2) return ctx.skip('hosts.json has no host2 to present a different key');
    const { page } = ui;
    // Kiln reaches "the host" through a relay to host2 and pins host2's key …
    hostRelay = await relay({ host: host2.address, port: host2.port });
    const url = `ssh://127.0.0.1:${hostRelay.port}`;
    const cluster = await one<{ id: string; podid: string; zoneid: string }>(ui, 'listClusters', 'cluster', { name: 'UI Cluster' });
    const added = await ui.api('addHost', {
      zoneid: cluster.zoneid, podid: cluster.podid, clusterid: cluster.id, hypervisor: 'KVM', url, username: host2.username,
      privatekey: readFileSync(host2.privateKeyPath, 'utf8'), hostkeyfingerprint: host2.sshHostKeyFingerprint,
    });
    expect(added['errortext']).toBeUndefined();
    const hostId = (added['host'] as { id: string }).id;
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = page.locator('tr[data-host="127.0.0.1"]');
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 30_000 }).toBe('Up');

    // … then the relay switches to host1: the machine at that address now presents another key.
    hostRelay.switchTo({ host: host1.address, port: host1.port });
    const alert = page.getByRole('alert').filter({ hasText: 'SSH host key of 127.0.0.1 has changed' });
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return alert.count();
        },
        { timeout: 60_000, interval: 2_000 },
      )
      .toBe(1);
    expect(await alert.locator('[data-key="pinned"]').innerText()).toBe(host2.sshHostKeyFingerprint);
    expect(await alert.locator('[data-key="presented"]').innerText()).toBe(host1.sshHostKeyFingerprint);
    const state = await row.locator('[data-state]').getAttribute('data-state');
    expect(['Alert', 'Disconnected', 'Down']).toContain(state);
    await ui.shot('hosts-key-changed-light');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await ui.shot('hosts-key-changed-dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();

    await alert.getByRole('button', { name: 'Accept new key…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Accept the new SSH key of 127.0.0.1?' });
    const typed = dialog.getByLabel("New key's fingerprint");
    // A malformed fingerprint is refused with acceptHostKey's rule from listApis.
    await typed.fill('SHA256:short');
    await expect.poll(() => dialog.innerText()).toContain('fingerprint: "SHA256:short" is neither an SSH host-key fingerprint (SHA256: followed by 43 base64 characters) nor a TLS certificate thumbprint');
    // The old key (or anything but the presented one) is not accepted.
    await typed.fill(host2.sshHostKeyFingerprint);
    await expect.poll(() => dialog.innerText()).toContain('this is not the key the host presents now');
    expect(await dialog.getByRole('button', { name: 'Accept new key' }).isDisabled()).toBe(true);
    await typed.fill(host1.sshHostKeyFingerprint);
    await ui.shot('hosts-accept-key-light');
    await dialog.getByRole('button', { name: 'Accept new key' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 60_000 });
    await expect.poll(() => row.locator('[data-state]').getAttribute('data-state'), { timeout: 30_000 }).toBe('Up');
    expect(await alert.count()).toBe(0);
    expect(await row.locator('[data-fingerprint]').getAttribute('data-fingerprint')).toBe(host1.sshHostKeyFingerprint);
    const after = await one<{ hostkeyfingerprint: string; state: string }>(ui, 'listHosts', 'host', { id: hostId });
    expect(after).toMatchObject({ state: 'Up', hostkeyfingerprint: host1.sshHostKeyFingerprint });
  });

  it('looks right in the dark theme', async () => {
    const { page } = ui;
    await goTo(ui, '#/hosts', 'Hosts');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await ui.shot('hosts-page-dark');
    await page.getByRole('button', { name: 'Add host' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a KVM host' });
    await dialog.getByLabel('Address (URL)').fill('ssh://127.0.0.1:1');
    await dialog.getByRole('button', { name: 'Check host key' }).click();
    await dialog.getByRole('alert').waitFor();
    await ui.shot('hosts-add-host-dark');
    // The disabled Add host is readable: its text against its own background is at least 4.5:1 (WCAG AA).
    const addHost = dialog.getByRole('button', { name: 'Add host' });
    expect(await addHost.isDisabled()).toBe(true);
    expect(await addHost.evaluate((b) => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
      const lum = (c: string) => {
        const [r, g, bl] = rgb(c).map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
      };
      const style = b.ownerDocument.defaultView!.getComputedStyle(b);
      const [hi, lo] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
      return Number(style.opacity) === 1 ? (hi! + 0.05) / (lo! + 0.05) : 0;
    })).toBeGreaterThanOrEqual(4.5);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Dark theme' }).click();
  });

  it('logged no CSP violation and no page error', () => {
    expect(ui.cspViolations).toEqual([]);
    expect(ui.pageErrors).toEqual([]);
  });
});
