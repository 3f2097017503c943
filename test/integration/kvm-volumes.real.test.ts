/**
 * Data volumes on a real KVM host (issue 12): a volume attached live is seen by the busybox guest
 * (/sys/block over the serial console), grows live, and is detached live; attached to the stopped
 * VM and shrunk (shrinkok), the guest sees it at the smaller size from its next boot; the VM
 * expunged, the volume stays (detached, its file kept); deleted, its file leaves the shared pool.
 * Uses host1 of the default host set and removes every domain and volume it made.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap } from '../kvm/real-hosts.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const GiB = 1024 ** 3;

async function ok(command: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const job = await z.t.run(command, params);
  if (job['jobstatus'] !== 1) throw new Error(`${command}: ${JSON.stringify(job['jobresult'])}`);
  return job['jobresult'] as Record<string, unknown>;
}

describe.skipIf(!hosts)('data volumes on a real KVM host', () => {
  const made: string[] = [];
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1']);
  });
  afterAll(async () => {
    if (!z) return;
    await cleanUp(z.t);
    // A volume a failed step left detached would otherwise stay in the shared pool.
    for (const id of made) await z.t.call('deleteVolume', { id }).catch(() => undefined);
    await z.t.close();
  }, 120_000);

  it('attaches live (the guest sees vdb), grows it live, detaches live, attaches into the stopped VM and shrinks it there (the guest boots with it), outlives the VM, and deletes the disk', async () => {
    const vm = ((await ok('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-volumes' }))['virtualmachine'] as { id: string });
    const row = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(vm.id) as { internal_name: string };
    const domain = row.internal_name;
    let tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm.id));
    await tap.waitFor(/KILN-GUEST-READY/);

    const custom = (z.t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
    const volume = ((await ok('createVolume', { zoneid: z.zoneid, diskofferingid: custom, size: '1', name: 'kvm-data' }))['volume'] as { id: string; state: string });
    made.push(volume.id);
    expect(volume.state).toBe('Allocated');
    const file = `${hosts!.storagePath}/${volume.id}.qcow2`;
    expect(existsSync(file)).toBe(false);

    // Live attach: the volume's disk is made in the pool, hot-plugged, and the guest sees it.
    const attached = (await ok('attachVolume', { id: volume.id, virtualmachineid: vm.id }))['volume'] as { state: string; deviceid: number };
    expect(attached).toMatchObject({ state: 'Ready', deviceid: 1 });
    expect(existsSync(file)).toBe(true);
    expect(onHost('host1', 'virsh', 'domblklist', domain)).toMatch(new RegExp(`vdb\\s+${file}`));
    expect(onHost('host1', 'virsh', 'domblklist', '--inactive', domain)).toMatch(new RegExp(`vdb\\s+${file}`));
    await tap.run('sleep 1; cat /sys/block/vdb/size', new RegExp(`^${GiB / 512}\\r?$`, 'm'));

    // Live grow: qemu tells the guest the new capacity.
    expect(((await ok('resizeVolume', { id: volume.id, size: '2' }))['volume'] as { size: number }).size).toBe(2 * GiB);
    await tap.run('cat /sys/block/vdb/size', new RegExp(`^${(2 * GiB) / 512}\\r?$`, 'm'));
    const refused = await z.t.call('resizeVolume', { id: volume.id, size: '1' });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/shrinkok=true/);

    // Live detach: the guest lets the device go, the definition forgets it, the file stays.
    expect(((await ok('detachVolume', { id: volume.id }))['volume'] as { state: string; virtualmachineid?: string })).toMatchObject({ state: 'Ready' });
    await tap.run('ls /sys/block; echo listed', /listed/);
    expect(tap.text.slice(tap.text.lastIndexOf('ls /sys/block'))).not.toMatch(/vdb/);
    expect(onHost('host1', 'virsh', 'domblklist', domain)).not.toMatch(/vdb/);
    expect(onHost('host1', 'virsh', 'domblklist', '--inactive', domain)).not.toMatch(/vdb/);
    expect(existsSync(file)).toBe(true);
    tap.close();

    // Into the stopped VM's definition: the guest lists it from its next boot.
    await ok('stopVirtualMachine', { id: vm.id });
    expect(((await ok('attachVolume', { id: volume.id, virtualmachineid: vm.id }))['volume'] as { state: string })).toMatchObject({ state: 'Ready' });
    expect(onHost('host1', 'virsh', 'domblklist', '--inactive', domain)).toMatch(/vdb/);
    // Shrunk while the VM is off (shrinkok): the guest boots with the smaller disk.
    expect(((await ok('resizeVolume', { id: volume.id, size: '1', shrinkok: 'true' }))['volume'] as { size: number }).size).toBe(GiB);
    await ok('startVirtualMachine', { id: vm.id });
    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm.id));
    await tap.waitFor(/KILN-GUEST-READY .*disks=\S*vdb/);
    await tap.run('cat /sys/block/vdb/size', new RegExp(`^${GiB / 512}\\r?$`, 'm'));
    tap.close();

    // The VM goes, its data disk stays (not named in volumeids): detached, Ready, its file in the pool.
    await ok('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(domain);
    const left = ((await z.t.call('listVolumes', { id: volume.id })).body['volume'] as { state: string; virtualmachineid?: string }[])[0]!;
    expect(left.state).toBe('Ready');
    expect(left.virtualmachineid).toBeUndefined();
    expect(existsSync(file)).toBe(true);

    // Deleted: the file leaves the shared pool.
    expect((await z.t.call('deleteVolume', { id: volume.id })).status).toBe(200);
    expect(existsSync(file)).toBe(false);
    made.length = 0;
  }, 150_000);
});
