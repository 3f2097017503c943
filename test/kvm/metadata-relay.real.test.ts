/**
 * The metadata HTTP service for guests on a remote KVM host, wired end to end (R62, issue 12):
 * Kiln adds host1; a Shared network uses the HTTP service, its gateway an address of a bridge on
 * host1 of the network's name (so the KVM driver plugs the VMs' NICs into it). Before a VM starts
 * the engine has host1's sshd listen on that gateway address, ports 80 and 8080 (the KVM session's
 * metadata relay: ssh2 remote forwards on the pooled SSH connection, drivers/kvm/metadata-forward.ts).
 *
 *  - A real busybox guest on host1, its NIC on the bridge, is given its Kiln address on its serial
 *    console and fetches /latest/meta-data/instance-id from the gateway: its own VM's. Moved to an
 *    address no VM has, it gets 404.
 *  - A network-namespace "guest" on the same bridge, at a second VM's address, runs Debian's
 *    cloud-init with the CloudStack datasource: it finds the server as its default gateway and
 *    applies the second VM's hostname and runcmd, and reads its own instance-id.
 *
 * Everything a guest reads came through host1's sshd and Kiln's pooled connection, the guest
 * identified by the source address sshd reported. Without the wiring nothing listens on host1.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudInitGuest, cloudInitAvailable } from '../helpers/cloud-init-guest.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { ConsoleTap, HOSTS_JSON } from './real-hosts.js';

const run = promisify(execFile);
const hosts = kvmHostsOrSkip();
const missing = cloudInitAvailable();
if (missing && process.env['KILN_REQUIRE_REAL'] === '1') throw new Error(`real cloud-init is required (KILN_REQUIRE_REAL=1): ${missing}`);

/** The guests' /24 on host1 (its gateway is host1's end of the veth). */
const NET = '10.231.7';

/** host1's network namespace, as hosts.json names it (the set's netns prefix included). */
function host1Netns(): string {
  const json = JSON.parse(readFileSync(HOSTS_JSON, 'utf8')) as { hosts: { name: string; netns?: string }[] };
  const entry = json.hosts.find((h) => h.name === 'host1')!;
  return entry.netns ?? entry.name;
}

describe.skipIf(!hosts || missing !== undefined)('metadata service relayed by a real KVM host (SSH remote forward on the pooled connection)', () => {
  let z: KvmZone;
  /** The guest network's bridge on host1 (its address is the network's gateway) and the network's name. */
  const bridge = `kmd${process.pid % 100000}`;
  let ciGuest: CloudInitGuest | undefined;
  let networkid: string;
  let vm1: { id: string; nic: { ipaddress: string }[] };
  let vm2: { id: string; nic: { ipaddress: string }[] };
  let tap: ConsoleTap | undefined;

  beforeAll(async () => {
    // The guests' side of host1 first, so the host's first look at its bridges already has it.
    ciGuest = await CloudInitGuest.create({ tag: `${process.pid % 10000}r`, guestIp: `${NET}.24`, gatewayIp: `${NET}.1`, gatewayNetns: host1Netns(), bridge, datasources: ['CloudStack'] });
    z = await kvmZone(hosts!, ['host1']);
    const net = await z.t.call('createNetwork', { name: bridge, zoneid: z.zoneid, guestiptype: 'Shared', gateway: `${NET}.1`, netmask: '255.255.255.0', startip: `${NET}.23`, endip: `${NET}.30` });
    expect(net.status, JSON.stringify(net.body)).toBe(200);
    networkid = (net.body['network'] as { id: string }).id;
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: networkid, name: 'relay-web1' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    vm1 = (job['jobresult'] as { virtualmachine: typeof vm1 }).virtualmachine;
    // The second VM's guest is the cloud-init namespace (its Kiln VM is not started: its metadata is served all the same).
    const userdata = Buffer.from(`#cloud-config\nruncmd:\n  - [ sh, -c, 'echo "relayed to $(hostname)" > /var/tmp/kiln-relay-marker' ]\n`).toString('base64');
    const job2 = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: networkid, name: 'relay-web2', startvm: 'false', userdata });
    expect(job2['jobstatus'], JSON.stringify(job2['jobresult'])).toBe(1);
    vm2 = (job2['jobresult'] as { virtualmachine: typeof vm2 }).virtualmachine;
  }, 120_000);
  afterAll(async () => {
    tap?.close();
    if (z) await cleanUp(z.t);
    await ciGuest?.destroy();
    await run('ip', ['-n', host1Netns(), 'link', 'del', bridge]).catch(() => undefined);
    await z?.t.close();
  });

  it('host1 listens on the guest network\'s gateway, and a real busybox guest on host1 reads its own instance-id there; from an address no VM has it gets 404', { timeout: 120_000 }, async () => {
    expect(vm1.nic[0]!.ipaddress).toBe(`${NET}.23`);
    // host1's own view: its sshd listens on the gateway address, ports 80 and 8080.
    const listening = onHost('host1', 'ss', '-Hltnp');
    expect(listening).toMatch(new RegExp(`${NET.replace(/\./g, '\\.')}\\.1:80 .*sshd`));
    expect(listening).toMatch(new RegExp(`${NET.replace(/\./g, '\\.')}\\.1:8080 .*sshd`));
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm1.id) as string;
    expect(onHost('host1', 'virsh', 'domiflist', internal)).toMatch(new RegExp(`bridge\\s+${bridge}\\s+virtio`));

    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm1.id));
    await tap.runPatiently('echo ready-$((6*7))', /ready-42/, 90_000);
    // What an admin would type on the console of a guest without DHCP: its address from Kiln, the gateway as its route.
    await tap.runPatiently(`ip addr add ${NET}.23/24 dev eth0 && ip route add default via ${NET}.1 && echo net-up`, /^net-up$/m);
    // busybox's HTTP client by hand (its static wget crashes in glibc's resolver): the status line, then the body.
    const get = (path: string, tag: string) => tap!.runPatiently(`printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 10 ${NET}.1 80 | sed -n '1p;$p' | tr -d '\\r' | tr '\\n' '|'; echo " <- ${tag}"`, new RegExp(`^(HTTP/1\\.1 \\d+ [^|]*)\\|([^|]*)\\|? <- ${tag}$`, 'm'));
    const own = await get('/latest/meta-data/instance-id', 'id');
    expect([own[1], own[2]]).toEqual(['HTTP/1.1 200 OK', vm1.id]);
    const name = await get('/latest/meta-data/local-hostname', 'name');
    expect([name[1], name[2]]).toEqual(['HTTP/1.1 200 OK', 'relay-web1']);
    await tap.runPatiently(`ip addr flush dev eth0 && ip addr add ${NET}.29/24 dev eth0 && ip route add default via ${NET}.1 && echo moved`, /^moved$/m);
    const stranger = await get('/latest/meta-data/instance-id', 'stranger');
    console.log(`[busybox guest relay-web1 on host1, serial console]\n${tap.text.split('\n').filter((l) => /<- (id|name|stranger)$/.test(l)).join('\n')}`);
    expect([stranger[1], stranger[2]]).toEqual(['HTTP/1.1 404 Not Found', 'Not Found']);
  });

  it("cloud-init's CloudStack datasource in a namespace guest on the same bridge reads the second VM's metadata, and only that", { timeout: 120_000 }, async () => {
    expect(vm2.nic[0]!.ipaddress).toBe(`${NET}.24`);
    const guest = ciGuest!;
    const boot = await guest.boot();
    console.log(`[cloud-init CloudStack through host1's relay] stages ${JSON.stringify(boot.stages)} hostname=${boot.hostname}\n${guest.logLines(/Found default route|Using metadata source|Crawl of metadata|Setting hostname|Writing to \/var\/tmp/i).slice(0, 15).join('\n')}`);
    expect(guest.logLines(/Using metadata source/).join('\n'), 'cloud-init used the gateway on host1').toContain(`Using metadata source: 'http://${NET}.1/latest/meta-data/instance-id'`);
    expect(guest.file('var/lib/cloud/data/instance-id')?.trim()).toBe(vm2.id);
    expect(boot.hostname).toBe('relay-web2');
    expect(guest.file('var/tmp/kiln-relay-marker')).toBe('relayed to relay-web2\n');
    const curl = (path: string, ...extra: string[]) => guest.exec('curl', '-s', '-m', '10', '-o', '-', '-w', ' %{http_code}', ...extra, `http://${NET}.1${path}`).then((out) => out.trim());
    expect(await curl('/latest/meta-data/instance-id')).toBe(`${vm2.id} 200`);
    expect(await curl('/latest/meta-data/vm-id')).toBe(`${vm2.id} 200`);
    expect(await guest.exec('curl', '-s', '-m', '10', '-o', '-', '-w', ' %{http_code}', '-H', 'DomU_Request: send_my_password', `http://${NET}.1:8080/`).then((out) => out.trim())).toBe('saved_password 200');
  });
});
