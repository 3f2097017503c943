/**
 * A running domain Kiln did not define, imported onto an isolated private-VLAN network while it
 * runs (importUnmanagedInstance keeps its definition): it keeps running (same domain id, no
 * restart) and is isolated at once. libvirt cannot rename a running tap, so the port's rules are
 * keyed by the tap libvirt gave it (vnetN, read from the live XML), its NIC moves live from the
 * admin's bridge onto Kiln's network for the VLAN (tap name kept), its persistent definition names
 * Kiln's port (kp<MAC>), and both hosts learn its MAC (KM-300). Busybox guests ping from their
 * serial consoles: two such imported VMs reach neither each other nor the isolated VMs (on their
 * host and across the uplink) and reach the promiscuous one both ways. After a Kiln stop and start
 * one has the normal kp<MAC> set-up, with no rule left on its old tap name; a live migration takes
 * the other onto Kiln's port on the other host (the migration XML names it); a third, destroyed
 * behind Kiln's back, loses the rules on its live tap at once (libvirt may give that name to
 * another domain); one on user-mode networking has no tap to isolate and is refused while it runs,
 * with nothing changed. Two hosts joined by an uplink as in kvm-private-vlan-hosts.real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { ConsoleTap, waitUntil } from '../kvm/real-hosts.js';
import { portName, portScript } from '../../drivers/kvm/private-vlan.js';
import { defineHandMadeDomain, removeHandMadeDomains } from '../helpers/hand-made-imports.js';
import { addUplinkedPvlanLab, closePvlanZone, bringUpPvlanGuests, createPvlanNetworks, deployPvlanGuests, pinger, pvlanNames, reachAll, removeUplinkedPvlanLab, type PvlanGuest, type PvlanNet } from '../helpers/pvlan-lab.js';

const hosts = kvmHostsOrSkip();
const NET = '10.233.9';
const HOSTS = ['host1', 'host2'] as const;

describe.skipIf(!hosts)('a running domain imported onto an isolated private VLAN keeps running and is isolated at once', () => {
  let z: KvmZone;
  const tag = `pr${process.pid % 10000}`;
  const { bridge, nets } = pvlanNames(tag);
  const guests: Record<string, PvlanGuest> = {
    i1: { name: 'pr-i1', network: 'iso', host: 'host1', ip: `${NET}.11` },
    p1: { name: 'pr-p1', network: 'prom', host: 'host1', ip: `${NET}.41` },
    i2: { name: 'pr-i2', network: 'iso', host: 'host2', ip: `${NET}.12` },
  };
  /** The hand-defined running domains: h is stopped and started by Kiln later, g live-migrated, f destroyed behind Kiln's back. */
  const byHand = {
    h: { name: `${tag}-run-h`, mac: '52:54:00:7e:09:51', ip: `${NET}.51`, port: portName('52:54:00:7e:09:51'), tap: '', domid: '', id: '' },
    g: { name: `${tag}-run-g`, mac: '52:54:00:7e:09:52', ip: `${NET}.52`, port: portName('52:54:00:7e:09:52'), tap: '', domid: '', id: '' },
    f: { name: `${tag}-run-f`, mac: '52:54:00:7e:09:53', ip: `${NET}.53`, port: portName('52:54:00:7e:09:53'), tap: '', domid: '', id: '' },
    /** On user-mode networking (no tap): refused while it runs. */
    u: { name: `${tag}-run-u`, mac: '52:54:00:7e:09:54', ip: `${NET}.54`, port: portName('52:54:00:7e:09:54'), tap: '', domid: '', id: '' },
  };
  let networkIds: Record<PvlanNet, string>;
  const rules = (host: string) => onHost(host, 'ebtables-save');
  const ip = (k: string) => guests[k]!.ip;
  const results: string[] = [];
  const reach = pinger(guests, results);
  const nicOf = (xml: string) => xml.slice(xml.indexOf('<interface'), xml.indexOf('</interface>'));

  beforeAll(async () => {
    addUplinkedPvlanLab(tag, `${NET}.1/24`);
    z = await kvmZone(hosts!, [...HOSTS]);
    networkIds = await createPvlanNetworks(z, tag);
    await deployPvlanGuests(z, guests, networkIds);
  }, 300_000);

  afterAll(async () => {
    await closePvlanZone(z, guests);
    // The hand-defined domains, if a failed import left them outside Kiln, and their rules under either name.
    removeHandMadeDomains(hosts!, [...HOSTS], Object.values(byHand).map((d) => d.name));
    for (const host of HOSTS) onHost(host, 'sh', '-c', portScript(Object.values(byHand).flatMap((d) => [d.port, ...(d.tap ? [d.tap] : [])])));
    removeUplinkedPvlanLab(tag);
  }, 300_000);

  it("imports them while they run: same domain ids, each live NIC on Kiln's network on the tap it had, rules on that tap, both hosts told the MACs, and pings show them isolated from each other and the isolated VMs and reaching the promiscuous one", { timeout: 600_000 }, async () => {
    for (const d of [byHand.h, byHand.g, byHand.f]) {
      // The admin's VM is on the VLAN's bridge itself (no Kiln network), its tap named by libvirt.
      const xml = defineHandMadeDomain(hosts!, 'host1', d.name, d.mac, (x) => x.replace("<interface type='user'>", `<interface type='bridge'><source bridge='${bridge}'/>`));
      expect(xml).toContain(`<source bridge='${bridge}'/>`);
      onHost('host1', 'virsh', 'start', d.name);
      d.domid = onHost('host1', 'virsh', 'domid', d.name).trim();
      const before = nicOf(onHost('host1', 'virsh', 'dumpxml', d.name));
      d.tap = /<target dev='([^']+)'/.exec(before)?.[1] ?? '';
      expect(d.tap).toMatch(/^vnet\d+$/);
      const slot = /<address type='pci'[^>]*slot='(0x[0-9a-f]+)'/.exec(before)?.[1];
      expect(slot).toBeDefined();

      const job = await z.t.run('importUnmanagedInstance', { clusterid: z.clusterid, name: d.name, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': networkIds.iso, migrateallowed: 'true' });
      expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
      const vm = (job['jobresult'] as { virtualmachine: { id: string; state: string } }).virtualmachine;
      expect(vm.state).toBe('Running');
      d.id = vm.id;
      // Not restarted: the same qemu process (domain id), still running.
      expect(onHost('host1', 'virsh', 'domid', d.name).trim()).toBe(d.domid);
      expect(onHost('host1', 'virsh', 'domstate', d.name).trim()).toBe('running');
      // Live: on Kiln's network for the isolated VLAN, on the tap it had, model and slot its own.
      const live = nicOf(onHost('host1', 'virsh', 'dumpxml', d.name));
      expect(live).toMatch(new RegExp(`<source network='${nets.iso}'`));
      expect(live).toContain(`<target dev='${d.tap}'/>`);
      expect(live).toContain("<model type='virtio'/>");
      expect(live).toMatch(new RegExp(`<address type='pci'[^>]*slot='${slot}'`));
      // Persistent: Kiln's port, so the next start has the normal set-up; the metadata names both.
      const inactive = onHost('host1', 'virsh', 'dumpxml', '--inactive', d.name);
      expect(nicOf(inactive)).toContain(`<source network='${nets.iso}'/>`);
      expect(nicOf(inactive)).toContain(`<target dev='${d.port}'/>`);
      expect(inactive).toContain(`<kiln:privateVlan port="${d.port}" primary="300" secondary="301" type="isolated" tap="${d.tap}"/>`);
      const on1 = rules('host1');
      expect(on1).toContain(`-A FORWARD -i ${d.tap} -j KI-${d.tap}`);
      expect(on1).toContain(`-A KI-${d.tap} -s ! ${d.mac} -j DROP`);
      expect(on1).toContain(`-A FORWARD -o ${d.tap} -j KO-${d.tap}`);
      for (const host of HOSTS) expect(rules(host)).toContain(`-A KM-300 -s ${d.mac} -j mark --mark-set 0x112c12d --mark-target RETURN`);
      if (d !== byHand.f) guests[d === byHand.h ? 'h' : 'g'] = { name: d.name, network: 'iso', host: 'host1', ip: d.ip, id: d.id, mac: d.mac };
    }
    await bringUpPvlanGuests(z, Object.values(guests));
    const { h, g } = byHand;
    const seen = await reachAll(reach, [
      ['h', 'i1', ip('i1')], ['h', 'i2', ip('i2')], ['i1', 'h', h.ip], ['i2', 'h', h.ip], ['h', 'g', g.ip], ['g', 'h', h.ip], ['g', 'i2', ip('i2')],
      ['h', 'p1', ip('p1')], ['p1', 'h', h.ip], ['g', 'p1', ip('p1')], ['p1', 'g', g.ip],
    ]);
    console.log(`[the domains imported while running, h on ${h.tap}, g on ${g.tap}]\n${results.join('\n')}`);
    expect(seen).toEqual({ 'h-i1': 'no', 'h-i2': 'no', 'i1-h': 'no', 'i2-h': 'no', 'h-g': 'no', 'g-h': 'no', 'g-i2': 'no', 'h-p1': 'yes', 'p1-h': 'yes', 'g-p1': 'yes', 'p1-g': 'yes' });
    for (const d of [h, g]) expect(onHost('host1', 'virsh', 'domid', d.name).trim()).toBe(d.domid);
  });

  it('after a Kiln stop and start it runs on kp<MAC> with the normal rules, none left on its old tap, and stays isolated', { timeout: 300_000 }, async () => {
    const { h: d } = byHand;
    const h = guests['h']!;
    h.tap?.close();
    h.tap = undefined;
    const stopped = await z.t.run('stopVirtualMachine', { id: d.id, forced: 'true' });
    expect(stopped['jobstatus'], JSON.stringify(stopped['jobresult'])).toBe(1);
    for (const host of HOSTS) expect(rules(host)).not.toMatch(new RegExp(`K[IO]-(${d.tap}|${d.port})\\b`));
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', d.name)).toContain(`<kiln:privateVlan port="${d.port}" primary="300" secondary="301" type="isolated"/>`);
    // The other imported domain keeps its rules on its own live tap.
    expect(rules('host1')).toContain(`-A FORWARD -i ${byHand.g.tap} -j KI-${byHand.g.tap}`);
    const started = await z.t.run('startVirtualMachine', { id: d.id });
    expect(started['jobstatus'], JSON.stringify(started['jobresult'])).toBe(1);
    const hostUuid = (started['jobresult'] as { virtualmachine: { hostid: string } }).virtualmachine.hostid;
    h.host = Object.entries(z.hostIds).find(([, uuid]) => uuid === hostUuid)![0];
    expect(onHost(h.host, 'virsh', 'domiflist', d.name)).toContain(d.port);
    const on = rules(h.host);
    expect(on).toContain(`-A FORWARD -i ${d.port} -j KI-${d.port}`);
    expect(on).toContain(`-A KI-${d.port} -s ! ${d.mac} -j DROP`);
    expect(on).not.toMatch(new RegExp(`K[IO]-${d.tap}\\b`));
    await bringUpPvlanGuests(z, [h]);
    const seen = await reachAll(reach, [['h', 'i1', ip('i1')], ['h', 'i2', ip('i2')], ['h', 'g', byHand.g.ip], ['h', 'p1', ip('p1')], ['p1', 'h', d.ip]]);
    console.log(`[h after a stop and start, on ${h.host}]\n${results.slice(-5).join('\n')}`);
    expect(seen).toEqual({ 'h-i1': 'no', 'h-i2': 'no', 'h-g': 'no', 'h-p1': 'yes', 'p1-h': 'yes' });
  });

  it("a live migration takes the other one from its live tap onto Kiln's port on the other host, and no rule of the old tap name is left", { timeout: 300_000 }, async () => {
    const { g: d } = byHand;
    const g = guests['g']!;
    g.tap?.close();
    g.tap = undefined;
    const moved = await z.t.run('migrateVirtualMachine', { virtualmachineid: d.id, hostid: z.hostIds['host2']! });
    expect(moved['jobstatus'], JSON.stringify(moved['jobresult'])).toBe(1);
    g.host = 'host2';
    expect(onHost('host2', 'virsh', 'domiflist', d.name)).toContain(d.port);
    const on2 = rules('host2');
    expect(on2).toContain(`-A FORWARD -i ${d.port} -j KI-${d.port}`);
    expect(on2).toContain(`-A KI-${d.port} -s ! ${d.mac} -j DROP`);
    expect(rules('host1')).not.toMatch(new RegExp(`K[IO]-(${d.tap}|${d.port})\\b`));
    expect(onHost('host2', 'virsh', 'dumpxml', '--inactive', d.name)).toContain(`<kiln:privateVlan port="${d.port}" primary="300" secondary="301" type="isolated"/>`);
    g.tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, d.id));
    await g.tap.runPatiently('echo moved-$((6*7))', /moved-42/, 60_000);
    const seen = await reachAll(reach, [['g', 'i2', ip('i2')], ['g', 'i1', ip('i1')], ['g', 'h', byHand.h.ip], ['g', 'p1', ip('p1')], ['p1', 'g', d.ip]]);
    console.log(`[g after it moved to host2]\n${results.slice(-5).join('\n')}`);
    expect(seen).toEqual({ 'g-i2': 'no', 'g-i1': 'no', 'g-h': 'no', 'g-p1': 'yes', 'p1-g': 'yes' });
  });

  it('one that stops without Kiln (destroyed on its host) loses the rules on its live tap and their record at once', { timeout: 120_000 }, async () => {
    const { f: d } = byHand;
    expect(rules('host1')).toContain(`-A FORWARD -i ${d.tap} -j KI-${d.tap}`);
    onHost('host1', 'virsh', 'destroy', d.name);
    await waitUntil(`the rules of ${d.tap} gone`, async () => !new RegExp(`K[IO]-${d.tap}\\b`).test(rules('host1')), 30_000);
    await waitUntil('the live tap forgotten', async () => !onHost('host1', 'virsh', 'dumpxml', '--inactive', d.name).includes('tap='), 30_000);
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', d.name)).toContain(`<kiln:privateVlan port="${d.port}" primary="300" secondary="301" type="isolated"/>`);
    // The others' rules stay.
    expect(rules(guests['h']!.host!)).toContain(`-A FORWARD -i ${byHand.h.port} -j KI-${byHand.h.port}`);
  });

  it('one on user-mode networking (no tap) is refused while it runs, saying to shut it down, with nothing changed: still running, same definition, no rule, not in Kiln', { timeout: 120_000 }, async () => {
    const { u: d } = byHand;
    defineHandMadeDomain(hosts!, 'host1', d.name, d.mac);
    onHost('host1', 'virsh', 'start', d.name);
    const domid = onHost('host1', 'virsh', 'domid', d.name).trim();
    const inactive = onHost('host1', 'virsh', 'dumpxml', '--inactive', d.name);
    const vms = z.t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get();
    const job = await z.t.run('importUnmanagedInstance', { clusterid: z.clusterid, name: d.name, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': networkIds.iso });
    expect(job['jobstatus']).toBe(2);
    const result = job['jobresult'] as { errorcode: number; errortext: string };
    console.log(`[a running user-mode NIC onto ${nets.iso}] ${result.errorcode}: ${result.errortext}`);
    expect(result.errorcode).toBe(431);
    expect(result.errortext).toContain(`NIC ${d.mac} of running domain ${d.name} has no tap device (user networking)`);
    expect(result.errortext).toContain('shut it down first, or map the NIC to a network without a private VLAN');
    expect(onHost('host1', 'virsh', 'domid', d.name).trim()).toBe(domid);
    expect(onHost('host1', 'virsh', 'dumpxml', '--inactive', d.name)).toBe(inactive);
    expect(rules('host1')).not.toContain(d.port);
    for (const host of HOSTS) expect(rules(host)).not.toContain(d.mac);
    expect(z.t.engine.db.prepare('SELECT COUNT(*) FROM vm_instances').pluck().get()).toBe(vms);
  });
});
