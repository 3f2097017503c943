/**
 * Local SRs in the simulator as xapi has them: each host's "Local storage on <host>" (type lvm,
 * shared=false) with one PBD, on its host; the shared SR with a PBD on every host (a host added at
 * run time too). A VM whose disk is on one host's local SR boots only there (xapi_vm_helpers
 * assert_can_see_SRs: VM_REQUIRES_SR [vm, sr] elsewhere, for start_on, assert_can_boot_here,
 * get_possible_hosts and pool_migrate); VM.start picks that host; migrate_send with a vdi_map onto
 * the other host's local SR is allowed, one that leaves a disk behind is not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf, Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';

type Rec = Record<string, unknown>;
const GiB = 2 ** 30;

let sim: RunningSim;
let s: Session;
let hosts: string[];
const localOf: Record<string, string> = {};
let shared: string;
beforeAll(async () => {
  sim = await startSimulator({ http: true, password: 'pw', taskDelayMs: 5, hosts: 2 });
  s = await Session.login(sim.info().url, 'root', 'pw');
  hosts = await s.call<string[]>('host.get_all');
  shared = (await s.call<Rec>('pool.get_record', (await s.call<string[]>('pool.get_all'))[0]))['default_SR'] as string;
  for (const h of hosts) {
    const name = await s.call<string>('host.get_name_label', h);
    localOf[h] = (await s.call<string[]>('SR.get_by_name_label', `Local storage on ${name}`))[0]!;
  }
});
afterAll(() => sim.stop());

/** A halted VM (a clone of the generic template) with a disk on SR. */
async function vmWithDiskOn(sr: string, name: string): Promise<{ vm: string; vdi: string }> {
  const template = (await s.call<string[]>('VM.get_by_name_label', 'Other install media'))[0]!;
  const vm = await s.call<string>('VM.clone', template, name);
  await s.call('VM.set_is_a_template', vm, false);
  const vdi = await s.call<string>('VDI.create', { name_label: `${name}-disk`, name_description: '', SR: sr, virtual_size: GiB, type: 'user', sharable: false, read_only: false, other_config: {}, xenstore_data: {}, sm_config: {}, tags: [] });
  await s.call('VBD.create', { VM: vm, VDI: vdi, userdevice: '0', bootable: true, mode: 'RW', type: 'Disk', unpluggable: false, empty: false, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} });
  return { vm, vdi };
}

describe('local SRs and their PBDs', () => {
  it('each local SR has one attached PBD on its host; the shared SR one per host; a host added later gets the shared one', async () => {
    for (const h of hosts) {
      const sr = await s.call<Rec>('SR.get_record', localOf[h]!);
      expect([sr['type'], sr['shared'], (sr['PBDs'] as string[]).length]).toEqual(['lvm', false, 1]);
      const pbd = await s.call<Rec>('PBD.get_record', (sr['PBDs'] as string[])[0]!);
      expect([pbd['host'], pbd['SR'], pbd['currently_attached']]).toEqual([h, localOf[h], true]);
    }
    const pbds = await Promise.all((await s.call<string[]>('SR.get_PBDs', shared)).map((p) => s.call<Rec>('PBD.get_record', p)));
    expect(pbds.map((p) => p['host']).sort()).toEqual([...hosts].sort());
    await fetch(`${sim.info().controlUrl}/_sim/add-host`, { method: 'POST', body: JSON.stringify({ host: { name: 'xs-late' } }) });
    const late = (await s.call<string[]>('host.get_by_name_label', 'xs-late'))[0]!;
    const now = await Promise.all((await s.call<string[]>('SR.get_PBDs', shared)).map((p) => s.call<Rec>('PBD.get_record', p)));
    expect(now.map((p) => p['host'])).toContain(late);
    expect((await s.call<string[]>('host.get_PBDs', late)).length).toBe(2);
  });

  it('a VM with a disk on host 1\'s local SR boots only on host 1 (VM_REQUIRES_SR elsewhere)', async () => {
    const [h1, h2] = hosts as [string, string];
    const { vm } = await vmWithDiskOn(localOf[h1]!, 'local-vm');
    expect(await failureOf(s.call('VM.assert_can_boot_here', vm, h2))).toEqual(['VM_REQUIRES_SR', vm, localOf[h1]]);
    expect(await failureOf(s.call('VM.start_on', vm, h2, false, false))).toEqual(['VM_REQUIRES_SR', vm, localOf[h1]]);
    expect(await s.call<string[]>('VM.get_possible_hosts', vm)).toEqual([h1]);
    await s.call('VM.start', vm, false, false);
    expect(await s.call('VM.get_resident_on', vm)).toBe(h1);
    expect(await failureOf(s.call('VM.pool_migrate', vm, h2, { live: 'true' }))).toEqual(['VM_REQUIRES_SR', vm, localOf[h1]]);
  });

  it('migrate_send: a vdi_map onto host 2\'s local SR moves it there; without the map it is refused', async () => {
    const [h1, h2] = hosts as [string, string];
    const { vm, vdi } = await vmWithDiskOn(localOf[h1]!, 'local-mover');
    await s.call('VM.start_on', vm, h1, false, false);
    const net = (await s.call<string[]>('network.get_all'))[0]!;
    const dest = await s.call<Rec>('host.migrate_receive', h2, net, {});
    expect(await failureOf(s.call('VM.migrate_send', vm, dest, true, {}, {}, {}))).toEqual(['VM_REQUIRES_SR', vm, localOf[h1]]);
    await s.call('VM.migrate_send', vm, dest, true, { [vdi]: localOf[h2]! }, {}, {});
    expect([await s.call('VM.get_resident_on', vm), await s.call('VDI.get_SR', vdi)]).toEqual([h2, localOf[h2]]);
  });
});
