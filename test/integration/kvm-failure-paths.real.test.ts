/**
 * Failure paths on real KVM hosts (test/kvm-hosts): a first start qemu refuses (a template whose
 * kernel is not there) and a live migration the destination's libvirt refuses. Each must end
 * settled, with the job's error in an event, and leave nothing on a host that Kiln has forgotten:
 * checked with `virsh list --all` and `virsh vol-list kiln` on every host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;

function row(id: string) {
  return z.t.engine.db.prepare('SELECT v.id, v.internal_name, v.state, h.name AS host, lh.name AS last_host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id LEFT JOIN hosts lh ON lh.id=v.last_host_id WHERE v.uuid=?').get(id) as {
    id: number; internal_name: string; state: string; host: string | null; last_host: string | null;
  };
}

/**
 * On which harness hosts `virsh list --all` shows the domain; which of the VM's volumes are still
 * files in the shared pool; and which of them `virsh vol-list kiln` shows on the host that held the
 * VM (another host's libvirt may list a shared pool's file until its pool is refreshed).
 */
function onHosts(id: string) {
  const r = row(id);
  const volumes = (z.t.engine.db.prepare('SELECT path FROM volumes WHERE vm_id=?').all(r.id) as { path: string }[]).map((v) => v.path);
  const harnessName = (kilnName: string | null) => hosts!.hosts.find((h) => h.address === kilnName || h.name === kilnName)?.name;
  const home = harnessName(r.last_host);
  const listed = home ? onHost(home, 'virsh', 'vol-list', hosts!.poolName) : '';
  return {
    domainOn: hosts!.hosts.map((h) => h.name).filter((h) => onHost(h, 'virsh', 'list', '--all', '--name').split('\n').map((l) => l.trim()).includes(r.internal_name)),
    volumeFiles: volumes.filter((v) => existsSync(join(hosts!.storagePath, v))),
    listedByItsHost: volumes.filter((v) => listed.includes(v)),
  };
}

async function errorEventTexts(id: string): Promise<string[]> {
  const events = (await z.t.call('listEvents', { resourceid: id, level: 'ERROR' })).body['event'] as { description: string }[] | undefined;
  return (events ?? []).map((e) => e.description);
}

describe.skipIf(!hosts)('failure paths on real KVM hosts', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, undefined, undefined, { sharedPool: true });
  }, 120_000);
  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
  }, 300_000);

  it('a first start qemu refuses (missing kernel) leaves the VM in Error; destroy with expunge then leaves no domain and no volume on any host', async () => {
    const os = (z.t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Other Linux (64-bit)'`).get() as { uuid: string }).uuid;
    const registered = await z.t.call('registerTemplate', {
      name: 'Missing kernel', format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts!.templateImage, zoneid: z.zoneid, ispublic: 'true', size: String(64 * 1024 * 1024),
      'details[0].kernel': `${hosts!.storagePath}/boot/missing-vmlinuz`, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    });
    expect(registered.status).toBe(200);
    const templateid = (registered.body['template'] as { id: string }[])[0]!.id;
    const res = await z.t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'bad-kernel' });
    const job = await z.t.engine.jobs.wait(String(res.body['jobid']));
    const id = String(job['jobinstanceid']);
    expect(job['jobstatus']).toBe(2);
    const errortext = String((job['jobresult'] as { errortext: string }).errortext);
    expect(errortext).toMatch(/missing-vmlinuz/);
    expect((await errorEventTexts(id)).some((d) => d.includes(errortext))).toBe(true);
    const failed = row(id);
    expect(failed).toMatchObject({ state: 'Error', host: null });
    // The definition was made on a host, and Kiln knows which.
    expect(failed.last_host).not.toBeNull();
    const before = onHosts(id);
    expect(before.domainOn).toEqual([hosts!.hosts.find((h) => h.address === failed.last_host || h.name === failed.last_host)!.name]);
    expect(before.volumeFiles.length).toBeGreaterThan(0);
    expect(before.listedByItsHost).toEqual(before.volumeFiles);

    const gone = await z.t.run('destroyVirtualMachine', { id, expunge: 'true' });
    expect(gone['jobstatus']).toBe(1);
    expect(row(id).state).toBe('Expunged');
    expect(onHosts(id)).toEqual({ domainOn: [], volumeFiles: [], listedByItsHost: [] });
  }, 180_000);

  it('a live migration the destination libvirt refuses leaves the VM Running on its source, with the error in an event', async () => {
    const deployed = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'refused-migration' });
    expect(deployed['jobstatus']).toBe(1);
    const id = String(deployed['jobinstanceid']);
    const { internal_name, host: source } = row(id);
    const destination = hosts!.hosts.find((h) => h.address !== source && h.name !== source)!;
    // The destination already has another domain by that name (another UUID): libvirt there refuses the incoming one.
    const xml = `/tmp/kiln-d1-clash-${process.pid}.xml`;
    writeFileSync(xml, `<domain type='qemu'><name>${internal_name}</name><uuid>00000000-0000-4000-8000-00000000d1d1</uuid><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os></domain>`);
    onHost(destination.name, 'virsh', 'define', xml);
    try {
      const hostid = z.hostIds[destination.name]!;
      const job = await z.t.run('migrateVirtualMachine', { virtualmachineid: id, hostid });
      expect(job['jobstatus']).toBe(2);
      const errortext = String((job['jobresult'] as { errortext: string }).errortext);
      expect((await errorEventTexts(id)).some((d) => d.includes(errortext))).toBe(true);
      expect(row(id)).toMatchObject({ state: 'Running', host: source });
      expect(onHost(source!, 'virsh', 'domstate', internal_name).trim()).toBe('running');
    } finally {
      onHost(destination.name, 'virsh', 'undefine', '00000000-0000-4000-8000-00000000d1d1');
      rmSync(xml, { force: true });
    }
    // Forced: the guest may still be booting and ignore ACPI for vm.stop.timeout.
    await z.t.run('stopVirtualMachine', { id, forced: 'true' });
    expect((await z.t.run('destroyVirtualMachine', { id, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(onHosts(id)).toEqual({ domainOn: [], volumeFiles: [], listedByItsHost: [] });
  }, 180_000);
});
