/**
 * attachVolume on KVM honours the VM's dataDiskController detail (R30), on a real host: the disk
 * lands on that bus, as libvirt's definition (virsh dumpxml) and the guest show it.
 *  - scsi, while the VM runs: hot-plugged as a LUN of the virtio-scsi controller Kiln adds (the
 *    guest, which has virtio-scsi and sd drivers, lists sda);
 *  - sata: refused while the VM runs (qemu adds SATA disks only at start), nothing written; attached
 *    to the stopped VM's definition, where the next start has it on the SATA bus.
 * The host set comes from KILN_KVM_WORK; the VMs and volumes go with the engine's cleanUp.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKvmZone, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { ConsoleTap } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let small: string;

async function job(command: string, params: Record<string, string>): Promise<{ status: number; text: string; result: Record<string, unknown> }> {
  const done = await z.t.run(command, params);
  const result = done['jobresult'] as Record<string, unknown>;
  return done['jobstatus'] === 1 ? { status: 200, text: '', result } : { status: Number(result['errorcode']), text: String(result['errortext']), result };
}

async function deploy(name: string, controller: string): Promise<{ id: string; domain: string }> {
  const deployed = await job('deployVirtualMachine', {
    zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host1']!, name, 'details[0].dataDiskController': controller,
  });
  expect(deployed.status, deployed.text).toBe(200);
  const id = (deployed.result['virtualmachine'] as { id: string }).id;
  return { id, domain: z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(id) as string };
}

async function newVolume(name: string): Promise<{ id: string; file: () => string }> {
  const made = await job('createVolume', { zoneid: z.zoneid, diskofferingid: small, name });
  expect(made.status, made.text).toBe(200);
  const id = (made.result['volume'] as { id: string }).id;
  // Its file is named when it is first attached.
  return { id, file: () => z.t.engine.db.prepare('SELECT path FROM volumes WHERE uuid=?').pluck().get(id) as string };
}

/** The <disk> element of DOMAIN's XML (live, or the definition) whose source is FILE, on one line. */
function diskXml(domain: string, file: string, inactive: boolean): string {
  const xml = onHost('host1', 'virsh', 'dumpxml', ...(inactive ? ['--inactive'] : []), domain).replace(/\n\s*/g, ' ');
  return [...xml.matchAll(/<disk [^>]*>.*?<\/disk>/g)].map((m) => m[0]).find((d) => d.includes(`/${file}'`)) ?? '';
}

describe.skipIf(!hosts)('KVM: attachVolume puts the disk on the bus of the VM\'s dataDiskController', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1']);
    small = z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Small'`).pluck().get() as string;
  }, 180_000);

  afterAll(async () => {
    await closeKvmZone(z);
  }, 180_000);

  it('scsi: hot-plugged into the running VM as sda on a virtio-scsi controller, which the guest sees', async () => {
    const vm = await deploy('ctl-scsi', 'scsi');
    const tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm.id));
    try {
      await tap.waitFor(/KILN-GUEST-READY/, 120_000);
      const volume = await newVolume('ctl-scsi-data');
      const attached = await job('attachVolume', { id: volume.id, virtualmachineid: vm.id });
      expect(attached.status, attached.text).toBe(200);
      for (const inactive of [false, true]) {
        expect(diskXml(vm.domain, volume.file(), inactive)).toMatch(/<target dev='sda' bus='scsi'\/>/);
        expect(onHost('host1', 'virsh', 'dumpxml', ...(inactive ? ['--inactive'] : []), vm.domain)).toMatch(/<controller type='scsi' index='0' model='virtio-scsi'>/);
      }
      // The guest's kernel found a SCSI disk (sd_mod over virtio-scsi), not a virtio-blk one.
      await tap.runPatiently('sleep 2; grep -c -w sda /proc/partitions; grep -c -w vdb /proc/partitions; echo seen-$((1+1))', /^1\n0\nseen-2$/m, 60_000);
    } finally {
      tap.close();
    }
  }, 300_000);

  it('sata: refused while the VM runs, with nothing written; attached to the stopped VM as sda on the SATA bus, which its next start has', async () => {
    const vm = await deploy('ctl-sata', 'sata');
    const volume = await newVolume('ctl-sata-data');
    const before = onHost('host1', 'virsh', 'dumpxml', '--inactive', vm.domain);
    const refused = await job('attachVolume', { id: volume.id, virtualmachineid: vm.id });
    expect(refused.status).not.toBe(200);
    expect(refused.text).toContain('a SATA disk cannot be hot-plugged into running domain');
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', vm.domain)).toBe(before);
    const file = z.t.engine.db.prepare('SELECT path FROM volumes WHERE uuid=?').pluck().get(volume.id) as string | null;
    if (file) expect(onHost('host1', 'virsh', 'vol-list', hosts!.poolName)).not.toContain(file);

    expect((await job('stopVirtualMachine', { id: vm.id, forced: 'true' })).status).toBe(200);
    const attached = await job('attachVolume', { id: volume.id, virtualmachineid: vm.id });
    expect(attached.status, attached.text).toBe(200);
    expect(diskXml(vm.domain, volume.file(), true)).toMatch(/<target dev='sda' bus='sata'\/>/);
    const started = await job('startVirtualMachine', { id: vm.id });
    expect(started.status, started.text).toBe(200);
    expect(diskXml(vm.domain, volume.file(), false)).toMatch(/<target dev='sda' bus='sata'\/>/);
  }, 300_000);
});
