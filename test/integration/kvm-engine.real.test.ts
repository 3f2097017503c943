/**
 * Kiln's engine on real KVM hosts (libvirt + qemu behind sshd, test/kvm-hosts): everything a
 * user does through the API must happen on the hypervisor. This file: adding hosts (trust on first
 * use, a changed key), a VM's life on one host (deploy, console, stop, reboot, destroy, start
 * elsewhere, rebuild, volatile root disk, live scaling) and hostile names. Migration, disks and
 * snapshots are in kvm-engine-moves.real, HA in kvm-engine-ha.real (one file per theme, so the
 * real shards balance).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { currentFingerprint } from '../kvm/real-hosts.js';
import { testEngine } from '../helpers/engine.js';
import { KvmDriver } from '../../drivers/kvm/index.js';
import { harness, kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { engineVms, engineZoneHooks } from '../helpers/kvm-engine-vms.js';

const hosts = kvmHostsOrSkip();

describe.skipIf(!hosts)('the engine on real KVM hosts', () => {
  const z = engineZoneHooks(hosts!);
  const { deploy, row, consoleOf } = engineVms(z);

  it('adds hosts by trust on first use, with capacity from the host', async () => {
    const listed = (await z.t.call('listHosts', { zoneid: z.zoneid })).body['host'] as { name: string; state: string; hostkeyfingerprint: string; memorytotal: number; memorywithoverprovisioning: string; cpunumber: number }[];
    expect(listed.map((h) => h.state)).toEqual(['Up', 'Up']);
    for (const h of listed) {
      expect(h.hostkeyfingerprint).toMatch(/^SHA256:/);
      expect(h.cpunumber).toBeGreaterThan(0);
      expect(h.memorytotal).toBeGreaterThan(0);
      // The cluster's mem.overprovisioning.factor is 1 here: the capacity after it is the host's own.
      expect(Number(h.memorywithoverprovisioning)).toBe(h.memorytotal);
    }
  });

  it('shows a host key before trusting it, and refuses a host whose key is not the one confirmed', async () => {
    const h1 = hosts!.hosts[0]!;
    const probe = await z.t.call('probeHostKey', { url: `ssh://${h1.address}:${h1.port}` });
    expect(probe.body['hostkey']).toMatchObject({ fingerprint: currentFingerprint(h1) });
    // A second Kiln (its own database) adding host1 must see exactly the key its admin confirmed.
    const other = await testEngine({ drivers: [new KvmDriver()] });
    try {
      const zone = ((await other.call('createZone', { name: 'Z' })).body['zone'] as { id: string }).id;
      const pod = ((await other.call('createPod', { name: 'P', zoneid: zone })).body['pod'] as { id: string }).id;
      const cluster = ((await other.call('addCluster', { clustername: 'C', zoneid: zone, podid: pod, hypervisor: 'KVM' })).body['cluster'] as { id: string }).id;
      const add = (fingerprint: string) => other.call('addHost', {
        zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${h1.address}:${h1.port}`, username: h1.username,
        privatekey: readFileSync(h1.privateKeyPath, 'utf8'), hostkeyfingerprint: fingerprint,
      });
      const wrong = await add('SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      expect(wrong.status).toBe(534);
      expect(String(wrong.body['errortext'])).toMatch(/host key/i);
      expect(other.engine.db.prepare(`SELECT COUNT(*) AS n FROM hosts WHERE hypervisor='KVM'`).get()).toEqual({ n: 0 });
      const right = await add(currentFingerprint(h1));
      expect(right.body['host']).toMatchObject({ state: 'Up', hostkeyfingerprint: currentFingerprint(h1) });
    } finally {
      await other.close();
    }
  });

  /** The first test's VM, booted and answering on its console; the reboot test goes on with it. */
  let first: Record<string, string> | undefined;

  it('deploys until Running, shows the domain in virsh list, and gives a console with the banner and echo', async () => {
    const vm = await deploy({ name: 'kvm-first' });
    first = vm;
    expect(vm['state']).toBe('Running');
    const { internal_name, host } = row(vm['id']!);
    expect(internal_name).toMatch(/^i-\d+-\d+-T[0-9a-z]+$/);
    expect(onHost(host!, 'virsh', 'list', '--name')).toContain(internal_name);
    const tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('echo typed-$((6*7))', /typed-42/);
    tap.close();
  });

  it('stops gracefully on ACPI, and forces a guest that ignores ACPI after vm.stop.timeout', async () => {
    const vm = await deploy({ name: 'kvm-acpi' });
    const tap = await consoleOf(vm['id']!);
    // The guest that ignores ACPI boots meanwhile (its console records from the start).
    const deaf = await deploy({ name: 'kvm-deaf', templateid: z.noAcpiTemplateid });
    const deafTap = await consoleOf(deaf['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    const stopped = await z.t.run('stopVirtualMachine', { id: vm['id']! });
    expect(stopped['jobresult']).toMatchObject({ virtualmachine: { state: 'Stopped' } });
    await tap.waitFor(/KILN-GUEST-POWEROFF/);
    tap.close();
    const { internal_name } = row(vm['id']!);
    const host = (z.t.engine.db.prepare('SELECT h.name FROM vm_instances v JOIN hosts h ON h.id=v.last_host_id WHERE v.uuid=?').get(vm['id']) as { name: string }).name;
    expect(onHost(host, 'virsh', 'domstate', internal_name)).toMatch(/shut off/);

    await z.t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '4' });
    await deafTap.waitFor(/KILN-GUEST-READY/);
    const forced = await z.t.run('stopVirtualMachine', { id: deaf['id']! });
    expect(forced['jobresult']).toMatchObject({ virtualmachine: { state: 'Stopped' } });
    expect(deafTap.text).not.toMatch(/KILN-GUEST-POWEROFF/);
    deafTap.close();
    await z.t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '20' });
  });

  it('reboots, and destroy with expunge removes the domain and its disk from the host', async () => {
    // The first test's VM, up already (it answered on its console there).
    const vm = first!;
    const tap = await consoleOf(vm['id']!);
    const mark = tap.mark();
    expect((await z.t.run('rebootVirtualMachine', { id: vm['id']! }))['jobresult']).toMatchObject({ virtualmachine: { state: 'Running' } });
    await tap.waitFor(/KILN-GUEST-READY/, 60_000, mark);
    tap.close();
    const { internal_name, host } = row(vm['id']!);
    const disk = (z.t.engine.db.prepare(`SELECT path FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND volume_type='ROOT'`).get(vm['id']) as { path: string }).path;
    expect(existsSync(`${hosts!.storagePath}/${disk}`)).toBe(true);
    expect((await z.t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobresult']).toEqual({ success: true });
    expect(onHost(host!, 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
    expect(existsSync(`${hosts!.storagePath}/${disk}`)).toBe(false);
  });

  it('starts a stopped VM on the host an admin names, and undefines the copy on its old host (R10)', async () => {
    const vm = await deploy({ name: 'kvm-r10', hostid: z.hostIds['host1']! });
    const { internal_name } = row(vm['id']!);
    await z.t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).toContain(internal_name);
    const started = await z.t.run('startVirtualMachine', { id: vm['id']!, hostid: z.hostIds['host2']! });
    expect(started['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostid: z.hostIds['host2'] } });
    expect(onHost('host2', 'virsh', 'list', '--name')).toContain(internal_name);
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(internal_name);
  });

  it('rebuilds the domain from the database on start but not on reboot (R9)', async () => {
    const vm = await deploy({ name: 'kvm-r9' });
    // The definition libvirt holds (--inactive): what Kiln defined. The busybox guest has no balloon
    // driver, so the live figure stays at the maximum whatever the definition says.
    const dominfo = () => { const { internal_name, host } = row(vm['id']!); return onHost(host!, 'virsh', 'dumpxml', '--inactive', internal_name); };
    expect(dominfo()).toMatch(/<currentMemory unit='KiB'>131072</);
    await z.t.run('stopVirtualMachine', { id: vm['id']!, forced: 'true' });
    const bigger = ((await z.t.call('createServiceOffering', { name: 'kvm-192', cpunumber: '1', cpuspeed: '100', memory: '192' })).body['serviceoffering'] as { id: string }).id;
    expect((await z.t.call('changeServiceForVirtualMachine', { id: vm['id']!, serviceofferingid: bigger })).status).toBe(200);
    await z.t.run('startVirtualMachine', { id: vm['id']! });
    expect(dominfo()).toMatch(/<currentMemory unit='KiB'>196608</);
    z.t.engine.db.prepare('UPDATE vm_instances SET memory=256 WHERE uuid=?').run(vm['id']);
    await z.t.run('rebootVirtualMachine', { id: vm['id']! });
    expect(dominfo()).toMatch(/<currentMemory unit='KiB'>196608</);
    z.t.engine.db.prepare('UPDATE vm_instances SET memory=192 WHERE uuid=?').run(vm['id']);
  });

  it('gives a fresh root disk on every reboot with a volatile offering (R19)', async () => {
    const volatile = ((await z.t.call('createServiceOffering', { name: 'kvm-volatile', cpunumber: '1', cpuspeed: '100', memory: '128', isvolatile: 'true' })).body['serviceoffering'] as { id: string }).id;
    const vm = await deploy({ name: 'kvm-volatile', serviceofferingid: volatile });
    let tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    // The root disk is raw to the busybox guest: write a marker at its start and read it back.
    await tap.run('echo KILNMARK42 > /dev/vda; sync; head -c 10 /dev/vda | grep -c KILNMARK42', /^1$/m);
    tap.close();
    await z.t.run('rebootVirtualMachine', { id: vm['id']! });
    tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('head -c 10 /dev/vda | grep -c KILNMARK42; echo done-$((1+1))', /^0\ndone-2$/m);
    tap.close();
  });

  it('scales vCPUs and memory up live (R16)', async () => {
    await z.t.call('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: z.zoneid });
    const vm = await deploy({ name: 'kvm-scale' });
    const larger = ((await z.t.call('createServiceOffering', { name: 'kvm-2x256', cpunumber: '2', cpuspeed: '100', memory: '256' })).body['serviceoffering'] as { id: string }).id;
    const job = await z.t.run('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: larger });
    expect(job['jobresult']).toMatchObject({ virtualmachine: { cpunumber: 2, memory: 256, state: 'Running' } });
    const { internal_name, host } = row(vm['id']!);
    expect(onHost(host!, 'virsh', 'dominfo', internal_name)).toMatch(/CPU\(s\):\s+2/);
    expect(onHost(host!, 'virsh', 'dumpxml', '--inactive', internal_name)).toMatch(/<currentMemory unit='KiB'>262144</);
  });

  it('never passes hostile names to a shell', async () => {
    rmSync('/tmp/kiln-pwned', { force: true });
    const os = (z.t.engine.db.prepare(`SELECT uuid FROM guest_os LIMIT 1`).get() as { uuid: string }).uuid;
    const hostile = await z.t.call('registerTemplate', {
      name: "tpl $(touch /tmp/kiln-pwned) `touch /tmp/kiln-pwned`; touch /tmp/kiln-pwned", format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts!.templateImage, zoneid: z.zoneid, size: String(64 * 1024 * 1024),
      'details[0].kernel': hosts!.kernel, 'details[0].initrd': hosts!.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
    });
    const templateid = (hostile.body['template'] as { id: string }[])[0]!.id;
    const vm = await deploy({ templateid, displayname: `x$(touch /tmp/kiln-pwned)';"` });
    expect(vm['state']).toBe('Running');
    const { internal_name, host } = row(vm['id']!);
    expect(onHost(host!, 'virsh', 'dumpxml', internal_name)).toContain('x$(touch /tmp/kiln-pwned)&apos;;&quot;');
    expect(existsSync('/tmp/kiln-pwned')).toBe(false);
    expect(onHost(host!, 'sh', '-c', 'test -e /tmp/kiln-pwned && echo PWNED || echo clean')).toContain('clean');
  });

  it('refuses a host whose SSH key changed, with a clear error, until an admin accepts the new key', async () => {
    harness('rekey-host', 'host2');
    await z.t.engine.hosts.drop((z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').get(z.hostIds['host2']) as { id: number }).id);
    const vm = await z.t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host2']! });
    const job = await z.t.engine.jobs.wait(String(vm.body['jobid']));
    expect(job).toMatchObject({ jobstatus: 2, jobresultcode: 534 });
    expect(String((job['jobresult'] as { errortext: string }).errortext)).toMatch(/host key/i);
    const host = ((await z.t.call('listHosts', { id: z.hostIds['host2']! })).body['host'] as { state: string; details: { lasterror: string } }[])[0]!;
    expect(host.state).toBe('Alert');
    expect(host.details.lasterror).toMatch(/SHA256:/);
    const fingerprint = currentFingerprint(hosts!.hosts.find((h) => h.name === 'host2')!);
    const accepted = await z.t.call('acceptHostKey', { id: z.hostIds['host2']!, fingerprint });
    expect(accepted.body['host']).toMatchObject({ state: 'Up', hostkeyfingerprint: fingerprint });
  });
});
