/**
 * Private VLANs across two real KVM hosts. Each host's bridge for primary VLAN 300 is joined to the
 * other's by an uplink (a veth pair between the two hosts' namespaces, as a trunk between two
 * servers' NICs would be), and the gateway address is on host1's bridge only. Busybox guests on
 * both hosts ping each other from their serial consoles: an isolated VM reaches no isolated or
 * community VM on the other host, community members on different hosts reach each other, other
 * communities do not, the promiscuous VM and the gateway reach everyone. That holds because each
 * receiving host marks the frames from the uplink by their source MAC's role (KM-300, which the
 * engine fills on every host of the zone: drivers/kvm/private-vlan.ts peerScript,
 * main/engine/vm/private-vlan-peers.ts), not because of the sending host's rules. A live migration
 * takes a VM's port rules to its new host and removes them from the old one, and its isolation
 * holds from there; a host that lost its rules gets them back when its session opens; expunging
 * every VM leaves no rule and no chain on either host.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { ConsoleTap, HOSTS_JSON, waitUntil } from '../kvm/real-hosts.js';
import { portName } from '../../drivers/kvm/private-vlan.js';

const hosts = kvmHostsOrSkip();
/** The guests' /24 over both bridges; .1 is the gateway (host1's own port on its bridge). */
const NET = '10.233.7';
const HOSTS = ['host1', 'host2'] as const;

function netnsOf(host: string): string {
  const json = JSON.parse(readFileSync(HOSTS_JSON, 'utf8')) as { hosts: { name: string; netns?: string }[] };
  const entry = json.hosts.find((h) => h.name === host)!;
  return entry.netns ?? entry.name;
}

interface Guest {
  name: string;
  network: 'iso' | 'ca' | 'cb' | 'prom';
  host: (typeof HOSTS)[number];
  ip: string;
  id?: string;
  mac?: string;
  tap?: ConsoleTap;
}

describe.skipIf(!hosts)('private VLANs across two real KVM hosts: each host filters what comes over the uplink by the source MAC\'s role', () => {
  let z: KvmZone;
  const tag = `ph${process.pid % 10000}`;
  const bridge = `${tag}br`;
  const uplink = { host1: `${tag}u1`, host2: `${tag}u2` };
  const nets = { iso: `${tag}-iso`, ca: `${tag}-ca`, cb: `${tag}-cb`, prom: `${tag}-prom` };
  const guests: Record<string, Guest> = {
    i1: { name: 'ph-i1', network: 'iso', host: 'host1', ip: `${NET}.11` },
    a1: { name: 'ph-a1', network: 'ca', host: 'host1', ip: `${NET}.21` },
    b1: { name: 'ph-b1', network: 'cb', host: 'host1', ip: `${NET}.31` },
    p1: { name: 'ph-p1', network: 'prom', host: 'host1', ip: `${NET}.41` },
    i2: { name: 'ph-i2', network: 'iso', host: 'host2', ip: `${NET}.12` },
    a2: { name: 'ph-a2', network: 'ca', host: 'host2', ip: `${NET}.22` },
  };
  const networkIds: Record<string, string> = {};
  const rules = (host: string) => onHost(host, 'ebtables-save');
  const ip = (k: string) => guests[k]!.ip;
  const macRule = (g: Guest) => `-A KM-300 -s ${g.mac!.toLowerCase()} -j mark`;

  beforeAll(async () => {
    for (const host of HOSTS) {
      const ns = netnsOf(host);
      execFileSync('ip', ['-n', ns, 'link', 'add', bridge, 'type', 'bridge']);
      if (host === 'host1') execFileSync('ip', ['-n', ns, 'addr', 'add', `${NET}.1/24`, 'dev', bridge]);
      execFileSync('ip', ['-n', ns, 'link', 'set', bridge, 'up']);
      for (const name of Object.values(nets)) {
        const file = `/tmp/${name}.xml`;
        writeFileSync(file, `<network><name>${name}</name><forward mode='bridge'/><bridge name='${bridge}'/></network>\n`);
        onHost(host, 'virsh', 'net-define', file);
        onHost(host, 'virsh', 'net-start', name);
        rmSync(file);
      }
    }
    // The uplink: one veth end in each host, a port of its bridge.
    execFileSync('ip', ['link', 'add', uplink.host1, 'type', 'veth', 'peer', 'name', uplink.host2]);
    for (const host of HOSTS) {
      execFileSync('ip', ['link', 'set', uplink[host], 'netns', netnsOf(host)]);
      execFileSync('ip', ['-n', netnsOf(host), 'link', 'set', uplink[host], 'master', bridge, 'up']);
    }
    z = await kvmZone(hosts!, [...HOSTS]);
    const create = async (key: keyof typeof nets, pvlan: Record<string, string>) => {
      const res = await z.t.call('createNetwork', { name: nets[key], zoneid: z.zoneid, vlan: '300', ...pvlan });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      networkIds[key] = (res.body['network'] as { id: string }).id;
    };
    await create('iso', { isolatedpvlan: '301', isolatedpvlantype: 'isolated' });
    await create('ca', { isolatedpvlan: '302', isolatedpvlantype: 'community' });
    await create('cb', { isolatedpvlan: '303', isolatedpvlantype: 'community' });
    await create('prom', { isolatedpvlantype: 'promiscuous' });
    for (const g of Object.values(guests)) {
      const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: networkIds[g.network]!, name: g.name, hostid: z.hostIds[g.host]! });
      expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
      const vm = (job['jobresult'] as { virtualmachine: { id: string; nic: { macaddress: string }[] } }).virtualmachine;
      g.id = vm.id;
      g.mac = vm.nic[0]!.macaddress;
    }
  }, 300_000);

  afterAll(async () => {
    for (const g of Object.values(guests)) g.tap?.close();
    if (z) await cleanUp(z.t);
    await z?.t.close();
    for (const host of HOSTS) {
      for (const name of Object.values(nets)) {
        for (const verb of ['net-destroy', 'net-undefine']) {
          try {
            onHost(host, 'virsh', verb, name);
          } catch {
            /* not there */
          }
        }
      }
      for (const link of [uplink[host], bridge]) {
        try {
          execFileSync('ip', ['-n', netnsOf(host), 'link', 'del', link], { stdio: 'ignore' });
        } catch {
          /* gone (a veth goes with its peer) */
        }
      }
    }
  }, 300_000);

  it("tells both hosts every VM's MAC and role, wherever the VM runs", () => {
    for (const host of HOSTS) {
      const saved = rules(host);
      expect(saved).toContain('-A FORWARD -i ! kp+ -j KM-300');
      expect(saved.match(/^-A KM-300 /gm)).toHaveLength(6);
      expect(saved).toContain(`${macRule(guests['i1']!)} --mark-set 0x112c12d --mark-target RETURN`);
      expect(saved).toContain(`${macRule(guests['i2']!)} --mark-set 0x112c12d --mark-target RETURN`);
      expect(saved).toContain(`${macRule(guests['a2']!)} --mark-set 0x212c12e --mark-target RETURN`);
      expect(saved).toContain(`${macRule(guests['b1']!)} --mark-set 0x212c12f --mark-target RETURN`);
      expect(saved).toContain(`${macRule(guests['p1']!)} --mark-set 0x312c12c --mark-target RETURN`);
      // Each port's own rules only where it runs, and a port sends with its own MAC only.
      for (const g of Object.values(guests)) {
        const port = portName(g.mac!);
        if (g.host === host) expect(saved).toContain(`-A KI-${port} -s ! ${g.mac!.toLowerCase()} -j DROP`);
        else expect(saved).not.toContain(port);
      }
    }
  });

  const results: string[] = [];
  const reach = async (from: string, to: string, address: string) => {
    const tap = guests[from]!.tap!;
    const mark = `${from}-${to}`;
    const m = await tap.runPatiently(`ping -c 2 -W 3 ${address} >/dev/null 2>&1 && echo "R ${mark} yes" || echo "R ${mark} no"`, new RegExp(`^R ${mark} (yes|no)$`, 'm'), 60_000);
    results.push(`${from}@${guests[from]!.host} -> ${to} (${address}): ${m[1]}`);
    return m[1];
  };

  it('busybox guests on both hosts: isolated reaches no isolated or community VM on the other host, a community its members there, promiscuous and the gateway everyone', { timeout: 600_000 }, async () => {
    for (const g of Object.values(guests)) {
      g.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, g.id!));
      await g.tap.runPatiently('echo ready-$((6*7))', /ready-42/, 120_000);
      await g.tap.runPatiently(`ip addr add ${g.ip}/24 dev eth0 && echo addr-up`, /^addr-up$/m);
    }
    const seen: Record<string, string | undefined> = {};
    // Across the uplink.
    seen['i1-i2'] = await reach('i1', 'i2', ip('i2'));
    seen['i2-i1'] = await reach('i2', 'i1', ip('i1'));
    seen['i1-a2'] = await reach('i1', 'a2', ip('a2'));
    seen['a2-i1'] = await reach('a2', 'i1', ip('i1'));
    seen['a1-a2'] = await reach('a1', 'a2', ip('a2'));
    seen['a2-a1'] = await reach('a2', 'a1', ip('a1'));
    seen['b1-a2'] = await reach('b1', 'a2', ip('a2'));
    seen['a2-b1'] = await reach('a2', 'b1', ip('b1'));
    seen['p1-i2'] = await reach('p1', 'i2', ip('i2'));
    seen['i2-p1'] = await reach('i2', 'p1', ip('p1'));
    seen['a2-p1'] = await reach('a2', 'p1', ip('p1'));
    seen['i2-gw'] = await reach('i2', 'gw', `${NET}.1`);
    seen['a2-gw'] = await reach('a2', 'gw', `${NET}.1`);
    // On host2 alone: its isolated and community VMs do not reach each other either.
    seen['i2-a2'] = await reach('i2', 'a2', ip('a2'));
    console.log(`[private VLANs across host1 and host2 over ${bridge}; ping from the guests' serial consoles]\n${results.join('\n')}`);
    expect(seen).toEqual({
      'i1-i2': 'no', 'i2-i1': 'no', 'i1-a2': 'no', 'a2-i1': 'no',
      'a1-a2': 'yes', 'a2-a1': 'yes', 'b1-a2': 'no', 'a2-b1': 'no',
      'p1-i2': 'yes', 'i2-p1': 'yes', 'a2-p1': 'yes', 'i2-gw': 'yes', 'a2-gw': 'yes',
      'i2-a2': 'no',
    });
  });

  it("a live migration takes the VM's port rules to its new host and off the old one, and its isolation holds there", { timeout: 300_000 }, async () => {
    const a1 = guests['a1']!;
    const port = portName(a1.mac!);
    a1.tap?.close();
    a1.tap = undefined;
    const moved = await z.t.run('migrateVirtualMachine', { virtualmachineid: a1.id!, hostid: z.hostIds['host2']! });
    expect(moved['jobstatus'], JSON.stringify(moved['jobresult'])).toBe(1);
    a1.host = 'host2';
    const on2 = rules('host2');
    expect(on2).toContain(`-A FORWARD -i ${port} -j KI-${port}`);
    expect(on2).toContain(`-A KO-${port} --mark 0x212c12e -j RETURN`);
    expect(rules('host1')).not.toContain(port);
    // Both hosts still know all six (the migrated VM's MAC among them).
    for (const host of HOSTS) expect(rules(host).match(/^-A KM-300 /gm)).toHaveLength(6);
    a1.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, a1.id!));
    await a1.tap.runPatiently('echo again-$((6*7))', /again-42/, 60_000);
    const seen: Record<string, string | undefined> = {};
    seen['a1-a2'] = await reach('a1', 'a2', ip('a2'));
    seen['a1-b1'] = await reach('a1', 'b1', ip('b1'));
    seen['i1-a1'] = await reach('i1', 'a1', ip('a1'));
    seen['a1-i2'] = await reach('a1', 'i2', ip('i2'));
    seen['p1-a1'] = await reach('p1', 'a1', ip('a1'));
    seen['a1-gw'] = await reach('a1', 'gw', `${NET}.1`);
    console.log(`[after a1 moved to host2]\n${results.slice(-6).join('\n')}`);
    expect(seen).toEqual({ 'a1-a2': 'yes', 'a1-b1': 'no', 'i1-a1': 'no', 'a1-i2': 'no', 'p1-a1': 'yes', 'a1-gw': 'yes' });
  });

  it('a host that lost its rules (a reboot, say) is told the zone\'s ports again when its session opens', { timeout: 120_000 }, async () => {
    onHost('host2', 'sh', '-c', "ebtables -D FORWARD -i '!' kp+ -j KM-300; ebtables -F KM-300; ebtables -X KM-300");
    expect(rules('host2')).not.toContain('KM-300');
    const host2 = z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2']) as number;
    // The consoles of host2's guests ride on its connection: they close with it.
    for (const g of Object.values(guests).filter((v) => v.host === 'host2')) {
      g.tap?.close();
      g.tap = undefined;
    }
    await z.t.engine.hosts.drop(host2);
    await z.t.engine.hosts.session(host2);
    await waitUntil('host2 told the ports again', async () => (rules('host2').match(/^-A KM-300 /gm) ?? []).length === 6, 30_000);
    expect(rules('host2')).toContain('-A FORWARD -i ! kp+ -j KM-300');
    // And it isolates with them: i2 still reaches neither i1 nor a1 (on host1 and host2).
    const i2 = guests['i2']!;
    i2.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, i2.id!));
    await i2.tap.runPatiently('echo back-$((6*7))', /back-42/, 60_000);
    const seen = { 'i2-i1': await reach('i2', 'i1', ip('i1')), 'i2-p1': await reach('i2', 'p1', ip('p1')) };
    expect(seen).toEqual({ 'i2-i1': 'no', 'i2-p1': 'yes' });
    expect(i2.host).toBe('host2');
  });

  it("expunging the VMs takes each one's MAC off both hosts, and the last one the chain", { timeout: 300_000 }, async () => {
    const i2 = guests['i2']!;
    i2.tap?.close();
    i2.tap = undefined;
    const gone = await z.t.run('destroyVirtualMachine', { id: i2.id!, expunge: 'true' });
    expect(gone['jobstatus'], JSON.stringify(gone['jobresult'])).toBe(1);
    for (const host of HOSTS) {
      const saved = rules(host);
      expect(saved.match(/^-A KM-300 /gm)).toHaveLength(5);
      expect(saved).not.toContain(macRule(i2));
    }
    for (const g of Object.values(guests).filter((v) => v !== i2)) {
      g.tap?.close();
      g.tap = undefined;
      const job = await z.t.run('destroyVirtualMachine', { id: g.id!, expunge: 'true' });
      expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    }
    for (const host of HOSTS) expect(rules(host)).not.toMatch(/KM-300|K[IO]-kp/);
  });
});
