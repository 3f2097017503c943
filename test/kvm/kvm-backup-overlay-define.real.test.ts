/**
 * The KVM session's define (every start through Kiln defines first) finds a backup's overlay still
 * named by a stopped domain's definition: a full backup's snapshot overlay in the backup staging
 * directory, left there when the guest powered off before the commit and no discard has run since
 * (the host unreachable then, say). The overlay holds the guest's last writes; define commits it
 * into the disk before redefining the domain from Kiln's record, which names the disk itself.
 * Here the overlay is made as a full backup makes it (virsh snapshot-create-as --disk-only into the
 * staging directory), the guest writes a marker into it and is shut down; after define and start
 * it reads the marker, and no overlay or staging directory is left. Without the check, define
 * pointed the domain at the disk and the marker was gone.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { KvmSession } from '../../drivers/kvm/session.js';
import { guestShell } from '../helpers/guest-marks.js';
import { hostKilnPath, onHost } from '../helpers/kvm-zone.js';
import { ConsoleTap, cleanup, connect, guestSpec, loadHosts, sleep, uniqueName } from './real-hosts.js';

const hosts = loadHosts();
if (!hosts && process.env['KILN_REQUIRE_REAL'] === '1') throw new Error('KVM test hosts are required (KILN_REQUIRE_REAL=1) but hosts.json is missing');

describe.skipIf(!hosts)('a backup overlay left in a stopped KVM domain is committed at its next define', () => {
  let session: KvmSession | undefined;
  const name = uniqueName('ovl');
  const staging = `/var/lib/kiln/backups/.staging/${randomUUID()}`;

  afterAll(async () => {
    if (session) await cleanup([session], name);
    await session?.close();
    onHost('host1', 'rm', '-rf', '--', staging);
  }, 120_000);

  it('commits the overlay into the disk before redefining: the guest reads what it wrote', { timeout: 240_000 }, async () => {
    session = await connect(hosts!, 0);
    const spec = guestSpec(hosts!, name);
    const { mark, read } = guestShell();
    await session.define(spec);
    await session.start(name);
    let tap = new ConsoleTap(await session.openConsole(name));
    await tap.waitFor(/KILN-GUEST-READY/, 120_000);
    await mark(tap, 'A');
    const overlay = `${staging}/${randomUUID()}/0.overlay.qcow2`;
    onHost('host1', 'mkdir', '-p', '--', overlay.slice(0, overlay.lastIndexOf('/')));
    onHost('host1', 'virsh', 'snapshot-create-as', '--domain', name, '--disk-only', '--atomic', '--no-metadata', '--diskspec', `vda,file=${overlay}`);
    await mark(tap, 'D');
    tap.close();
    onHost('host1', 'virsh', 'shutdown', '--domain', name);
    for (let i = 0; i < 600 && onHost('host1', 'virsh', 'domstate', '--domain', name).trim() !== 'shut off'; i++) await sleep(100);
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', name)).toContain(overlay);

    await session.define(spec);
    expect(existsSync(hostKilnPath('host1', overlay))).toBe(false);
    expect(existsSync(hostKilnPath('host1', staging))).toBe(false);
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', name)).not.toContain('.staging');
    await session.start(name);
    tap = new ConsoleTap(await session.openConsole(name));
    await tap.waitFor(/KILN-GUEST-READY/, 120_000);
    expect(await read(tap)).toBe('D');
    tap.close();
  });
});
