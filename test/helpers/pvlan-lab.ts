/**
 * The private-VLAN set-up the real PVLAN tests share: on each harness host one Linux bridge for
 * primary VLAN 300 (the driver's one-bridge-per-VLAN model) with one libvirt network per Kiln
 * network forwarding to it, the four Kiln networks (isolated 301, community 302 and 303,
 * promiscuous), busybox guests deployed onto them, and ping between guests from their serial
 * consoles. Everything it makes on the hosts it removes again.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import { cleanUp, onHost, type KvmZone } from './kvm-zone.js';
import { ConsoleTap, HOSTS_JSON } from '../kvm/real-hosts.js';

/** A harness host's network namespace, as hosts.json names it (the set's netns prefix included). */
export function netnsOf(host: string): string {
  const json = JSON.parse(readFileSync(HOSTS_JSON, 'utf8')) as { hosts: { name: string; netns?: string }[] };
  const entry = json.hosts.find((h) => h.name === host)!;
  return entry.netns ?? entry.name;
}

export type PvlanNet = 'iso' | 'ca' | 'cb' | 'prom';

export interface PvlanGuest {
  name: string;
  network: PvlanNet;
  ip: string;
  host?: string;
  id?: string;
  mac?: string;
  tap?: ConsoleTap;
}

/** The lab's names: the bridge and the libvirt/Kiln network of each role, under TAG. */
export function pvlanNames(tag: string): { bridge: string; nets: Record<PvlanNet, string> } {
  return { bridge: `${tag}br`, nets: { iso: `${tag}-iso`, ca: `${tag}-ca`, cb: `${tag}-cb`, prom: `${tag}-prom` } };
}

/** Each host's bridge and libvirt networks; GATEWAY (an address/prefix) on the bridges of GATEWAYHOSTS. */
export function addPvlanBridges(hosts: readonly string[], tag: string, gateway: string, gatewayHosts: readonly string[]): void {
  const { bridge, nets } = pvlanNames(tag);
  for (const host of hosts) {
    const ns = netnsOf(host);
    execFileSync('ip', ['-n', ns, 'link', 'add', bridge, 'type', 'bridge']);
    if (gatewayHosts.includes(host)) execFileSync('ip', ['-n', ns, 'addr', 'add', gateway, 'dev', bridge]);
    execFileSync('ip', ['-n', ns, 'link', 'set', bridge, 'up']);
    for (const name of Object.values(nets)) {
      const file = `/tmp/${name}.xml`;
      writeFileSync(file, `<network><name>${name}</name><forward mode='bridge'/><bridge name='${bridge}'/></network>\n`);
      onHost(host, 'virsh', 'net-define', file);
      onHost(host, 'virsh', 'net-start', name);
      rmSync(file);
    }
  }
}

/** The uplink's two veth ends under TAG: host1's and host2's, each a port of its host's bridge. */
export function pvlanUplink(tag: string): { host1: string; host2: string } {
  return { host1: `${tag}u1`, host2: `${tag}u2` };
}

/**
 * The lab on host1 and host2 joined by an uplink (a veth pair between the two hosts' namespaces,
 * one end a port of each host's bridge, as a trunk between two servers' NICs would be); GATEWAY
 * on host1's bridge only. removeUplinkedPvlanLab removes it.
 */
export function addUplinkedPvlanLab(tag: string, gateway: string): void {
  const { bridge } = pvlanNames(tag);
  const uplink = pvlanUplink(tag);
  addPvlanBridges(['host1', 'host2'], tag, gateway, ['host1']);
  execFileSync('ip', ['link', 'add', uplink.host1, 'type', 'veth', 'peer', 'name', uplink.host2]);
  for (const host of ['host1', 'host2'] as const) {
    execFileSync('ip', ['link', 'set', uplink[host], 'netns', netnsOf(host)]);
    execFileSync('ip', ['-n', netnsOf(host), 'link', 'set', uplink[host], 'master', bridge, 'up']);
  }
}

/** Removes what addUplinkedPvlanLab made, whatever of it is there. */
export function removeUplinkedPvlanLab(tag: string): void {
  const uplink = pvlanUplink(tag);
  removePvlanBridges(['host1', 'host2'], tag, { host1: [uplink.host1], host2: [uplink.host2] });
}

/** Removes what addPvlanBridges made (and LINKS, per host), whatever of it is there. */
export function removePvlanBridges(hosts: readonly string[], tag: string, links: Record<string, string[]> = {}): void {
  const { bridge, nets } = pvlanNames(tag);
  for (const host of hosts) {
    for (const name of Object.values(nets)) {
      for (const verb of ['net-destroy', 'net-undefine']) {
        try {
          onHost(host, 'virsh', verb, name);
        } catch {
          /* not there */
        }
      }
    }
    for (const link of [...(links[host] ?? []), bridge]) {
      try {
        execFileSync('ip', ['-n', netnsOf(host), 'link', 'del', link], { stdio: 'ignore' });
      } catch {
        /* gone (a veth goes with its peer) */
      }
    }
  }
}

/** The four Kiln networks on primary VLAN 300; their ids by role. */
export async function createPvlanNetworks(z: KvmZone, tag: string): Promise<Record<PvlanNet, string>> {
  const { nets } = pvlanNames(tag);
  const roles: Record<PvlanNet, Record<string, string>> = {
    iso: { isolatedpvlan: '301', isolatedpvlantype: 'isolated' },
    ca: { isolatedpvlan: '302', isolatedpvlantype: 'community' },
    cb: { isolatedpvlan: '303', isolatedpvlantype: 'community' },
    prom: { isolatedpvlantype: 'promiscuous' },
  };
  const ids = {} as Record<PvlanNet, string>;
  for (const key of Object.keys(roles) as PvlanNet[]) {
    const res = await z.t.call('createNetwork', { name: nets[key], zoneid: z.zoneid, vlan: '300', ...roles[key] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    ids[key] = (res.body['network'] as { id: string }).id;
  }
  return ids;
}

/** Deploys each guest on its network and host (one after another: each boot costs the shared machine a few CPU-seconds under TCG). */
export async function deployPvlanGuests(z: KvmZone, guests: Record<string, PvlanGuest>, networkIds: Record<PvlanNet, string>): Promise<void> {
  for (const g of Object.values(guests)) {
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: networkIds[g.network], name: g.name, hostid: z.hostIds[g.host ?? 'host1']! });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; nic: { macaddress: string }[] } }).virtualmachine;
    g.id = vm.id;
    g.mac = vm.nic[0]!.macaddress;
  }
}

/** Opens each guest's serial console, waits for its shell and gives eth0 its address; the guests side by side (their boots overlap anyway). */
export async function bringUpPvlanGuests(z: KvmZone, guests: readonly PvlanGuest[]): Promise<void> {
  await Promise.all(
    guests.map(async (g) => {
      g.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, g.id!));
      await g.tap.runPatiently('echo ready-$((6*7))', /ready-42/, 120_000);
      await g.tap.runPatiently(`ip addr add ${g.ip}/24 dev eth0 && echo addr-up`, /^addr-up$/m);
    }),
  );
}

/** Whether guest FROM's ping reaches ADDRESS ('yes' / 'no'), typed on its console; each answer is appended to RESULTS. */
export function pinger(guests: Record<string, PvlanGuest>, results: string[]) {
  return async (from: string, to: string, address: string): Promise<string | undefined> => {
    const g = guests[from]!;
    const mark = `${from}-${to}`;
    const m = await g.tap!.runPatiently(`ping -c 2 -W 3 ${address} >/dev/null 2>&1 && echo "R ${mark} yes" || echo "R ${mark} no"`, new RegExp(`^R ${mark} (yes|no)$`, 'm'), 60_000);
    results.push(`${from}${g.host ? `@${g.host}` : ''} -> ${to} (${address}): ${m[1]}`);
    return m[1];
  };
}

/**
 * Every ping of PAIRS ([from, to, address]) by pinger's REACH, as { 'from-to': 'yes' | 'no' }: each
 * guest's pings one after another on its console, the guests side by side (a ping that does not
 * answer waits out its timeout, and no guest's ping depends on another's).
 */
export async function reachAll(reach: ReturnType<typeof pinger>, pairs: readonly (readonly [string, string, string])[]): Promise<Record<string, string | undefined>> {
  const seen: Record<string, string | undefined> = {};
  const byGuest = new Map<string, (readonly [string, string, string])[]>();
  for (const pair of pairs) byGuest.set(pair[0], [...(byGuest.get(pair[0]) ?? []), pair]);
  await Promise.all(
    [...byGuest.values()].map(async (list) => {
      for (const [from, to, address] of list) seen[`${from}-${to}`] = await reach(from, to, address);
    }),
  );
  return Object.fromEntries(pairs.map(([from, to]) => [`${from}-${to}`, seen[`${from}-${to}`]]));
}

/** In afterAll: each guest's console closed, every VM the engine still has destroyed and expunged (cleanUp), the engine closed; Z may be unset (beforeAll failed early). */
export async function closePvlanZone(z: KvmZone | undefined, guests: Record<string, PvlanGuest>): Promise<void> {
  for (const g of Object.values(guests)) g.tap?.close();
  if (z) await cleanUp(z.t);
  await z?.t.close();
}

/** Expunges every guest with an id (side by side) and forgets its console; each job must succeed. */
export async function expungePvlanGuests(z: KvmZone, guests: readonly PvlanGuest[]): Promise<void> {
  for (const g of guests) {
    g.tap?.close();
    g.tap = undefined;
  }
  const jobs = await Promise.all(guests.filter((g) => g.id).map((g) => z.t.run('destroyVirtualMachine', { id: g.id!, expunge: 'true' })));
  for (const job of jobs) expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
}
