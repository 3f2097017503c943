/**
 * The metadata HTTP service for guests on a remote KVM host, wired end to end (R62, issue 12):
 * Kiln adds host1, a Shared network uses the HTTP service, and a VM deployed on it starts on host1.
 * Before the start the engine has host1's sshd listen on the network's gateway address, ports 80
 * and 8080 (the KVM session's metadata relay: ssh2 remote forwards on the pooled SSH connection,
 * drivers/kvm/metadata-forward.ts). A network-namespace "guest" on host1's side of a veth, at the
 * VM's NIC address, then runs Debian's cloud-init with the CloudStack datasource: it finds the
 * server as its default gateway, and what it reads came through host1's sshd and Kiln's pooled
 * connection, the guest identified by the source address sshd reported.
 *
 * Isolation: a second VM's address reads its own instance-id through the same listener, and an
 * address no VM has gets 404. Without the wiring nothing listens on host1 and cloud-init finds no
 * metadata server.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudInitGuest, cloudInitAvailable } from '../helpers/cloud-init-guest.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { HOSTS_JSON } from './real-hosts.js';

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
  const guests: CloudInitGuest[] = [];
  /** The guest network's bridge on host1 (its address is the network's gateway). */
  const bridge = `kmd${process.pid % 100000}`;

  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1']);
  });
  afterAll(async () => {
    if (z) await cleanUp(z.t);
    for (const g of guests) await g.destroy();
    await run('ip', ['-n', host1Netns(), 'link', 'del', bridge]).catch(() => undefined);
    await z?.t.close();
  });

  it("cloud-init's CloudStack datasource in a guest on host1 reads its own VM's metadata; another address reads only its own or nothing", async () => {
    const net = await z.t.call('createNetwork', { name: 'relay-shared', zoneid: z.zoneid, guestiptype: 'Shared', gateway: `${NET}.1`, netmask: '255.255.255.0', startip: `${NET}.23`, endip: `${NET}.30` });
    expect(net.status, JSON.stringify(net.body)).toBe(200);
    const networkid = (net.body['network'] as { id: string }).id;
    const tag = `${process.pid % 10000}`;
    // The guests' side of host1 exists before the VM starts (the host's address on the guest network).
    const guest = await CloudInitGuest.create({ tag: `${tag}r`, guestIp: `${NET}.23`, gatewayIp: `${NET}.1`, gatewayNetns: host1Netns(), bridge, datasources: ['CloudStack'] });
    guests.push(guest);

    const userdata = Buffer.from(`#cloud-config\nruncmd:\n  - [ sh, -c, 'echo "relayed to $(hostname)" > /var/tmp/kiln-relay-marker' ]\n`).toString('base64');
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: networkid, name: 'relay-web1', userdata });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; nic: { ipaddress: string }[]; hostname?: string } }).virtualmachine;
    expect(vm.nic[0]!.ipaddress).toBe(`${NET}.23`);
    // A second VM on the same network (not started: its metadata is served all the same).
    const job2 = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: networkid, name: 'relay-web2', startvm: 'false' });
    expect(job2['jobstatus'], JSON.stringify(job2['jobresult'])).toBe(1);
    const vm2 = (job2['jobresult'] as { virtualmachine: { id: string; nic: { ipaddress: string }[] } }).virtualmachine;
    expect(vm2.nic[0]!.ipaddress).toBe(`${NET}.24`);

    // host1's own view: its sshd listens on the gateway address, ports 80 and 8080.
    const listening = onHost('host1', 'ss', '-Hltn');
    expect(listening).toContain(`${NET}.1:80 `);
    expect(listening).toContain(`${NET}.1:8080 `);

    const boot = await guest.boot();
    console.log(`[cloud-init CloudStack through host1's relay] stages ${JSON.stringify(boot.stages)} hostname=${boot.hostname}\n${guest.logLines(/Found default route|Using metadata source|Crawl of metadata|Setting hostname|Writing to \/var\/tmp/i).slice(0, 15).join('\n')}`);
    expect(guest.file('var/lib/cloud/data/instance-id')?.trim()).toBe(vm.id);
    expect(boot.hostname).toBe('relay-web1');
    expect(guest.file('var/tmp/kiln-relay-marker')).toBe('relayed to relay-web1\n');
    expect(guest.logLines(/Using metadata source/).join('\n'), 'cloud-init used the gateway on host1').toContain(`Using metadata source: 'http://${NET}.1/latest/meta-data/instance-id'`);

    // The same listener, from the other VM's address and from an address no VM has.
    const curl = (g: CloudInitGuest, path: string, ...extra: string[]) => g.exec('curl', '-s', '-m', '10', '-o', '-', '-w', ' %{http_code}', ...extra, `http://${NET}.1${path}`).then((s) => s.trim());
    const other = await CloudInitGuest.create({ tag: `${tag}s`, guestIp: `${NET}.24`, gatewayIp: `${NET}.1`, gatewayNetns: host1Netns(), bridge, datasources: ['CloudStack'] });
    guests.push(other);
    expect(await curl(other, '/latest/meta-data/instance-id')).toBe(`${vm2.id} 200`);
    expect(await curl(other, '/latest/meta-data/local-hostname')).toBe('relay-web2 200');
    expect(await curl(other, '/latest/user-data')).toBe('Not Found\n 404');
    expect(await g8080(other)).toBe('saved_password 200');
    const stranger = await CloudInitGuest.create({ tag: `${tag}t`, guestIp: `${NET}.29`, gatewayIp: `${NET}.1`, gatewayNetns: host1Netns(), bridge, datasources: ['CloudStack'] });
    guests.push(stranger);
    expect(await curl(stranger, '/latest/meta-data/instance-id')).toBe('Not Found\n 404');
    expect(await curl(stranger, '/latest/user-data')).toBe('Not Found\n 404');

    function g8080(g: CloudInitGuest): Promise<string> {
      return g.exec('curl', '-s', '-m', '10', '-o', '-', '-w', ' %{http_code}', '-H', 'DomU_Request: send_my_password', `http://${NET}.1:8080/`).then((s) => s.trim());
    }
  });
});
