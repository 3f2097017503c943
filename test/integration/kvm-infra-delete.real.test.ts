/**
 * An Unmanaged cluster and a host delete on real KVM hosts (two of the harness, each with its own
 * dir pool: HOST-scoped records). updateCluster managedstate=Unmanaged closes Kiln's SSH sessions
 * to both hosts (no established connection on their port 22 any more) and shows them
 * Disconnected; HA passes neither reconnect them nor touch the HA VM running on host2 (still
 * running there, still Running in Kiln, no HA restart). Managed again, both reconnect (Up, a
 * connection each). deleteHost of host2 is refused while its VM is there (431 naming it), and once
 * the VM is expunged and host2 Disabled it goes: its connection is closed, its pool's record is
 * gone, host1's stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();

describe.skipIf(!hosts)('Unmanaged cluster and deleteHost on real KVM hosts', () => {
  let z: KvmZone;
  const before = new Map<string, Set<string>>();
  beforeAll(async () => {
    for (const name of ['host1', 'host2']) before.set(name, new Set(sshPeers(name)));
    z = await kvmZone(hosts!, ['host1', 'host2']);
  }, 120_000);
  afterAll(async () => {
    if (!z) return;
    await cleanUp(z.t);
    await z.t.close();
  }, 180_000);

  const state = (name: string) => z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').pluck().get(z.hostIds[name]) as string;
  /** The peers (address:port) of the host's established sshd connections (the harness's exec does not use SSH). */
  const sshPeers = (name: string) => onHost(name, 'ss', '-Htn', 'state', 'established', '( sport = :22 )').split('\n').map((l) => l.trim().split(/\s+/).at(-1)!).filter(Boolean);
  /**
   * This file's connections to the host: those that were not there when it began. An earlier file
   * may leave the host's sshd one whose client went away while that file had the link cut (CI: an
   * sftp session from 14:11 on host2, its client long gone, still ESTABLISHED there at 14:29).
   */
  const sshConnections = (name: string) => sshPeers(name).filter((peer) => !before.get(name)!.has(peer)).length;
  async function until(what: string, check: () => boolean, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('Unmanaged closes the sessions and HA leaves the hosts and their VMs alone; Managed reconnects; deleteHost closes host2\'s and forgets its pool', { timeout: 300_000 }, async () => {
    const deployed = await z.t.job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host2']!, name: 'kvm-unmanaged', haenable: 'true' });
    const vm = deployed['virtualmachine'] as { id: string; name: string };
    const internal = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm.id) as string;
    expect(sshConnections('host2')).toBeGreaterThan(0);

    await z.t.ok('updateCluster', { id: z.clusterid, managedstate: 'Unmanaged' });
    expect([state('host1'), state('host2')]).toEqual(['Disconnected', 'Disconnected']);
    await until('the SSH sessions to close', () => sshConnections('host1') === 0 && sshConnections('host2') === 0, 20_000);
    for (let i = 0; i < 4; i++) await z.t.engine.background.ha.pass();
    expect([state('host1'), state('host2')]).toEqual(['Disconnected', 'Disconnected']);
    expect([sshConnections('host1'), sshConnections('host2')]).toEqual([0, 0]);
    expect(z.t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(vm.id)).toBe('Running');
    expect(z.t.engine.db.prepare(`SELECT COUNT(*) FROM events WHERE type='HA.RESTART' AND resource_uuid=?`).pluck().get(vm.id)).toBe(0);
    expect(onHost('host2', 'virsh', 'domstate', internal).trim()).toBe('running');

    await z.t.ok('updateCluster', { id: z.clusterid, managedstate: 'Managed' });
    await until('both hosts Up again', () => state('host1') === 'Up' && state('host2') === 'Up');
    expect(sshConnections('host2')).toBeGreaterThan(0);

    const host2 = z.hostIds['host2']!;
    // The VM's root disk is on host2's own pool (a dir pool is the host's own): it is named with its volume.
    const root = z.t.engine.db.prepare(`SELECT v.name FROM volumes v JOIN vm_instances vm ON vm.id=v.vm_id WHERE vm.uuid=? AND v.volume_type='ROOT'`).pluck().get(vm.id) as string;
    expect((await z.t.call('deleteHost', { id: host2, forced: 'true' })).body['errortext']).toBe(`id: host ${hosts!.hosts[1]!.address} cannot be deleted: it still has 1 volume (${root}) of VM kvm-unmanaged on its local storage; give forcedestroylocalstorage=true to destroy and expunge that VM with the host`);
    await z.t.job('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    await z.t.ok('updateHost', { id: host2, allocationstate: 'Disable' });
    await z.t.ok('listStoragePools', { zoneid: z.zoneid });
    expect(((await z.t.ok('listStoragePools', { zoneid: z.zoneid }))['storagepool'] as { hostname: string }[]).map((p) => p.hostname).sort()).toEqual([hosts!.hosts[0]!.address, hosts!.hosts[1]!.address]);
    expect((await z.t.ok('deleteHost', { id: host2 }))['success']).toBe('true');
    await until('host2\'s session to close', () => sshConnections('host2') === 0, 20_000);
    expect(((await z.t.ok('listStoragePools', { zoneid: z.zoneid }))['storagepool'] as { hostname: string }[]).map((p) => p.hostname)).toEqual([hosts!.hosts[0]!.address]);
    expect(((await z.t.ok('listHosts', { zoneid: z.zoneid }))['host'] as { name: string }[]).map((h) => h.name)).toEqual([hosts!.hosts[0]!.address]);
  });
});
