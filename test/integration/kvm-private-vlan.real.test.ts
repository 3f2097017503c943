/**
 * Private VLANs on a real KVM host (createNetwork isolatedpvlan / isolatedpvlantype): Kiln's KVM
 * driver gives each VM's tap its private-VLAN role as ebtables rules on host1's Linux bridge
 * (drivers/kvm/private-vlan.ts), and busybox guests on that bridge show what reaches what.
 *
 * On host1: one bridge (the primary VLAN 300's, as the driver's one-bridge-per-VLAN model has it)
 * carrying the gateway address (the host's own port: promiscuous, as a router is), and one libvirt
 * network per Kiln network, all forwarding to that bridge: isolated 301, community 302 (two VMs),
 * community 303, promiscuous 300. Six guests, addresses typed on their serial consoles, ping.
 * A live migration to host2 (its own bridge of the same name) takes the VM's rules along; stop
 * and expunge leave no rule and no port behind on either host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { ConsoleTap, waitUntil } from '../kvm/real-hosts.js';
import { portName } from '../../drivers/kvm/private-vlan.js';
import { addPvlanBridges, closePvlanZone, bringUpPvlanGuests, createPvlanNetworks, deployPvlanGuests, expungePvlanGuests, pinger, pvlanNames, reachAll, removePvlanBridges, type PvlanGuest } from '../helpers/pvlan-lab.js';

const hosts = kvmHostsOrSkip();
/** The guests' /24 on host1's bridge; .1 is the gateway (host1's own port on it). */
const NET = '10.233.9';
const HOSTS = ['host1', 'host2'];

describe.skipIf(!hosts)('private VLANs on a real KVM host: ebtables port roles on a Linux bridge, proven by busybox guests', () => {
  let z: KvmZone;
  const tag = `pv${process.pid % 10000}`;
  const { bridge, nets } = pvlanNames(tag);
  const guests: Record<string, PvlanGuest> = {
    i1: { name: 'pv-i1', network: 'iso', ip: `${NET}.11` },
    i2: { name: 'pv-i2', network: 'iso', ip: `${NET}.12` },
    a1: { name: 'pv-a1', network: 'ca', ip: `${NET}.21` },
    a2: { name: 'pv-a2', network: 'ca', ip: `${NET}.22` },
    b1: { name: 'pv-b1', network: 'cb', ip: `${NET}.31` },
    p1: { name: 'pv-p1', network: 'prom', ip: `${NET}.41` },
  };

  const rules = (host = 'host1') => onHost(host, 'ebtables-save');
  const ports = (host = 'host1') => onHost(host, 'bridge', 'link', 'show');

  beforeAll(async () => {
    // The hosts' side first, so the sessions' first look at their networks already has it. Each
    // host's bridge is its own (no link between them), with the gateway address on it.
    addPvlanBridges(HOSTS, tag, `${NET}.1/24`, HOSTS);
    z = await kvmZone(hosts!, HOSTS, undefined, { sharedPool: true });
    await deployPvlanGuests(z, guests, await createPvlanNetworks(z, tag));
  }, 300_000);

  afterAll(async () => {
    await closePvlanZone(z, guests);
    removePvlanBridges(HOSTS, tag);
  }, 300_000);

  it('puts each VM on a tap named by its MAC in the bridge, with its role in ebtables', () => {
    const saved = rules();
    const links = ports();
    for (const g of Object.values(guests)) {
      const port = portName(g.mac!);
      const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(g.id) as string;
      expect(onHost('host1', 'virsh', 'domiflist', internal)).toMatch(new RegExp(`${port}\\s+(network|bridge)\\s+${nets[g.network]}\\s`));
      expect(links).toMatch(new RegExp(`${port}[^\\n]*master ${bridge}`));
      expect(saved).toContain(`-A FORWARD -i ${port} -j KI-${port}`);
      expect(saved).toContain(`-A FORWARD -o ${port} -j KO-${port}`);
    }
    // The marks: type (1 isolated, 2 community, 3 promiscuous), primary 300 (0x12c), secondary.
    const markOf = (g: PvlanGuest) => new RegExp(`-A KI-${portName(g.mac!)} -j mark --mark-set (0x[0-9a-f]+) `).exec(saved)?.[1];
    expect(markOf(guests['i1']!)).toBe('0x112c12d');
    expect(markOf(guests['a1']!)).toBe('0x212c12e');
    expect(markOf(guests['b1']!)).toBe('0x212c12f');
    expect(markOf(guests['p1']!)).toBe('0x312c12c');
    // A community port takes its own community, then refuses isolated and other communities of 300.
    const a1 = portName(guests['a1']!.mac!);
    expect(saved).toContain(`-A KO-${a1} --mark 0x212c12e -j RETURN`);
    expect(saved).toContain(`-A KO-${a1} --mark 0x112c000/0x3fff000 -j DROP`);
    expect(saved).toContain(`-A KO-${a1} --mark 0x212c000/0x3fff000 -j DROP`);
    // A promiscuous port refuses nothing.
    expect(saved).not.toMatch(new RegExp(`-A KO-${portName(guests['p1']!.mac!)} `));
  });

  it('busybox guests: isolated ports reach only promiscuous ones, community ports their own community and promiscuous ones', { timeout: 600_000 }, async () => {
    await bringUpPvlanGuests(z, Object.values(guests));
    const results: string[] = [];
    const reach = pinger(guests, results);
    const ip = (k: string) => guests[k]!.ip;
    const seen = await reachAll(reach, [
      // Isolated 301: the gateway and the promiscuous VM, nobody else.
      ['i1', 'gw', `${NET}.1`], ['i1', 'p1', ip('p1')], ['i1', 'i2', ip('i2')], ['i1', 'a1', ip('a1')], ['i2', 'i1', ip('i1')],
      // Community 302: its own member, the gateway and the promiscuous VM; not community 303, not isolated.
      ['a1', 'a2', ip('a2')], ['a1', 'gw', `${NET}.1`], ['a1', 'p1', ip('p1')], ['a1', 'b1', ip('b1')], ['a1', 'i2', ip('i2')],
      ['b1', 'a2', ip('a2')], ['b1', 'gw', `${NET}.1`],
      // Promiscuous: everyone.
      ['p1', 'i2', ip('i2')], ['p1', 'b1', ip('b1')],
    ]);
    console.log(`[private VLANs on ${bridge}, host1; ping from the guests' serial consoles]\n${results.join('\n')}`);
    expect(seen).toEqual({
      'i1-gw': 'yes', 'i1-p1': 'yes', 'i1-i2': 'no', 'i1-a1': 'no', 'i2-i1': 'no',
      'a1-a2': 'yes', 'a1-gw': 'yes', 'a1-p1': 'yes', 'a1-b1': 'no', 'a1-i2': 'no', 'b1-a2': 'no', 'b1-gw': 'yes',
      'p1-i2': 'yes', 'p1-b1': 'yes',
    });
  });

  it('a live migration takes the rules along: on host2 as the VM arrives, gone from host1 after', { timeout: 300_000 }, async () => {
    const i2 = guests['i2']!;
    const port = portName(i2.mac!);
    i2.tap?.close();
    i2.tap = undefined;
    const moved = await z.t.run('migrateVirtualMachine', { virtualmachineid: i2.id!, hostid: z.hostIds['host2']! });
    expect(moved['jobstatus'], JSON.stringify(moved['jobresult'])).toBe(1);
    const on2 = rules('host2');
    expect(on2).toContain(`-A FORWARD -i ${port} -j KI-${port}`);
    expect(on2).toContain(`-A KO-${port} --mark 0x112c000/0x3fff000 -j DROP`);
    expect(ports('host2')).toMatch(new RegExp(`${port}[^\\n]*master ${bridge}`));
    expect(rules('host1')).not.toContain(port);
    expect(ports('host1')).not.toContain(port);
    // The guest kept running (and its address): it reaches host2's gateway on host2's bridge.
    i2.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, i2.id!));
    const m = await i2.tap.runPatiently(`ping -c 2 -W 3 ${NET}.1 >/dev/null 2>&1 && echo "M yes" || echo "M no"`, /^M (yes|no)$/m, 60_000);
    expect(m[1]).toBe('yes');
  });

  it('stopping a VM takes its rules away with its tap, a start puts them back, the guest powering itself off takes them away, and expunging leaves nothing', { timeout: 300_000 }, async () => {
    const i1 = guests['i1']!;
    const port = portName(i1.mac!);
    i1.tap?.close();
    i1.tap = undefined;
    const stop = await z.t.run('stopVirtualMachine', { id: i1.id!, forced: 'true' });
    expect(stop['jobstatus'], JSON.stringify(stop['jobresult'])).toBe(1);
    expect(rules()).not.toContain(port);
    expect(ports()).not.toContain(port);
    const start = await z.t.run('startVirtualMachine', { id: i1.id! });
    expect(start['jobstatus'], JSON.stringify(start['jobresult'])).toBe(1);
    expect(rules()).toContain(`-A FORWARD -i ${port} -j KI-${port}`);
    expect(ports()).toContain(port);
    // The guest powers itself off: the host's stop event takes the rules away too.
    i1.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, i1.id!));
    await i1.tap.runPatiently('echo up-$((6*7))', /up-42/, 120_000);
    i1.tap.type('poweroff -f');
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(i1.id) as string;
    await waitUntil('i1 shut off by its guest', async () => onHost('host1', 'virsh', 'domstate', internal).trim() === 'shut off', 60_000);
    await waitUntil("i1's rules gone after its guest's power-off", async () => !rules().includes(port), 30_000);
    expect(ports()).not.toContain(port);
    i1.tap.close();
    i1.tap = undefined;
    await expungePvlanGuests(z, Object.values(guests));
    for (const host of HOSTS) {
      const saved = rules(host);
      const links = ports(host);
      for (const g of Object.values(guests)) {
        expect(saved).not.toContain(portName(g.mac!));
        expect(links).not.toContain(portName(g.mac!));
      }
      expect(saved).not.toMatch(/K[IO]-kp/);
    }
  });
});
