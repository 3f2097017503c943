/**
 * Cross-pool migration between two simulated pools, as xapi does it (xapi_vm_migrate.ml):
 * host.migrate_receive on the destination gives the dest map (its master's URL and the caller's
 * session there), VM.assert_can_migrate / Async.VM.migrate_send on the source move the VM, its
 * disks (to the SRs in vdi_map) and VIFs (to the networks in vif_map) over; the source pool loses
 * them. Refusals as xapi gives them: a VDI or VIF left out of the maps, an SR the destination does
 * not have, a running VM with a vGPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf, Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';

type Rec = Record<string, unknown>;

let a: RunningSim;
let b: RunningSim;
let sa: Session;
let sb: Session;
beforeAll(async () => {
  a = await startSimulator({ http: true, password: 'pw', taskDelayMs: 200, hosts: [{ gpus: ['K1'] }, {}], vms: [{ name: 'web', power_state: 'Running' }, { name: 'gpu', power_state: 'Running', vgpu: 'GRID K140Q' }, { name: 'slow', power_state: 'Running' }] });
  b = await startSimulator({ http: true, password: 'pw', taskDelayMs: 5, hosts: 1 });
  sa = await Session.login(a.info().url, 'root', 'pw');
  sb = await Session.login(b.info().url, 'root', 'pw');
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});

const vmNamed = async (s: Session, name: string) => (await s.call<string[]>('VM.get_by_name_label', name))[0];
async function destination(): Promise<{ dest: Rec; host: string; sr: string; network: string }> {
  const host = (await sb.call<string[]>('host.get_all'))[0]!;
  const network = (await sb.call<string[]>('network.get_all'))[0]!;
  const sr = (await sb.call<Rec>('pool.get_record', (await sb.call<string[]>('pool.get_all'))[0]))['default_SR'] as string;
  return { dest: await sb.call<Rec>('host.migrate_receive', host, network, {}), host, sr, network };
}
async function maps(vm: string, sr: string, network: string): Promise<{ vdis: Rec; vifs: Rec }> {
  const r = await sa.call<Rec>('VM.get_record', vm);
  const vdis: Rec = {};
  for (const vbd of r['VBDs'] as string[]) vdis[(await sa.call<Rec>('VBD.get_record', vbd))['VDI'] as string] = sr;
  return { vdis, vifs: Object.fromEntries((r['VIFs'] as string[]).map((v) => [v, network])) };
}

describe('cross-pool migrate_send', () => {
  it('migrate_receive gives the destination master URL and the caller session there', async () => {
    const { dest, host } = await destination();
    expect(dest['host']).toBe(host);
    expect(dest['master']).toBe(`${b.info().url}/`);
    expect(dest['session_id']).toBe(sb.ref);
  });

  it('refuses a VDI or VIF left out of the maps, an SR the destination lacks, and a running vGPU VM; nothing moves', async () => {
    const { dest, sr, network } = await destination();
    const web = (await vmNamed(sa, 'web'))!;
    const { vdis, vifs } = await maps(web, sr, network);
    const vdi = Object.keys(vdis)[0]!;
    expect(await failureOf(sa.call('VM.assert_can_migrate', web, dest, true, {}, vifs, {}))).toEqual(['VDI_NOT_IN_MAP', vdi]);
    expect(await failureOf(sa.call('VM.assert_can_migrate', web, dest, true, vdis, {}, {}))).toEqual(['VIF_NOT_IN_MAP', Object.keys(vifs)[0]]);
    const sourceSr = (await sa.call<Rec>('VDI.get_record', vdi))['SR'];
    expect(await failureOf(sa.callAsync('VM.migrate_send', web, dest, true, { [vdi]: sourceSr }, vifs, {}))).toEqual(['HANDLE_INVALID', 'SR', sourceSr]);
    const gpu = (await vmNamed(sa, 'gpu'))!;
    const g = await maps(gpu, sr, network);
    expect(await failureOf(sa.callAsync('VM.migrate_send', gpu, dest, true, g.vdis, g.vifs, {}))).toEqual(['VM_HAS_VGPU', gpu]);
    expect(await sb.call<string[]>('VM.get_by_name_label', 'web')).toEqual([]);
    expect((await sa.call<Rec>('VM.get_record', web))['power_state']).toBe('Running');
  });

  it('moves a running VM with its disk and VIF: it runs in the destination pool and is gone from the source, with events on both', async () => {
    const { dest, host, sr, network } = await destination();
    const web = (await vmNamed(sa, 'web'))!;
    const before = await sa.call<Rec>('VM.get_record', web);
    const { vdis, vifs } = await maps(web, sr, network);
    const oldVdi = Object.keys(vdis)[0]!;
    const diskName = (await sa.call<Rec>('VDI.get_record', oldVdi))['name_label'];
    const tokenA = (await sa.call<{ token: string }>('event.from', ['VM', 'VDI'], '', 0)).token;
    const tokenB = (await sb.call<{ token: string }>('event.from', ['VM', 'VDI'], '', 0)).token;
    await sa.call('VM.assert_can_migrate', web, dest, true, vdis, vifs, {});
    const task = await sa.call<string>('Async.VM.migrate_send', web, dest, true, vdis, vifs, {});
    await new Promise((r) => setTimeout(r, 8));
    expect(Object.values((await sa.call<Rec>('VM.get_record', web))['current_operations'] as Rec)).toEqual(['migrate_send']);
    for (;;) {
      const t = await sa.call<Rec>('task.get_record', task);
      if (t['status'] !== 'pending') {
        expect(t['status']).toBe('success');
        expect(t['progress']).toBe(1);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const moved = (await vmNamed(sb, 'web'))!;
    const r = await sb.call<Rec>('VM.get_record', moved);
    expect(r['uuid']).toBe(before['uuid']);
    expect(r['power_state']).toBe('Running');
    expect(r['resident_on']).toBe(host);
    const vbd = await sb.call<Rec>('VBD.get_record', (r['VBDs'] as string[])[0]);
    const vdi = await sb.call<Rec>('VDI.get_record', vbd['VDI']);
    expect([vdi['SR'], vdi['name_label']]).toEqual([sr, diskName]);
    expect((await sb.call<Rec>('VIF.get_record', (r['VIFs'] as string[])[0]))['network']).toBe(network);
    expect(await failureOf(sa.call('VM.get_record', web))).toEqual(['HANDLE_INVALID', 'VM', web]);
    expect(await failureOf(sa.call('VDI.get_record', oldVdi))).toEqual(['HANDLE_INVALID', 'VDI', oldVdi]);
    const evA = await sa.call<{ events: Rec[] }>('event.from', ['VM', 'VDI'], tokenA, 0);
    expect(evA.events.filter((e) => e['ref'] === web || e['ref'] === oldVdi).map((e) => e['operation'])).toContain('del');
    const evB = await sb.call<{ events: Rec[] }>('event.from', ['VM', 'VDI'], tokenB, 0);
    expect(evB.events.some((e) => e['ref'] === moved && e['operation'] === 'add')).toBe(true);
  });

  it('holds migrate_send in the source VM\'s current_operations through the destination\'s checks and until the VM is there', async () => {
    const { dest, sr, network } = await destination();
    const slow = (await vmNamed(sa, 'slow'))!;
    const { vdis, vifs } = await maps(slow, sr, network);
    // The destination takes its time over the check and over receiving the VM (a loaded host, a far pool).
    const arm = await fetch(`${b.info().controlUrl}/_sim/fault`, { method: 'POST', body: JSON.stringify({ method: '_sim.receive_migration', delayMs: 500, count: 2 }) });
    expect(arm.status).toBe(200);
    const task = await sa.call<string>('Async.VM.migrate_send', slow, dest, true, vdis, vifs, {});
    const ops = async () => Object.values((await sa.call<Rec>('VM.get_record', slow))['current_operations'] as Rec);
    // During the destination's check (before the copy), then while it receives the VM (after the copy).
    await new Promise((r) => setTimeout(r, 250));
    expect(await ops()).toEqual(['migrate_send']);
    await new Promise((r) => setTimeout(r, 500));
    expect(await ops()).toEqual(['migrate_send']);
    expect(await sb.call<string[]>('VM.get_by_name_label', 'slow')).toEqual([]);
    // Then at once there, and gone here.
    for (;;) {
      if ((await sa.call<Rec>('task.get_record', task))['status'] !== 'pending') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await sb.call<string[]>('VM.get_by_name_label', 'slow')).toHaveLength(1);
    expect(await failureOf(sa.call('VM.get_record', slow))).toEqual(['HANDLE_INVALID', 'VM', slow]);
  });
});
