/**
 * An OS installed from an ISO on a real KVM host, through Kiln (R6): the test installer ISO
 * (test/kvm-hosts/installer-iso.sh, built from Debian packages and cached) is registered by URL;
 * a blank VM deployed from it with a disk offering boots the ISO, whose installer writes a bootable
 * busybox system onto the VM's root disk and says so on the serial console. Then, as a user would:
 * detachIso, rebootVirtualMachine, and the VM boots from its own disk (SYSLINUX from the disk's MBR,
 * the installed system's hostname and kernel command line), seen on Kiln's serial console.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { ConsoleTap, WORK } from '../kvm/real-hosts.js';
import { registerServedIso, type RegisteredIso } from '../helpers/iso-server.js';

const hosts = kvmHostsOrSkip();
const INSTALLER_SH = join(import.meta.dirname, '../kvm-hosts/installer-iso.sh');

describe.skipIf(!hosts)('an OS installed from an ISO on a real KVM host', () => {
  let z: KvmZone;
  let iso: RegisteredIso | undefined;
  let isoId: string;
  let tap: ConsoleTap | undefined;

  beforeAll(async () => {
    const isoPath = execFileSync(INSTALLER_SH, { encoding: 'utf8', env: { ...process.env, KILN_KVM_WORK: WORK } }).trim();
    z = await kvmZone(hosts!, ['host1']);
    iso = await registerServedIso(z, 'Kiln busybox installer', readFileSync(isoPath));
    isoId = iso.id;
  }, 180_000);

  afterAll(async () => {
    tap?.close();
    if (z) await cleanUp(z.t);
    await z?.t.close();
    try {
      if (iso) onHost('host1', 'virsh', 'vol-delete', '--pool', 'kiln', iso.volume);
    } catch {
      /* never copied */
    }
    await iso?.close();
  }, 300_000);

  it('installs onto the blank root disk from the ISO; after detachIso and a reboot the VM boots the installed system from its disk', { timeout: 300_000 }, async () => {
    const small = z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Small'`).pluck().get() as string;
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: isoId, serviceofferingid: z.tiny, networkids: z.network, diskofferingid: small, name: 'kvm-os-install' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string; isoid: string } }).virtualmachine;
    expect(vm).toMatchObject({ state: 'Running', isoid: isoId });
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm.id) as string;

    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm.id));
    const done = await tap.waitFor(/KILN-INSTALLER-DONE sha256=([0-9a-f]{64})/, 180_000);
    const expected = readFileSync(join(WORK, 'cache/installer/disk.sha256'), 'utf8').trim().split(' ')[1];
    expect(done[1]).toBe(expected);
    // The whole boot as the host logged the serial port: the CD's boot loader, then the installer.
    const installLog = onHost('host1', 'cat', `/var/log/libvirt/qemu/${internal}-serial.log`);
    console.log(`[installer, serial] ${installLog.replace(/\r/g, '').split('\n').filter((l) => /ISOLINUX|KILN-INSTALLER/.test(l)).join('\n')}`);
    expect(installLog).toMatch(/ISOLINUX 6\.\d+/);
    expect(installLog).toMatch(/KILN-INSTALLER: writing the busybox system \(\d+ bytes\) to \/dev\/vda/);

    const detached = await z.t.run('detachIso', { virtualmachineid: vm.id });
    expect(detached['jobstatus'], JSON.stringify(detached['jobresult'])).toBe(1);
    const cdrom = onHost('host1', 'virsh', 'domblklist', internal).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'hdc');
    expect(cdrom?.[1]).toBe('-');

    const from = tap.mark();
    const reboot = await z.t.run('rebootVirtualMachine', { id: vm.id });
    expect(reboot['jobstatus'], JSON.stringify(reboot['jobresult'])).toBe(1);
    const ready = await tap.waitFor(/SYSLINUX 6\.\d+[\s\S]*?(KILN-GUEST-READY hostname=kiln-installed [^\n]*)/, 180_000, from);
    console.log(`[after detachIso + reboot, Kiln's serial console]\n${tap.text.slice(from).split('\n').filter((l) => /SYSLINUX|KILN-/.test(l)).join('\n')}`);
    expect(ready[1]).toMatch(/disks=vda/);
    expect(tap.text.slice(from)).not.toContain('ISOLINUX');
    const cmdline = await tap.runPatiently('cat /proc/cmdline', /^.*kiln\.booted=disk.*$/m);
    expect(cmdline[0]).toContain('hostname=kiln-installed');
    expect((await z.t.call('listVirtualMachines', { id: vm.id })).body['virtualmachine']).toEqual([expect.objectContaining({ state: 'Running' })]);
    expect(((await z.t.call('listVirtualMachines', { id: vm.id })).body['virtualmachine'] as Record<string, unknown>[])[0]!['isoid']).toBeUndefined();
  });
});
