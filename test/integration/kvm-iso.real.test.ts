/**
 * ISOs on a real KVM host (R6): an ISO made with genisoimage is registered by http URL
 * (registerIso), downloaded into the image store and copied into host1's pool on first use. A
 * blank VM deployed from it with a disk offering gets an empty root disk of the offering's size,
 * the ISO in its CD-ROM drive and the CD-ROM first in its boot order; detachIso ejects it from the
 * running domain (qemu's own view and the persistent definition), attachIso puts it into a running
 * busybox guest's drive, and a refusal changes nothing on the host. Everything is removed after.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { registerServedIso, type RegisteredIso } from '../helpers/iso-server.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let served: RegisteredIso | undefined;
let dir: string;
let isoId: string;
let volume: string;

/** The ISO drive (hdc) of a domain: the file it reads, live (qemu's) or in the persistent definition. */
function cdrom(internal: string, inactive = false): string {
  const row = onHost('host1', 'virsh', 'domblklist', ...(inactive ? ['--inactive'] : []), internal).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'hdc');
  return row?.[1] ?? '';
}

const internalOf = (uuid: string) => (z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(uuid) as { internal_name: string }).internal_name;

describe.skipIf(!hosts)('ISOs on a real KVM host', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-kvm-iso-'));
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'INSTALL.TXT'), 'Kiln installer test ISO\n');
    execFileSync('genisoimage', ['-quiet', '-V', 'KILN_INSTALL', '-o', join(dir, 'install.iso'), join(dir, 'root')]);
    z = await kvmZone(hosts!, ['host1']);
    served = await registerServedIso(z, 'installer', readFileSync(join(dir, 'install.iso')));
    isoId = served.id;
    volume = served.volume;
  }, 180_000);

  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
    try {
      onHost('host1', 'virsh', 'vol-delete', '--pool', 'kiln', volume);
    } catch {
      /* never copied */
    }
    onHost('host1', 'virsh', 'pool-refresh', 'kiln');
    await served?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('deploys a blank VM from the ISO with a disk offering: blank root disk of that size, the ISO in the drive, booting from the CD-ROM; detachIso ejects it live', { timeout: 180_000 }, async () => {
    const small = (z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Small'`).get() as { uuid: string }).uuid;
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: isoId, serviceofferingid: z.tiny, networkids: z.network, diskofferingid: small, name: 'kvm-iso-install' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string; isoid: string } }).virtualmachine;
    expect(vm).toMatchObject({ state: 'Running', isoid: isoId });
    const internal = internalOf(vm.id);
    const copy = onHost('host1', 'virsh', 'vol-path', '--pool', 'kiln', volume).trim();
    expect(cdrom(internal)).toBe(copy);
    const xml = onHost('host1', 'virsh', 'dumpxml', internal);
    // No kernel of its own: the firmware boots the CD-ROM first, then the (blank) disk.
    expect(xml).toMatch(/<boot dev='cdrom'\/>\s*<boot dev='hd'\/>/);
    expect(xml).not.toContain('<kernel>');
    const root = onHost('host1', 'virsh', 'domblklist', internal).split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === 'vda')![1]!;
    const info = JSON.parse(onHost('host1', 'qemu-img', 'info', '-U', '--output=json', root)) as { 'virtual-size': number; 'backing-filename'?: string };
    expect(info['virtual-size']).toBe(5 * 1024 ** 3);
    expect(info['backing-filename']).toBeUndefined();

    const detached = await z.t.run('detachIso', { virtualmachineid: vm.id });
    expect(detached['jobstatus'], JSON.stringify(detached['jobresult'])).toBe(1);
    expect((detached['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine['isoid']).toBeUndefined();
    expect(cdrom(internal)).toBe('-');
    expect(cdrom(internal, true)).toBe('-');
    // Forced first: the blank VM has no OS to answer the ACPI button, and destroy's graceful stop would wait out vm.stop.timeout.
    await z.t.run('stopVirtualMachine', { id: vm.id, forced: 'true' });
    await z.t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(internal);
  });

  it('attaches the ISO to a running busybox guest and detaches it again; a second attach is refused with nothing changed on the host', { timeout: 180_000 }, async () => {
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-iso-guest' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine;
    const internal = internalOf(vm.id);
    expect(cdrom(internal)).toBe('-');

    const attached = await z.t.run('attachIso', { id: isoId, virtualmachineid: vm.id });
    expect(attached['jobstatus'], JSON.stringify(attached['jobresult'])).toBe(1);
    expect((attached['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine).toMatchObject({ state: 'Running', isoid: isoId, isoname: 'installer' });
    const copy = onHost('host1', 'virsh', 'vol-path', '--pool', 'kiln', volume).trim();
    expect(cdrom(internal)).toBe(copy);
    expect(cdrom(internal, true)).toBe(copy);
    // qemu itself has the medium in the guest's IDE CD-ROM.
    expect(onHost('host1', 'virsh', 'qemu-monitor-command', '--hmp', internal, 'info block')).toMatch(new RegExp(`${copy.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*\\(raw, read-only\\)`));

    const again = await z.t.call('attachIso', { id: isoId, virtualmachineid: vm.id });
    expect(again).toMatchObject({ status: 431, body: { errortext: 'virtualmachineid: VM kvm-iso-guest already has ISO installer attached; detach it first' } });
    expect(cdrom(internal)).toBe(copy);

    const detached = await z.t.run('detachIso', { virtualmachineid: vm.id });
    expect(detached['jobstatus'], JSON.stringify(detached['jobresult'])).toBe(1);
    expect(cdrom(internal)).toBe('-');
    expect(cdrom(internal, true)).toBe('-');
    // Forced first: the guest may still be booting, deaf to the ACPI button destroy's graceful stop presses.
    await z.t.run('stopVirtualMachine', { id: vm.id, forced: 'true' });
    await z.t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
  });
});
