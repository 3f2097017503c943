/**
 * Where an imported KVM VM may run (issue 13; adopted-moves.ts), on real hosts. Three domains are
 * defined by hand on host1, shut off, their disks in the pool (which the hosts do not report as
 * shared: nobody told Kiln they are), and imported with importUnmanagedInstance:
 *  - without migrateallowed: a start on host2 and a live migration are refused up front (431,
 *    saying why, nothing written); a start without a host runs it on host1;
 *  - with migrateallowed=true: a start on host2 carries its definition there (host1 has none
 *    left; disks and the e1000 NIC as they were), then it migrates live back to host1;
 *  - stopped, with an offering whose host tag only host2 has: refused without migrateallowed
 *    (R48), imported with it, and its first start places it on host2.
 * Runs on whatever hosts.json KILN_KVM_WORK points at; every domain and volume is removed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { dbFingerprint } from '../helpers/engine.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let dir: string;
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const names = { pinned: `mv-pin-${tag}`, free: `mv-free-${tag}`, tagged: `mv-tag-${tag}` };
const all = Object.values(names);
const mac = (i: number) => `52:54:00:4d:${(process.pid % 256).toString(16).padStart(2, '0')}:0${i}`;

const virsh = (host: string, ...args: string[]) => onHost(host, 'virsh', ...args);
const defined = (host: string, name: string) => onHost(host, 'sh', '-c', `virsh domstate ${name} 2>/dev/null || echo missing`).trim();
/** What the start must keep of the hand-made definition: its disk and its NIC (model and MAC). */
const devices = (host: string, name: string) => [virsh(host, 'domblklist', name), virsh(host, 'domiflist', name)].join('\n');

describe.skipIf(!hosts)('imported KVM VMs: where they may start and move', () => {
  const ids: Record<string, string> = {};
  let tagged: string;

  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1', 'host2']);
    dir = mkdtempSync(join(tmpdir(), 'kiln-kvm-moves-'));
    all.forEach((name, i) => {
      virsh('host1', 'vol-create-as', hosts!.poolName, `${name}-root.qcow2`, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
      writeFileSync(join(dir, `${name}.xml`), handMadeDomainXml(hosts!, name, [`${hosts!.storagePath}/${name}-root.qcow2`], [mac(i + 1)]));
      virsh('host1', 'define', join(dir, `${name}.xml`));
    });
    virsh('host2', 'pool-refresh', hosts!.poolName);
    tagged = ((await z.t.call('createServiceOffering', { name: 'kvm-tiny-tagged', cpunumber: '1', cpuspeed: '100', memory: '128', hosttags: `only2-${tag}` })).body['serviceoffering'] as { id: string }).id;
    expect((await z.t.call('updateHost', { id: z.hostIds['host2']!, hosttags: `only2-${tag}` })).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    if (z) {
      await cleanUp(z.t);
      await z.t.call('updateHost', { id: z.hostIds['host2']!, hosttags: '' });
      await z.t.close();
    }
    for (const host of ['host1', 'host2']) {
      onHost(host, 'sh', '-c', all.map((n) => `virsh destroy ${n} >/dev/null 2>&1; virsh undefine ${n} >/dev/null 2>&1;`).join(' ') + ' true');
    }
    const left = onHost('host1', 'sh', '-c', `virsh pool-refresh ${hosts!.poolName} >/dev/null; virsh vol-list ${hosts!.poolName} | grep -c mv- ; true`).trim();
    onHost('host1', 'sh', '-c', all.map((n) => `virsh vol-delete --pool ${hosts!.poolName} ${n}-root.qcow2 >/dev/null 2>&1;`).join(' ') + ' true');
    if (dir) rmSync(dir, { recursive: true, force: true });
    // Kiln's expunge removed the imported VMs' volumes.
    expect(left).toBe('0');
  }, 120_000);

  const importVm = async (name: string, extra: Record<string, string> = {}) =>
    z.t.call('importUnmanagedInstance', { clusterid: z.clusterid, name, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network, ...extra });
  const imported = async (name: string, extra: Record<string, string> = {}) => {
    const job = await z.t.run('importUnmanagedInstance', { clusterid: z.clusterid, name, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network, ...extra });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    return (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine;
  };

  it('without migrateallowed, a VM whose disks only its host is known to have is refused elsewhere, saying why, and runs on its host', async () => {
    const vm = await imported(names.pinned);
    ids['pinned'] = vm.id;
    expect(vm.state).toBe('Stopped');
    const why = `VM ${names.pinned} was imported with its own definition on host ${hosts!.hosts[0]!.address} and its disks are on storage that host does not report as shared, so it starts and runs only on host ${hosts!.hosts[0]!.address}; import it with migrateallowed=true when its disks are reachable from the other hosts`;
    const before = dbFingerprint(z.t.engine);
    const elsewhere = await z.t.call('startVirtualMachine', { id: vm.id, hostid: z.hostIds['host2']! });
    expect(elsewhere.status).toBe(431);
    expect(elsewhere.body['errortext']).toBe(`hostid: ${why}`);
    expect(dbFingerprint(z.t.engine)).toBe(before);
    expect(defined('host2', names.pinned)).toBe('missing');

    const started = await z.t.run('startVirtualMachine', { id: vm.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect((started['jobresult'] as { virtualmachine: { hostid: string } }).virtualmachine.hostid).toBe(z.hostIds['host1']);
    expect(defined('host1', names.pinned)).toBe('running');
    const running = dbFingerprint(z.t.engine);
    const moved = await z.t.call('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: z.hostIds['host2']! });
    expect(moved.status).toBe(431);
    expect(moved.body['errortext']).toBe(`virtualmachineid: ${why}`);
    expect(dbFingerprint(z.t.engine)).toBe(running);
    expect((await z.t.run('stopVirtualMachine', { id: vm.id, forced: 'true' }))['jobstatus']).toBe(1);
  }, 120_000);

  it('with migrateallowed=true, a start on another host carries its definition there, and it migrates live like any Kiln VM', async () => {
    const before = devices('host1', names.free);
    const vm = await imported(names.free, { migrateallowed: 'true' });
    const started = await z.t.run('startVirtualMachine', { id: vm.id, hostid: z.hostIds['host2']! });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect(defined('host2', names.free)).toBe('running');
    expect(defined('host1', names.free)).toBe('missing');
    // Its own definition, not one rebuilt from Kiln's records: same disk, e1000 NIC, same MAC.
    expect(devices('host2', names.free)).toBe(before);
    expect(before).toMatch(new RegExp(`e1000\\s+${mac(2)}`));

    const back = await z.t.run('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: z.hostIds['host1']! });
    expect(back['jobstatus'], JSON.stringify(back['jobresult'])).toBe(1);
    expect(defined('host1', names.free)).toBe('running');
    expect(defined('host2', names.free)).toBe('missing');
    expect(devices('host1', names.free)).toBe(before);
  }, 150_000);

  it('a stopped VM whose offering needs a host tag its host lacks is imported with migrateallowed, and its first start places it where the tag is', async () => {
    const before = dbFingerprint(z.t.engine);
    const refused = await importVm(names.tagged, { serviceofferingid: tagged });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toBe(`serviceofferingid: offering kvm-tiny-tagged needs host tag only2-${tag}, which host ${hosts!.hosts[0]!.address} of VM ${names.tagged} lacks; pass migrateallowed=true to move the VM to a host that has it`);
    expect(dbFingerprint(z.t.engine)).toBe(before);

    const vm = await imported(names.tagged, { serviceofferingid: tagged, migrateallowed: 'true' });
    expect(vm.state).toBe('Stopped');
    const started = await z.t.run('startVirtualMachine', { id: vm.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect((started['jobresult'] as { virtualmachine: { hostid: string } }).virtualmachine.hostid).toBe(z.hostIds['host2']);
    expect(defined('host2', names.tagged)).toBe('running');
    expect(defined('host1', names.tagged)).toBe('missing');
  }, 120_000);
});
