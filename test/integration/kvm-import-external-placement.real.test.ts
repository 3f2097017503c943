/**
 * importVm importsource=external on real KVM hosts picks the Kiln host that receives the copy
 * through the placement planner (external.ts targetHost), not as the cluster's first host: a
 * domain defined by hand on a third host Kiln does not manage is imported with an offering whose
 * host tag only host2 has. With no host tagged the call is a 533 giving host1's and host2's
 * verdicts, and nothing is copied or written; once host2 has the tag the copy goes onto host2 (the
 * VM.IMPORT event says so) and the VM's first start runs it there. The source stays as it was.
 *
 * Runs on whatever hosts.json KILN_KVM_WORK points at; a set with two hosts gets its third with
 * `hosts.sh setup 3` (as kvm-import-external.real does), which Kiln is never told about.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKvmZone, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { dbFingerprint } from '../helpers/engine.js';
import type { HostEntry } from '../kvm/real-hosts.js';
import { ensureThirdHost } from '../helpers/third-kvm-host.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';

let hosts = kvmHostsOrSkip();
let z: KvmZone;
let source: HostEntry;
const name = `extp-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const file = `/var/lib/libvirt/images/${name}-root.qcow2`;
const mac = `52:54:00:4d:${(process.pid % 256).toString(16).padStart(2, '0')}:01`;

const onSource = (...args: string[]) => onHost(source.name, ...args);
/** The name Kiln gave the host added as NAME (its address). */
const kilnName = (host: string) => z.t.engine.db.prepare('SELECT name FROM hosts WHERE uuid=?').pluck().get(z.hostIds[host]) as string;
const sourceState = () => [onSource('virsh', 'dumpxml', '--inactive', name), onSource('virsh', 'domstate', name).trim(), onSource('sha256sum', file)].join('\n');
/** Kiln's volumes of this import in the pool (the copies are named after the VM's uuid, so count the VM's records instead). */
const copiesInPool = () => onHost('host1', 'sh', '-c', `virsh pool-refresh ${hosts!.poolName} >/dev/null; virsh vol-list ${hosts!.poolName} | wc -l`).trim();

describe.skipIf(!hosts)('importVm importsource=external: the receiving host is the planner\'s choice', () => {
  let base: Record<string, string>;

  beforeAll(async () => {
    ({ hosts, external: source } = ensureThirdHost());
    z = await kvmZone(hosts!, ['host1', 'host2']);
    onSource('mkdir', '-p', dirname(file));
    onSource('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', hosts!.templateImage, '-F', 'qcow2', file, '64M');
    const xml = join(mkdtempSync(join(tmpdir(), 'kiln-extp-')), 'domain.xml');
    writeFileSync(xml, handMadeDomainXml(hosts!, name, [file], [mac]));
    onSource('virsh', 'define', xml);
    rmSync(dirname(xml), { recursive: true, force: true });
    const gold = ((await z.t.ok('createServiceOffering', { name: 'gold-1x128', cpunumber: '1', cpuspeed: '500', memory: '128', hosttags: 'gold' }))['serviceoffering'] as { id: string }).id;
    base = {
      zoneid: z.zoneid, hypervisor: 'KVM', host: source.address, username: source.username, privatekey: readFileSync(source.privateKeyPath, 'utf8'),
      importsource: 'external', clusterid: z.clusterid, name, serviceofferingid: gold, templateid: z.templateid,
      'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network,
    };
    // The source's key is pinned on first use (a write, by design): list once before the refusal.
    expect((await z.t.call('listVmsForImport', { zoneid: z.zoneid, hypervisor: 'KVM', host: source.address, username: source.username, privatekey: base['privatekey']!, name })).status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await closeKvmZone(z);
    if (source) onSource('sh', '-c', `virsh destroy ${name} >/dev/null 2>&1; virsh undefine ${name} >/dev/null 2>&1; rm -f ${file}; rm -rf /var/tmp/kiln-export.*; true`);
    for (const h of ['host1', 'host2']) expect(onHost(h, 'sh', '-c', `virsh list --all --name | grep -c ${name}; true`).trim(), h).toBe('0');
  }, 120_000);

  it('refuses with 533 and both hosts\' verdicts when no host has the offering\'s host tag, copying and writing nothing', async () => {
    const before = { db: dbFingerprint(z.t.engine), pool: copiesInPool(), source: sourceState() };
    const refused = await z.t.call('importVm', base);
    expect(refused.status, JSON.stringify(refused.body)).toBe(533);
    const text = String(refused.body['errortext']);
    const cluster = z.t.engine.db.prepare('SELECT name FROM clusters WHERE uuid=?').pluck().get(z.clusterid) as string;
    expect(text).toBe(`Unable to import VM ${name} from ${source.address} into cluster ${cluster}: no suitable host (${kilnName('host1')}: tag gold missing; ${kilnName('host2')}: tag gold missing)`);
    expect({ db: dbFingerprint(z.t.engine), pool: copiesInPool(), source: sourceState() }).toEqual(before);
  }, 60_000);

  it('copies onto host2, the one host with the tag, and the first start runs the VM there', async () => {
    await z.t.ok('updateHost', { id: z.hostIds['host2']!, hosttags: 'gold' });
    const before = sourceState();
    const job = await z.t.run('importVm', base);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine;
    expect(vm.state).toBe('Stopped');
    const events = (await z.t.ok('listEvents', { type: 'VM.IMPORT' }))['event'] as { description: string }[];
    expect(events[0]!.description).toContain(`from ${name} on ${source.address} (not managed by Kiln, left as it was) into the storage of host ${kilnName('host2')}, stopped`);
    expect(sourceState()).toBe(before);

    const started = await z.t.run('startVirtualMachine', { id: vm.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect((started['jobresult'] as { virtualmachine: { hostid: string } }).virtualmachine.hostid).toBe(z.hostIds['host2']);
    expect(onHost('host2', 'virsh', 'domstate', name).trim()).toBe('running');
    expect(onSource('virsh', 'domstate', name).trim()).toBe('shut off');
  }, 240_000);
});
