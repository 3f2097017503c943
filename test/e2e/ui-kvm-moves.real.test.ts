/**
 * Start on a chosen host, live migration, live scaling and restore through the UI, on the real
 * KVM test hosts: a real `kiln serve` with a KVM zone built through its signed API (host1 and
 * host2 in one cluster, the busybox test guest as a template), a VM created stopped, then
 * Chromium: "Start on…" host1, "Migrate…" to host2 (host1 listed as its current host), "Scale…"
 * live to 2 vCPU and 256 MB, "Reinstall…" from its template. After each step libvirt on the hosts
 * is asked where the domain runs (its size after the scale, its disk after the restore). The VM is destroyed and expunged at the end, and neither a domain
 * nor a disk of it is left on the hosts.
 *
 * Needs the KVM test hosts (test/kvm-hosts, /tmp/kiln-kvm/hosts.json); skips without them
 * unless KILN_REQUIRE_REAL=1. Screenshots: test-results/screenshots/kvm-moves-*.png.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { idOf, serveApi, serveKvmZone, serveTestGuest, type ServeApi } from '../helpers/serve-api.js';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { HOSTS_JSON } from '../kvm/real-hosts.js';
import { goTo, serveUiSuite, type UiSession } from './ui-helpers.js';

const hosts = kvmHostsOrSkip();
if (!hosts) console.warn(`ui-kvm-moves.real: skipped, no KVM test hosts (${HOSTS_JSON} is missing; run test/kvm-hosts/hosts.sh setup, or set KILN_REQUIRE_REAL=1 to make this a failure)`);

const VM_NAME = 'ui-moves';

let ui: UiSession;
let vmId: string | undefined;
let instanceName = '';
/** Kiln's name of each harness host (host1, host2), by harness name. */
let kilnName: Record<string, string> = {};

let call: ServeApi['call'];
let ok: ServeApi['ok'];

const vm = async () => ((await call('listVirtualMachines', { id: vmId! })).body['virtualmachine'] as { state: string; hostname?: string; templatename?: string; instancename: string }[])[0]!;
/** The root disks the VM's domain had, as libvirt names their files. */
const rootDisks = new Set<string>();
function rootDiskOn(host: string): string {
  const line = onHost(host, 'virsh', 'domblklist', instanceName).split('\n').find((l) => l.trim().startsWith('vda'));
  const file = line?.trim().split(/\s+/)[1] ?? '';
  rootDisks.add(file.split('/').pop()!);
  return file;
}

/** The domain's state on a harness host as `virsh domstate` says it, or "absent". */
function domainOn(host: string): string {
  const list = onHost(host, 'virsh', 'list', '--all', '--name').split('\n').map((l) => l.trim());
  if (!list.includes(instanceName)) return 'absent';
  return onHost(host, 'virsh', 'domstate', instanceName).trim();
}

describe.skipIf(!hosts)('start on, migrate, scale and restore through the UI on real KVM hosts', () => {
  serveUiSuite(
    (suite) => {
      ui = suite.ui;
    },
    {
      prepare: async (kiln) => {
        ({ call, ok } = serveApi(kiln));
        const { zone, network, os, kilnNames } = await serveKvmZone({ call, ok }, hosts!, 'KVM Moves', '202', ['host1', 'host2'], { sharedPool: true });
        kilnName = kilnNames;
        const { template, offering } = await serveTestGuest({ call, ok }, hosts!, { zone, os }, {
          template: 'Busybox test guest', kernelArgs: 'quiet panic=-1', templateParams: { isdynamicallyscalable: 'true' }, offering: 'kvm-moves-tiny', instancePrefix: 'M',
        });
        await ok('createServiceOffering', { name: 'kvm-moves-2x256', cpunumber: '2', cpuspeed: '100', memory: '256' });
        await ok('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: zone });
        await ok('updateConfiguration', { name: 'vm.stop.timeout', value: '10' });
        const deployed = await ok('deployVirtualMachine', { zoneid: zone, templateid: template, serviceofferingid: offering, networkids: network, name: VM_NAME, displayname: VM_NAME, startvm: 'false' });
        vmId = idOf(deployed, 'virtualmachine');
        instanceName = (deployed['virtualmachine'] as { instancename: string }).instancename;
      },
      cleanup: async () => {
        // The hosts are shared: leave no domain and no disk behind.
        if (!vmId) return;
        // (destroy stops a running VM first)
        await ok('destroyVirtualMachine', { id: vmId, expunge: 'true' });
        for (const host of ['host1', 'host2']) expect(domainOn(host)).toBe('absent');
        // Neither root disk it had (before and after the restore) is left on the shared storage
        // (read from the directory itself: each host's libvirt keeps its own cached volume list).
        for (const disk of rootDisks) expect(existsSync(join(hosts!.storagePath, disk)), disk).toBe(false);
      },
      timeoutMs: 300_000,
    },
  );

  it('starts the VM on host1 chosen in "Start on…"', async () => {
    const { page } = ui;
    await goTo(ui, `#/vms/${vmId!}/overview`, new RegExp(`^${VM_NAME}`));
    await page.getByRole('toolbar', { name: `Actions for ${VM_NAME}` }).getByRole('button', { name: 'Start on…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Start ${VM_NAME} on…` });
    const host = dialog.getByRole('combobox', { name: 'Host' });
    await expect.poll(() => host.locator('option').allInnerTexts()).toEqual(expect.arrayContaining([kilnName['host1']!, kilnName['host2']!]));
    await host.selectOption({ label: kilnName['host1']! });
    await dialog.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 120_000 }).toBe(`${VM_NAME} is Running on ${kilnName['host1']!}.`);
    await ui.shot('kvm-moves-1-started-on-host1');
    expect(await vm()).toMatchObject({ state: 'Running', hostname: kilnName['host1'] });
    expect(domainOn('host1')).toBe('running');
    expect(domainOn('host2')).toBe('absent');
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  }, 180_000);

  it('migrates it live to host2 from "Migrate…"; libvirt runs it on host2 only', async () => {
    const { page } = ui;
    await page.getByRole('toolbar', { name: `Actions for ${VM_NAME}` }).getByRole('button', { name: 'Migrate…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Migrate ${VM_NAME}` });
    const refused = dialog.getByRole('table', { name: 'Hosts that cannot take it' });
    await refused.waitFor({ timeout: 30_000 });
    expect(await refused.locator('tbody tr').filter({ hasText: kilnName['host1']! }).innerText()).toContain('the VM already runs on this host');
    await dialog.getByRole('radio', { name: new RegExp(`^${kilnName['host2']!.replace(/\./g, '\\.')}`) }).check();
    await ui.shot('kvm-moves-2-migrate-dialog');
    await dialog.getByRole('button', { name: 'Migrate', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 180_000 }).toBe(`${VM_NAME} was migrated live from ${kilnName['host1']!} to ${kilnName['host2']!}; it is Running.`);
    await ui.shot('kvm-moves-3-migrated');
    expect(await vm()).toMatchObject({ state: 'Running', hostname: kilnName['host2'] });
    expect(domainOn('host2')).toBe('running');
    expect(domainOn('host1')).not.toBe('running');
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  }, 240_000);

  it('scales it live from "Scale…"; libvirt gives the running domain 2 vCPUs and 256 MB', async () => {
    const { page } = ui;
    await page.getByRole('toolbar', { name: `Actions for ${VM_NAME}` }).getByRole('button', { name: 'Scale…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Scale: ${VM_NAME}` });
    const select = dialog.getByRole('combobox', { name: 'New offering' });
    await expect.poll(() => select.locator('option').allInnerTexts(), { timeout: 30_000 }).toContain('kvm-moves-2x256 (2 vCPU, 256 MB)');
    expect((await select.locator('option').allInnerTexts()).some((o) => o.startsWith('kvm-moves-tiny'))).toBe(false);
    await select.selectOption({ label: 'kvm-moves-2x256 (2 vCPU, 256 MB)' });
    await dialog.getByRole('button', { name: 'Scale', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 120_000 }).toBe(`${VM_NAME} was scaled live to kvm-moves-2x256 (2 vCPU, 256 MB). It stayed on ${kilnName['host2']!}.`);
    await ui.shot('kvm-moves-4-scaled');
    expect(await vm()).toMatchObject({ state: 'Running', hostname: kilnName['host2'] });
    expect(onHost('host2', 'virsh', 'dominfo', instanceName)).toMatch(/CPU\(s\):\s+2/);
    // The live memory follows the balloon a moment after setmem returns (seen at 131072 in CI).
    await expect.poll(() => onHost('host2', 'virsh', 'dumpxml', instanceName), { timeout: 20_000, interval: 500 }).toMatch(/<currentMemory unit='KiB'>262144</);
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  }, 180_000);

  it('restores its root disk from its template from "Reinstall…"; it runs again', async () => {
    const { page } = ui;
    await page.getByRole('toolbar', { name: `Actions for ${VM_NAME}` }).getByRole('button', { name: 'Reinstall…', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Reinstall ${VM_NAME}` });
    const before = rootDiskOn('host2');
    await dialog.getByRole('radio', { name: 'Its current template: Busybox test guest' }).check();
    await dialog.getByRole('button', { name: 'Reinstall', exact: true }).click();
    await expect.poll(() => dialog.getByRole('status').innerText(), { timeout: 180_000 }).toBe(`${VM_NAME} has a new root disk from template Busybox test guest; it is Running.`);
    await ui.shot('kvm-moves-5-restored');
    const after = await vm();
    expect(after.state).toBe('Running');
    const on = after.hostname === kilnName['host1'] ? 'host1' : 'host2';
    expect(domainOn(on)).toBe('running');
    // A new root disk, and the old one gone from the pool.
    const disk = rootDiskOn(on);
    expect(disk).not.toBe(before);
    expect(existsSync(join(hosts!.storagePath, before.split('/').pop()!))).toBe(false);
    expect(existsSync(join(hosts!.storagePath, disk.split('/').pop()!))).toBe(true);
    await dialog.locator('.dialog-buttons').getByRole('button', { name: 'Close' }).click();
  }, 240_000);
});
