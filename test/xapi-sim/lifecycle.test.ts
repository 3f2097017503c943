/**
 * §2.2 and §6.7 of xenapi.md: the VM lifecycle against the simulator: the check order, start
 * and start_on with their host errors, shutdown/reboot/suspend/pause, migration, live scaling,
 * snapshots/checkpoints/revert/clone/destroy, concurrent operations and cancel, the test hooks
 * (no tools, a hanging clean shutdown), and pool HA restarting a VM itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf, Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
type Rec = Record<string, unknown>;

let sim: RunningSim;
let s: Session;
let hosts: string[];
beforeAll(async () => {
  sim = await startSimulator({
    http: true, password: 'pw', taskDelayMs: 30,
    hosts: [{ name: 'h1', memoryGiB: 16 }, { name: 'h2', memoryGiB: 16 }],
    vms: [{ name: 'base', memoryMiB: 1024, vcpus: 1, vcpusMax: 4 }, { name: 'bare', memoryMiB: 1024, tools: false }],
  });
  s = await Session.login(sim.info().url, 'root', 'pw');
  hosts = sim.sim.store.all('host').map((h) => h.ref);
});
afterAll(() => sim.stop());

const control = (action: string, body: Rec): Promise<Response> => fetch(`${sim.controlUrl}/_sim/${action}`, { method: 'POST', body: JSON.stringify(body) });
const byName = async (name: string): Promise<string> => (await s.call<string[]>('VM.get_by_name_label', name))[0]!;
const rec = (vm: string): Promise<Rec> => s.call<Rec>('VM.get_record', vm);
/** A fresh Halted VM (a clone of a fixture VM, with its own disk and VIF). */
let n = 0;
async function fresh(from = 'base'): Promise<string> {
  return s.callAsync<string>('VM.clone', await byName(from), `vm-${++n}`);
}
async function running(from = 'base', host?: string): Promise<string> {
  const vm = await fresh(from);
  if (host) await s.call('VM.start_on', vm, host, false, false);
  else await s.call('VM.start', vm, false, false);
  return vm;
}

describe('start and start_on (§6.7)', () => {
  it('starts a VM: Running, resident_on, domid, an rfb console at https://<host address>/console?uuid=…, metrics, host memory', async () => {
    const vm = await fresh();
    const host = hosts[0]!;
    const freeBefore = await s.call<number>('host.compute_free_memory', host);
    await s.call('VM.start_on', vm, host, false, false);
    const r = await rec(vm);
    expect(r).toMatchObject({ power_state: 'Running', resident_on: host, scheduled_to_be_resident_on: 'OpaqueRef:NULL', memory_target: 1024 * MiB });
    expect(r['domid']).toBeGreaterThan(0);
    const consoles = r['consoles'] as string[];
    expect(consoles).toHaveLength(1);
    const c = await s.call<Rec>('console.get_record', consoles[0]);
    expect(c).toMatchObject({ protocol: 'rfb', VM: vm, location: `https://127.0.0.1/console?uuid=${c['uuid'] as string}` });
    const m = await s.call<Rec>('VM_metrics.get_record', r['metrics']);
    expect(m).toMatchObject({ VCPUs_number: 1, memory_actual: 1024 * MiB, state: ['running'] });
    expect(m['start_time']).not.toBe('19700101T00:00:00Z');
    expect(await s.call('host.get_resident_VMs', host)).toContain(vm);
    expect(await s.call<number>('host.compute_free_memory', host)).toBe(freeBefore - 1024 * MiB - (r['memory_overhead'] as number));
    expect(r['allowed_operations']).toEqual(expect.arrayContaining(['clean_shutdown', 'hard_shutdown', 'clean_reboot', 'pool_migrate', 'snapshot', 'checkpoint', 'suspend']));
    expect(r['allowed_operations']).not.toContain('start');
    expect(r['guest_metrics']).not.toBe('OpaqueRef:NULL');
    await s.call('VM.hard_shutdown', vm);
  });

  it('checks in xapi order: blocked, power state (lowercase), template, snapshot', async () => {
    const vm = await running();
    expect(await failureOf(s.call('VM.start', vm, false, false))).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    await s.call('VM.add_to_blocked_operations', vm, 'start', 'kept by a test');
    // Blocked comes before the power state.
    expect(await failureOf(s.call('VM.start', vm, false, false))).toEqual(['OPERATION_BLOCKED', vm, 'kept by a test']);
    await s.call('VM.remove_from_blocked_operations', vm, 'start');
    const template = await byName('Debian Bookworm 12');
    expect(await failureOf(s.call('VM.start', template, false, false))).toEqual(['VM_IS_TEMPLATE', template, 'start']);
    const snap = await s.call<string>('VM.snapshot', vm, 'snap');
    expect(await failureOf(s.call('VM.start', snap, false, false))).toEqual(['VM_IS_SNAPSHOT', snap, 'start']);
    await s.call('VM.hard_shutdown', vm);
  });

  it('start_on refuses with HOST_DISABLED [host], HOST_NOT_LIVE [] and HOST_NOT_ENOUGH_FREE_MEMORY [needed, available]; start with NO_HOSTS_AVAILABLE []', async () => {
    const vm = await fresh();
    const [h1, h2] = hosts as [string, string];
    await s.call('host.disable', h2);
    expect(await failureOf(s.call('VM.start_on', vm, h2, false, false))).toEqual(['HOST_DISABLED', h2]);
    expect(await failureOf(s.call('VM.assert_can_boot_here', vm, h2))).toEqual(['HOST_DISABLED', h2]);
    await s.call('host.enable', h2);
    await control('host-set', { host: h2, live: false });
    expect(await failureOf(s.call('VM.start_on', vm, h2, false, false))).toEqual(['HOST_NOT_LIVE']);
    expect(await s.call('VM.get_possible_hosts', vm)).toEqual([h1]);
    await control('host-set', { host: h2, live: true });
    const big = await fresh();
    await s.call('VM.set_memory_limits', big, 256 * MiB, 20 * GiB, 20 * GiB, 20 * GiB);
    const overhead = await s.call<number>('VM.get_memory_overhead', big);
    const free = await s.call<number>('host.compute_free_memory', h1);
    expect(await failureOf(s.call('VM.start_on', big, h1, false, false))).toEqual(['HOST_NOT_ENOUGH_FREE_MEMORY', String(20 * GiB + overhead), String(free)]);
    expect(await failureOf(s.call('VM.start', big, false, false))).toEqual(['NO_HOSTS_AVAILABLE']);
    // Nothing was changed by the refusals.
    expect(await rec(big)).toMatchObject({ power_state: 'Halted', resident_on: 'OpaqueRef:NULL', scheduled_to_be_resident_on: 'OpaqueRef:NULL', current_operations: {} });
  });

  it('an Async start holds current_operations[task] = "start" (OTHER_OPERATION_IN_PROGRESS for others) and moves progress', async () => {
    // Long enough that the polls below see the half-way progress even on a loaded machine.
    await control('options', { taskDelayMs: 1000 });
    try {
      const vm = await fresh();
      const task = await s.call<string>('Async.VM.start', vm, false, false);
      await new Promise((r) => setTimeout(r, 50));
      expect((await rec(vm))['current_operations']).toEqual({ [task]: 'start' });
      expect(await failureOf(s.call('VM.start', vm, false, false))).toEqual(['OTHER_OPERATION_IN_PROGRESS', 'VM', vm, 'start', task]);
      let progress = 0;
      while (progress === 0) progress = await s.call<number>('task.get_progress', task);
      expect(progress).toBe(0.5);
      while ((await s.call('task.get_status', task)) === 'pending') await new Promise((r) => setTimeout(r, 20));
      expect(await s.call('task.get_status', task)).toBe('success');
      expect(await rec(vm)).toMatchObject({ power_state: 'Running', current_operations: {} });
      await s.call('VM.hard_shutdown', vm);
    } finally {
      await control('options', { taskDelayMs: 30 });
    }
  });

  it('task.cancel during an Async start: the task is cancelled with TASK_CANCELLED [task] and the VM stays Halted with nothing held', async () => {
    await control('options', { taskDelayMs: 1000 });
    try {
      const vm = await fresh();
      const freeBefore = await s.call<number>('host.compute_free_memory', hosts[0]);
      const task = await s.call<string>('Async.VM.start_on', vm, hosts[0], false, false);
      await new Promise((r) => setTimeout(r, 50));
      expect((await rec(vm))['scheduled_to_be_resident_on']).toBe(hosts[0]);
      await s.call('task.cancel', task);
      let t: Rec;
      do t = await s.call<Rec>('task.get_record', task);
      while (t['status'] === 'cancelling' || t['status'] === 'pending');
      expect(t).toMatchObject({ status: 'cancelled', error_info: ['TASK_CANCELLED', task] });
      expect(await rec(vm)).toMatchObject({ power_state: 'Halted', resident_on: 'OpaqueRef:NULL', scheduled_to_be_resident_on: 'OpaqueRef:NULL', current_operations: {} });
      expect(await s.call('host.compute_free_memory', hosts[0])).toBe(freeBefore);
    } finally {
      await control('options', { taskDelayMs: 30 });
    }
  });
});

describe('shutdown, reboot, suspend, pause (§6.7)', () => {
  it('clean_shutdown ends Halted: resident_on NULL, domid -1, consoles destroyed, memory back', async () => {
    const vm = await running('base', hosts[0]);
    const free = await s.call<number>('host.compute_free_memory', hosts[0]);
    const [console] = (await rec(vm))['consoles'] as string[];
    await s.call('VM.clean_shutdown', vm);
    const r = await rec(vm);
    expect(r).toMatchObject({ power_state: 'Halted', resident_on: 'OpaqueRef:NULL', domid: -1, consoles: [], guest_metrics: 'OpaqueRef:NULL' });
    expect(await failureOf(s.call('console.get_record', console))).toEqual(['HANDLE_INVALID', 'console', console]);
    expect(await s.call<number>('host.compute_free_memory', hosts[0])).toBe(free + 1024 * MiB + (r['memory_overhead'] as number));
    expect(await failureOf(s.call('VM.clean_shutdown', vm))).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
    expect(await failureOf(s.call('VM.hard_shutdown', vm))).toEqual(['VM_BAD_POWER_STATE', vm, 'paused, suspended, running', 'halted']);
  });

  it('without PV tools clean_shutdown and clean_reboot are VM_MISSING_PV_DRIVERS [vm]; hard_shutdown and VM.shutdown still work', async () => {
    const vm = await running('bare');
    expect((await rec(vm))['guest_metrics']).toBe('OpaqueRef:NULL');
    expect(await failureOf(s.call('VM.clean_shutdown', vm))).toEqual(['VM_MISSING_PV_DRIVERS', vm]);
    expect(await failureOf(s.call('VM.clean_reboot', vm))).toEqual(['VM_MISSING_PV_DRIVERS', vm]);
    expect((await rec(vm))['allowed_operations']).not.toContain('clean_shutdown');
    await s.call('VM.shutdown', vm);
    expect((await rec(vm))['power_state']).toBe('Halted');
    const other = await running('bare');
    // The tools come up (test control): guest_metrics appears and live memory changes are allowed.
    await control('vm-tools', { vm: other, tools: true });
    const gm = (await rec(other))['guest_metrics'] as string;
    expect(await s.call('VM_guest_metrics.get_PV_drivers_detected', gm)).toBe(true);
    expect((await rec(other))['allowed_operations']).toContain('changing_dynamic_range');
    await s.call('VM.set_memory_dynamic_range', other, 512 * MiB, 1024 * MiB);
    await control('vm-tools', { vm: other, tools: false });
    expect((await rec(other))['guest_metrics']).toBe('OpaqueRef:NULL');
    await s.call('VM.hard_shutdown', other);
    expect((await rec(other))['power_state']).toBe('Halted');
  });

  it('a hanging clean_shutdown stays pending; hard_shutdown runs beside it and the hung task then fails', async () => {
    const vm = await running();
    await control('vm-behaviour', { vm, cleanShutdown: 'hang' });
    const task = await s.call<string>('Async.VM.clean_shutdown', vm);
    await new Promise((r) => setTimeout(r, 150));
    expect(await s.call('task.get_status', task)).toBe('pending');
    expect((await rec(vm))['power_state']).toBe('Running');
    await s.call('VM.hard_shutdown', vm);
    let t: Rec;
    do t = await s.call<Rec>('task.get_record', task);
    while (t['status'] === 'pending');
    expect(t).toMatchObject({ status: 'failure', error_info: ['VM_BAD_POWER_STATE', vm, 'running', 'halted'] });
    expect(await rec(vm)).toMatchObject({ power_state: 'Halted', current_operations: {} });
  });

  it('clean_reboot and hard_reboot keep it Running with a new domid', async () => {
    const vm = await running();
    const d0 = (await rec(vm))['domid'] as number;
    await s.call('VM.clean_reboot', vm);
    const d1 = (await rec(vm))['domid'] as number;
    await s.call('VM.hard_reboot', vm);
    const r = await rec(vm);
    expect(r['power_state']).toBe('Running');
    expect(new Set([d0, d1, r['domid']]).size).toBe(3);
    await s.call('VM.hard_shutdown', vm);
  });

  it('suspend/resume (with a suspend VDI) and pause/unpause', async () => {
    const vm = await running();
    await s.call('VM.suspend', vm);
    let r = await rec(vm);
    expect(r).toMatchObject({ power_state: 'Suspended', resident_on: 'OpaqueRef:NULL' });
    expect(await s.call('VDI.get_type', r['suspend_VDI'])).toBe('suspend');
    await s.call('VM.resume', vm, false, false);
    r = await rec(vm);
    expect(r).toMatchObject({ power_state: 'Running', suspend_VDI: 'OpaqueRef:NULL' });
    await s.call('VM.pause', vm);
    expect((await rec(vm))['power_state']).toBe('Paused');
    expect(await failureOf(s.call('VM.pause', vm))).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'paused']);
    await s.call('VM.unpause', vm);
    expect((await rec(vm))['power_state']).toBe('Running');
    await s.call('VM.hard_shutdown', vm);
  });
});

describe('migration and live scaling (§6.7)', () => {
  it('pool_migrate moves resident_on, resident_VMs and the console location; a Halted VM cannot', async () => {
    const [h1, h2] = hosts as [string, string];
    const vm = await running('base', h1);
    await s.call('VM.pool_migrate', vm, h2, { live: 'true' });
    const r = await rec(vm);
    expect(r['resident_on']).toBe(h2);
    expect(await s.call('host.get_resident_VMs', h1)).not.toContain(vm);
    expect(await s.call('host.get_resident_VMs', h2)).toContain(vm);
    expect(await s.call('console.get_location', (r['consoles'] as string[])[0])).toMatch(/^https:\/\/127\.0\.0\.2\/console\?uuid=/);
    await s.call('VM.hard_shutdown', vm);
    expect(await failureOf(s.call('VM.pool_migrate', vm, h1, {}))).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
  });

  it('migrate_send to host.migrate_receive\'s map moves a running VM and its disks; a Halted VM is allowed (cold)', async () => {
    const [h1, h2] = hosts as [string, string];
    const network = sim.sim.store.all('network')[0]!.ref;
    const localSr = sim.sim.store.all('SR').find((r) => r.rec['name_label'] === 'Local storage on h2')!.ref;
    const vm = await running('base', h1);
    const dest = await s.call<Rec>('host.migrate_receive', h2, network, {});
    const vdi = await s.call<string>('VBD.get_VDI', ((await rec(vm))['VBDs'] as string[])[0]);
    await s.call('VM.assert_can_migrate', vm, dest, true, { [vdi]: localSr }, {}, {});
    expect(await s.call('VM.migrate_send', vm, dest, true, { [vdi]: localSr }, {}, {})).toBe(vm);
    expect((await rec(vm))['resident_on']).toBe(h2);
    expect(await s.call('VDI.get_SR', vdi)).toBe(localSr);
    await s.call('VM.hard_shutdown', vm);
    expect(await s.call('VM.migrate_send', vm, dest, false, {}, {}, {}, {})).toBe(vm);
    expect((await rec(vm))['power_state']).toBe('Halted');
  });

  it('set_VCPUs_number_live: Running only, n ≤ VCPUs_max, updates VCPUs_at_startup and the metrics', async () => {
    const vm = await fresh();
    expect(await failureOf(s.call('VM.set_VCPUs_number_live', vm, 2))).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
    await s.call('VM.start', vm, false, false);
    expect(await failureOf(s.call('VM.set_VCPUs_number_live', vm, 5))).toEqual(['INVALID_VALUE', 'nvcpu', '5']);
    await s.call('VM.set_VCPUs_number_live', vm, 3);
    const r = await rec(vm);
    expect(r['VCPUs_at_startup']).toBe(3);
    expect(await s.call('VM_metrics.get_VCPUs_number', r['metrics'])).toBe(3);
    // Static settings are Halted-only.
    expect(await failureOf(s.call('VM.set_VCPUs_max', vm, 8))).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    expect(await failureOf(s.call('VM.set_memory_limits', vm, 256 * MiB, 2 * GiB, 2 * GiB, 2 * GiB))).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    await s.call('VM.hard_shutdown', vm);
  });

  it('set_memory_dynamic_range: static_min ≤ min ≤ max ≤ static_max, and a running guest needs its tools', async () => {
    const vm = await running();
    expect(await failureOf(s.call('VM.set_memory_dynamic_range', vm, 512 * MiB, 2 * GiB))).toEqual(['MEMORY_CONSTRAINT_VIOLATION', 'Memory limits must satisfy: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max']);
    await s.call('VM.set_memory_dynamic_range', vm, 512 * MiB, 768 * MiB);
    expect(await rec(vm)).toMatchObject({ memory_dynamic_min: 512 * MiB, memory_dynamic_max: 768 * MiB, memory_target: 768 * MiB });
    await s.call('VM.hard_shutdown', vm);
    const bare = await running('bare');
    expect(await failureOf(s.call('VM.set_memory_dynamic_range', bare, 512 * MiB, 768 * MiB))).toEqual(['VM_MISSING_PV_DRIVERS', bare]);
    await s.call('VM.hard_shutdown', bare);
    await s.call('VM.set_memory_dynamic_range', bare, 512 * MiB, 768 * MiB); // Halted: no tools needed
  });
});

describe('snapshots, clones and destroy (§2.2, §6.7)', () => {
  it('snapshot: is_a_snapshot, is_a_template, snapshot_of, snapshot_time, old parent; vm.parent := snapshot; disks copied; Async result decodes to the ref', async () => {
    const vm = await running();
    const first = await s.callAsync<string>('VM.snapshot', vm, 'first');
    expect(first).toMatch(/^OpaqueRef:/);
    const second = await s.call<string>('VM.snapshot', vm, 'second');
    const r1 = await rec(first);
    const r2 = await rec(second);
    expect(r1).toMatchObject({ is_a_snapshot: true, is_a_template: true, snapshot_of: vm, power_state: 'Halted', resident_on: 'OpaqueRef:NULL', parent: 'OpaqueRef:NULL', name_label: 'first' });
    expect(r1['snapshot_time']).not.toBe('19700101T00:00:00Z');
    expect(r2['parent']).toBe(first);
    const v = await rec(vm);
    expect(v['parent']).toBe(second);
    expect(v['snapshots']).toEqual([first, second]);
    expect(r1['VBDs']).toHaveLength(1);
    const snapVdi = await s.call<string>('VBD.get_VDI', (r1['VBDs'] as string[])[0]);
    expect(await s.call('VDI.get_is_a_snapshot', snapVdi)).toBe(true);
    expect(await s.call('VDI.get_snapshot_of', snapVdi)).toBe(await s.call('VBD.get_VDI', (v['VBDs'] as string[])[0]));
    await s.call('VM.hard_shutdown', vm);
  });

  it('checkpoint of a running VM is a Suspended snapshot; of a Halted one VM_BAD_POWER_STATE', async () => {
    const vm = await running();
    const cp = await s.call<string>('VM.checkpoint', vm, 'cp');
    expect(await rec(cp)).toMatchObject({ is_a_snapshot: true, power_state: 'Suspended' });
    expect((await rec(vm))['power_state']).toBe('Running');
    await s.call('VM.hard_shutdown', vm);
    expect(await failureOf(s.call('VM.checkpoint', vm, 'cp2'))).toEqual(['VM_BAD_POWER_STATE', vm, 'paused, suspended, running', 'halted']);
  });

  it('revert: ONLY_REVERT_SNAPSHOT on a VM; a running VM goes back to the snapshot\'s settings, Halted (or Suspended for a checkpoint)', async () => {
    const vm = await running();
    expect(await failureOf(s.call('VM.revert', vm))).toEqual(['ONLY_REVERT_SNAPSHOT']);
    const snap = await s.call<string>('VM.snapshot', vm, 'before');
    await s.call('VM.set_VCPUs_number_live', vm, 2);
    await s.call('VM.revert', snap);
    expect(await rec(vm)).toMatchObject({ power_state: 'Halted', VCPUs_at_startup: 1, parent: snap, resident_on: 'OpaqueRef:NULL' });
    await s.call('VM.start', vm, false, false);
    const cp = await s.call<string>('VM.checkpoint', vm, 'cp');
    await s.call('VM.revert', cp);
    expect((await rec(vm))['power_state']).toBe('Suspended');
    await s.call('VM.resume', vm, false, false);
    await s.call('VM.hard_shutdown', vm);
  });

  it('clone is Halted-only, keeps is_a_template of its source, resets snapshot links; copy takes an SR', async () => {
    const shared = sim.sim.store.all('SR').find((r) => r.rec['shared'] === true)!.ref;
    const allocated = await s.call<number>('SR.get_virtual_allocation', shared);
    const vm = await running();
    expect(await s.call('SR.get_virtual_allocation', shared)).toBe(allocated + 10 * GiB);
    expect(await failureOf(s.call('VM.clone', vm, 'c'))).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    await s.call('VM.hard_shutdown', vm);
    const c = await s.call<string>('VM.clone', vm, 'c');
    expect(await rec(c)).toMatchObject({ is_a_template: false, is_a_snapshot: false, snapshot_of: 'OpaqueRef:NULL', parent: 'OpaqueRef:NULL', power_state: 'Halted' });
    const tc = await s.call<string>('VM.clone', await byName('Debian Bookworm 12'), 'from template');
    expect(await rec(tc)).toMatchObject({ is_a_template: true, is_default_template: false });
    await s.call('VM.set_is_a_template', tc, false);
    await s.call('VM.provision', tc);
    expect((await rec(tc))['VBDs']).toHaveLength(1);
    const sr = sim.sim.store.all('SR').find((r) => r.rec['name_label'] === 'Local storage on h1')!.ref;
    const cp = await s.call<string>('VM.copy', vm, 'copy', sr);
    expect(await s.call('VDI.get_SR', await s.call('VBD.get_VDI', ((await rec(cp))['VBDs'] as string[])[0]))).toBe(sr);
  });

  it('destroy: only Halted or Suspended; removes VBDs, VIFs, the VM and its place in snapshots; VDIs stay', async () => {
    const vm = await running();
    expect(await failureOf(s.call('VM.destroy', vm))).toEqual(['VM_BAD_POWER_STATE', vm, 'halted, suspended', 'running']);
    const s1 = await s.call<string>('VM.snapshot', vm, 's1');
    const snap = await s.call<string>('VM.snapshot', vm, 's2');
    await s.call('VM.hard_shutdown', vm);
    // Destroying the VM's parent snapshot moves the VM up to that snapshot's parent.
    await s.call('VM.destroy', snap);
    expect(await rec(vm)).toMatchObject({ snapshots: [s1], parent: s1 });
    expect(await s.call('VM.get_children', s1)).toEqual([vm]);
    await s.call('VM.destroy', s1);
    expect(await rec(vm)).toMatchObject({ snapshots: [], parent: 'OpaqueRef:NULL' });
    const r = await rec(vm);
    const vbd = (r['VBDs'] as string[])[0]!;
    const vif = (r['VIFs'] as string[])[0]!;
    const vdi = await s.call<string>('VBD.get_VDI', vbd);
    await s.call('VM.destroy', vm);
    expect(await failureOf(s.call('VM.get_record', vm))).toEqual(['HANDLE_INVALID', 'VM', vm]);
    expect(await failureOf(s.call('VBD.get_record', vbd))).toEqual(['HANDLE_INVALID', 'VBD', vbd]);
    expect(await failureOf(s.call('VIF.get_record', vif))).toEqual(['HANDLE_INVALID', 'VIF', vif]);
    expect(await s.call('VDI.get_VBDs', vdi)).toEqual([]);
  });

  it('VDI.destroy: VDI_IN_USE [vdi, "destroy"] while its VM runs; after that it goes, with its VBDs', async () => {
    const vm = await running();
    const [vbd] = (await rec(vm))['VBDs'] as string[];
    const vdi = await s.call<string>('VBD.get_VDI', vbd);
    expect(await s.call('VBD.get_currently_attached', vbd)).toBe(true);
    expect(await failureOf(s.call('VDI.destroy', vdi))).toEqual(['VDI_IN_USE', vdi, 'destroy']);
    await s.call('VM.hard_shutdown', vm);
    expect(await s.call('VBD.get_currently_attached', vbd)).toBe(false);
    const sr = await s.call<string>('VDI.get_SR', vdi);
    await s.call('VDI.destroy', vdi);
    expect(await failureOf(s.call('VDI.get_record', vdi))).toEqual(['HANDLE_INVALID', 'VDI', vdi]);
    expect(await s.call('VM.get_VBDs', vm)).toEqual([]);
    expect(await s.call('SR.get_VDIs', sr)).not.toContain(vdi);
  });

  it('VM.create makes a Halted VM from a record', async () => {
    const vm = await s.call<string>('VM.create', { name_label: 'made', memory_static_max: 2 * GiB, memory_static_min: 256 * MiB, memory_dynamic_min: 2 * GiB, memory_dynamic_max: 2 * GiB, VCPUs_max: 2, VCPUs_at_startup: 2, other_config: { kiln: 'yes' } });
    expect(await rec(vm)).toMatchObject({ name_label: 'made', power_state: 'Halted', VCPUs_max: 2, memory_static_max: 2 * GiB, other_config: { kiln: 'yes' } });
    expect((await rec(vm))['allowed_operations']).toContain('start');
  });
});

describe('pool HA and a host failure', () => {
  it('a crashed host\'s VMs end Halted, except HA-protected ones, which xapi restarts on another host itself', async () => {
    const [h1, h2] = hosts as [string, string];
    await s.call('pool.enable_ha', [], {});
    const kept = await running('base', h2);
    const lost = await running('base', h2);
    await s.call('VM.set_ha_restart_priority', kept, 'restart');
    const res = await control('host-crash', { host: h2 });
    expect(await res.json()).toEqual({ restarted: [{ vm: kept, host: h1 }] });
    expect(await rec(kept)).toMatchObject({ power_state: 'Running', resident_on: h1 });
    expect((await rec(lost))['power_state']).toBe('Halted');
    expect(await s.call('host_metrics.get_live', await s.call('host.get_metrics', h2))).toBe(false);
    await control('host-recover', { host: h2 });
    await s.call('pool.disable_ha');
    await s.call('VM.hard_shutdown', kept);
  });

  it('with restartDelayMs the halt and the HA restart reach event.from in separate batches', async () => {
    const [h1, h2] = hosts as [string, string];
    await s.call('pool.enable_ha', [], {});
    const vm = await running('base', h2);
    await s.call('VM.set_ha_restart_priority', vm, 'restart');
    const { token } = await s.call<{ token: string }>('event.from', [`VM/${vm}`], '', 0);
    const crash = control('host-crash', { host: h2, restartDelayMs: 1500 });
    const first = await s.call<{ token: string; events: Array<{ snapshot: Rec }> }>('event.from', [`VM/${vm}`], token, 5);
    expect(first.events.map((e) => e.snapshot['power_state'])).toEqual(['Halted']);
    const second = await s.call<{ events: Array<{ snapshot: Rec }> }>('event.from', [`VM/${vm}`], first.token, 5);
    expect(second.events.map((e) => [e.snapshot['power_state'], e.snapshot['resident_on']])).toEqual([['Running', h1]]);
    expect(await (await crash).json()).toEqual({ restarted: [{ vm, host: h1 }] });
    await control('host-recover', { host: h2 });
    await s.call('pool.disable_ha');
    await s.call('VM.hard_shutdown', vm);
  });
});
