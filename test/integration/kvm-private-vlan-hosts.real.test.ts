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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { ConsoleTap, waitUntil } from '../kvm/real-hosts.js';
import { portName, portScript } from '../../drivers/kvm/private-vlan.js';
import { defineHandMadeDomain, removeHandMadeDomains } from '../helpers/hand-made-imports.js';
import { addUplinkedPvlanLab, closePvlanZone, bringUpPvlanGuests, createPvlanNetworks, deployPvlanGuests, expungePvlanGuests, pinger, pvlanNames, reachAll, removeUplinkedPvlanLab, type PvlanGuest, type PvlanNet } from '../helpers/pvlan-lab.js';

const hosts = kvmHostsOrSkip();
/** The guests' /24 over both bridges; .1 is the gateway (host1's own port on its bridge). */
const NET = '10.233.7';
const HOSTS = ['host1', 'host2'] as const;

describe.skipIf(!hosts)('private VLANs across two real KVM hosts: each host filters what comes over the uplink by the source MAC\'s role', () => {
  let z: KvmZone;
  const tag = `ph${process.pid % 10000}`;
  const { bridge, nets } = pvlanNames(tag);
  const guests: Record<string, PvlanGuest> = {
    i1: { name: 'ph-i1', network: 'iso', host: 'host1', ip: `${NET}.11` },
    a1: { name: 'ph-a1', network: 'ca', host: 'host1', ip: `${NET}.21` },
    b1: { name: 'ph-b1', network: 'cb', host: 'host1', ip: `${NET}.31` },
    p1: { name: 'ph-p1', network: 'prom', host: 'host1', ip: `${NET}.41` },
    i2: { name: 'ph-i2', network: 'iso', host: 'host2', ip: `${NET}.12` },
    a2: { name: 'ph-a2', network: 'ca', host: 'host2', ip: `${NET}.22` },
  };
  let networkIds: Record<PvlanNet, string>;
  const rules = (host: string) => onHost(host, 'ebtables-save');
  const ip = (k: string) => guests[k]!.ip;
  const macRule = (g: PvlanGuest) => `-A KM-300 -s ${g.mac!.toLowerCase()} -j mark`;
  const km = (host: string) => rules(host).match(/^-A KM-300 /gm)?.length ?? 0;
  const host2Id = () => z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2']) as number;

  beforeAll(async () => {
    addUplinkedPvlanLab(tag, `${NET}.1/24`);
    z = await kvmZone(hosts!, [...HOSTS], undefined, { sharedPool: true });
    networkIds = await createPvlanNetworks(z, tag);
    await deployPvlanGuests(z, guests, networkIds);
  }, 300_000);

  afterAll(async () => {
    await closePvlanZone(z, guests);
    // The hand-defined domain, if a failed import left it outside Kiln.
    removeHandMadeDomains(hosts!, ['host1'], [`${tag}-byhand`]);
    onHost('host1', 'sh', '-c', portScript([portName('52:54:00:7e:00:01')]));
    removeUplinkedPvlanLab(tag);
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
  const reach = pinger(guests, results);

  it('busybox guests on both hosts: isolated reaches no isolated or community VM on the other host, a community its members there, promiscuous and the gateway everyone', { timeout: 600_000 }, async () => {
    await bringUpPvlanGuests(z, Object.values(guests));
    const seen = await reachAll(reach, [
      // Across the uplink.
      ['i1', 'i2', ip('i2')], ['i2', 'i1', ip('i1')], ['i1', 'a2', ip('a2')], ['a2', 'i1', ip('i1')],
      ['a1', 'a2', ip('a2')], ['a2', 'a1', ip('a1')], ['b1', 'a2', ip('a2')], ['a2', 'b1', ip('b1')],
      ['p1', 'i2', ip('i2')], ['i2', 'p1', ip('p1')], ['a2', 'p1', ip('p1')], ['i2', 'gw', `${NET}.1`], ['a2', 'gw', `${NET}.1`],
      // On host2 alone: its isolated and community VMs do not reach each other either.
      ['i2', 'a2', ip('a2')],
    ]);
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
    for (const host of HOSTS) expect(km(host)).toBe(6);
    a1.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, a1.id!));
    await a1.tap.runPatiently('echo again-$((6*7))', /again-42/, 60_000);
    const seen = await reachAll(reach, [['a1', 'a2', ip('a2')], ['a1', 'b1', ip('b1')], ['i1', 'a1', ip('a1')], ['a1', 'i2', ip('i2')], ['p1', 'a1', ip('a1')], ['a1', 'gw', `${NET}.1`]]);
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
    await waitUntil('host2 told the ports again', async () => km('host2') === 6, 30_000);
    expect(rules('host2')).toContain('-A FORWARD -i ! kp+ -j KM-300');
    // And it isolates with them: i2 still reaches neither i1 nor a1 (on host1 and host2).
    const i2 = guests['i2']!;
    i2.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, i2.id!));
    await i2.tap.runPatiently('echo back-$((6*7))', /back-42/, 60_000);
    const seen = await reachAll(reach, [['i2', 'i1', ip('i1')], ['i2', 'p1', ip('p1')]]);
    expect(seen).toEqual({ 'i2-i1': 'no', 'i2-p1': 'yes' });
    expect(i2.host).toBe('host2');
  });

  /** The hand-defined domain the import tests take over (imported, started, given a NIC, started again with host2 silent, expunged). */
  const byHand = { name: `${tag}-byhand`, mac: '52:54:00:7e:00:01', ip: `${NET}.51`, id: undefined as string | undefined };

  it("imports a domain Kiln did not define onto the isolated network: its kept NIC goes onto Kiln's port there, both hosts learn its MAC, and started it is isolated from both isolated VMs and reaches the promiscuous one", { timeout: 300_000 }, async () => {
    defineHandMadeDomain(hosts!, 'host1', byHand.name, byHand.mac);
    const nicOf = (xml: string) => xml.slice(xml.indexOf('<interface'), xml.indexOf('</interface>'));
    const slot = /<address type='pci'[^>]*slot='(0x[0-9a-f]+)'/.exec(nicOf(onHost('host1', 'virsh', 'dumpxml', '--inactive', byHand.name)))?.[1];
    expect(slot).toBeDefined();
    const job = await z.t.run('importUnmanagedInstance', { clusterid: z.clusterid, name: byHand.name, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': networkIds.iso });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    byHand.id = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    // The kept definition: the NIC on Kiln's network for the isolated VLAN, its tap Kiln's port, its model and PCI slot the admin's.
    const xml = onHost('host1', 'virsh', 'dumpxml', '--inactive', byHand.name);
    const nic = nicOf(xml);
    expect(nic).toContain(`<source network='${nets.iso}'/>`);
    expect(nic).toContain(`<target dev='${portName(byHand.mac)}'/>`);
    expect(nic).toContain("<model type='virtio'/>");
    expect(nic).toMatch(new RegExp(`<address type='pci'[^>]*slot='${slot}'`));
    expect(nic).toContain(`<mac address='${byHand.mac}'/>`);
    expect(xml).toContain(`<kiln:privateVlan port="${portName(byHand.mac)}" primary="300" secondary="301" type="isolated"/>`);
    for (const host of HOSTS) {
      expect(km(host)).toBe(7);
      expect(rules(host)).toContain(`-A KM-300 -s ${byHand.mac} -j mark --mark-set 0x112c12d --mark-target RETURN`);
    }
    const started = await z.t.run('startVirtualMachine', { id: byHand.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    expect(rules('host1')).toContain(`-A KI-${portName(byHand.mac)} -s ! ${byHand.mac} -j DROP`);
    guests['h'] = { name: byHand.name, network: 'iso', host: 'host1', ip: byHand.ip, id: byHand.id, mac: byHand.mac };
    await bringUpPvlanGuests(z, [guests['h']]);
    const seen = await reachAll(reach, [['h', 'i1', ip('i1')], ['h', 'i2', ip('i2')], ['i2', 'h', byHand.ip], ['h', 'p1', ip('p1')], ['p1', 'h', byHand.ip]]);
    console.log(`[the imported domain on ${nets.iso}]\n${results.slice(-5).join('\n')}`);
    expect(seen).toEqual({ 'h-i1': 'no', 'h-i2': 'no', 'i2-h': 'no', 'h-p1': 'yes', 'p1-h': 'yes' });
  });

  it("a NIC added to a running VM on a private VLAN is on the other host's KM-300 when the job ends, and off it when it is removed", { timeout: 120_000 }, async () => {
    const added = await z.t.run('addNicToVirtualMachine', { virtualmachineid: byHand.id!, networkid: networkIds.cb });
    expect(added['jobstatus'], JSON.stringify(added['jobresult'])).toBe(1);
    const nics = (added['jobresult'] as { virtualmachine: { nic: { id: string; macaddress: string; networkid: string }[] } }).virtualmachine.nic;
    const { id: nicId, macaddress: mac } = nics.find((n) => n.networkid === networkIds.cb)!;
    const port = portName(mac);
    // At once: no start in between. host2 marks its frames community 303; host1 has its port's rules.
    expect(km('host2')).toBe(8);
    expect(rules('host2')).toContain(`-A KM-300 -s ${mac} -j mark --mark-set 0x212c12f --mark-target RETURN`);
    expect(rules('host1')).toContain(`-A KI-${port} -s ! ${mac} -j DROP`);
    expect(rules('host1')).toContain(`-A FORWARD -o ${port} -j KO-${port}`);
    expect(onHost('host1', 'virsh', 'domiflist', byHand.name)).toContain(port);
    // The guest sees the new NIC (a hot plug).
    await guests['h']!.tap!.runPatiently('ls /sys/class/net | tr "\\n" " "; echo; echo listed-$((6*7))', /eth1[\s\S]*listed-42/, 60_000);
    const removed = await z.t.run('removeNicFromVirtualMachine', { virtualmachineid: byHand.id!, nicid: nicId });
    expect(removed['jobstatus'], JSON.stringify(removed['jobresult'])).toBe(1);
    for (const host of HOSTS) expect(rules(host)).not.toContain(mac);
    expect(km('host2')).toBe(7);
    expect(onHost('host1', 'virsh', 'domiflist', byHand.name)).not.toContain(port);
  });

  it('a private-VLAN start does not wait on an Up host that went silent: the start goes on with an event naming it, and the host is told when its session opens again', { timeout: 300_000 }, async () => {
    guests['h']!.tap?.close();
    guests['h']!.tap = undefined;
    const stopped = await z.t.run('stopVirtualMachine', { id: byHand.id!, forced: 'true' });
    expect(stopped['jobstatus'], JSON.stringify(stopped['jobresult'])).toBe(1);
    // host2 forgets the imported VM's MAC by hand, so only a publication can put it back.
    onHost('host2', 'sh', '-c', `ebtables -D KM-300 -s ${byHand.mac} -j mark --mark-set 0x112c12d --mark-target RETURN`);
    expect(rules('host2')).not.toContain(byHand.mac);
    for (const g of Object.values(guests).filter((v) => v.host === 'host2')) {
      g.tap?.close();
      g.tap = undefined;
    }
    harness('cut-link', 'host2');
    let cut = true;
    try {
      expect(z.t.engine.db.prepare('SELECT state FROM hosts WHERE id=?').pluck().get(host2Id())).toBe('Up');
      const at = Date.now();
      const started = await z.t.run('startVirtualMachine', { id: byHand.id! });
      console.log(`[start with host2 cut off: ${Date.now() - at} ms]`);
      expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
      const host2 = hosts!.hosts.find((h) => h.name === 'host2')!.address;
      const events = (await z.t.call('listEvents', { type: 'HOST.PRIVATEVLAN.UPDATE', listall: 'true' })).body['event'] as { description: string; level: string }[] | undefined;
      expect(events?.map((e) => `${e.level} ${e.description}`)).toContainEqual(expect.stringMatching(new RegExp(`^WARN host ${host2.replace(/\./g, '\\.')} was not told the zone's private-VLAN ports \\(host ${host2.replace(/\./g, '\\.')} did not answer within 5 s\\); it is told when its session opens again$`)));
      harness('restore-link', 'host2');
      cut = false;
      await z.t.engine.hosts.drop(host2Id());
      await z.t.engine.hosts.session(host2Id());
      await waitUntil('host2 told the imported VM again', async () => rules('host2').includes(byHand.mac), 60_000);
      expect(km('host2')).toBe(7);
    } finally {
      if (cut) harness('restore-link', 'host2');
    }
    const gone = await z.t.run('destroyVirtualMachine', { id: byHand.id!, expunge: 'true' });
    expect(gone['jobstatus'], JSON.stringify(gone['jobresult'])).toBe(1);
    delete guests['h'];
    for (const host of HOSTS) {
      expect(km(host)).toBe(6);
      expect(rules(host)).not.toContain(byHand.mac);
    }
  });

  it("unmanaging a VM takes its MAC off both hosts' view (Kiln no longer vouches for it)", { timeout: 120_000 }, async () => {
    const b1 = guests['b1']!;
    b1.tap?.close();
    b1.tap = undefined;
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(b1.id) as string;
    const port = portName(b1.mac!);
    try {
      const job = await z.t.run('unmanageVirtualMachine', { id: b1.id! });
      expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
      for (const host of HOSTS) {
        const saved = rules(host);
        expect(saved.match(/^-A KM-300 /gm)).toHaveLength(5);
        expect(saved).not.toContain(macRule(b1));
      }
    } finally {
      // The domain stays on host1, outside Kiln: it goes by hand, with its port's rules.
      onHost('host1', 'sh', '-c', `for p in $(virsh domblklist --details ${internal} | awk '$2=="disk"||$2=="cdrom" {print $4}'); do echo "$p"; done > /tmp/.${tag}-vols; virsh destroy ${internal} >/dev/null 2>&1; virsh undefine ${internal} >/dev/null 2>&1; for p in $(cat /tmp/.${tag}-vols); do virsh vol-delete "$p" >/dev/null 2>&1; done; rm -f /tmp/.${tag}-vols; ${portScript([port])}`);
      delete guests['b1'];
    }
    expect(rules('host1')).not.toContain(port);
  });

  it("expunging the VMs takes each one's MAC off both hosts, and the last one the chain", { timeout: 300_000 }, async () => {
    const i2 = guests['i2']!;
    i2.tap?.close();
    i2.tap = undefined;
    const gone = await z.t.run('destroyVirtualMachine', { id: i2.id!, expunge: 'true' });
    expect(gone['jobstatus'], JSON.stringify(gone['jobresult'])).toBe(1);
    for (const host of HOSTS) {
      const saved = rules(host);
      expect(saved.match(/^-A KM-300 /gm)).toHaveLength(4);
      expect(saved).not.toContain(macRule(i2));
    }
    await expungePvlanGuests(z, Object.values(guests).filter((v) => v !== i2));
    for (const host of HOSTS) expect(rules(host)).not.toMatch(/KM-300|K[IO]-kp/);
  });
});
