/**
 * The VM lifecycle (§2.2, §6.7): the operation checks in xapi_vm_lifecycle.ml's order, host
 * choice and assert_can_boot_here in xapi_vm_helpers.ml's order, and each operation's effects
 * on the VM, its host, consoles, metrics, guest metrics and vGPUs. allowed_operations is
 * recomputed from the same checks after every change to a VM.
 */
import type { Ctx } from './api.js';
import { addDisk, addVif, createVm, GiB, hostsSeeing, MiB, refreshSr, vmOverhead, type Fixture, type Seeded, type VmFixture } from './fixture.js';
import { assertGpusAvailable, attachVgpus, createVgpu, destroyVgpu, rankHostsForVgpu, releaseVgpus, scheduleVgpus } from './gpu.js';
import { freeMemory, hostIsLive, refreshMemory } from './host.js';
import type { Sim } from './sim.js';
import { copyRecord, newRef, type Rec } from './store.js';
import { NULL_REF, XapiFailure, XDate } from './wire.js';
import { jsonCall, SimError } from './rpc-client.js';

type Power = 'Halted' | 'Paused' | 'Running' | 'Suspended';
const ANY: Power[] = ['Halted', 'Paused', 'Running', 'Suspended'];

/** xapi_vm_lifecycle.ml allowed_power_states, for the operations the simulator models. */
const POWER: Record<string, Power[]> = {
  start: ['Halted'], start_on: ['Halted'], provision: ['Halted'], make_into_template: ['Halted'],
  clean_shutdown: ['Running'], clean_reboot: ['Running'], pause: ['Running'], suspend: ['Running'], pool_migrate: ['Running'], changing_VCPUs_live: ['Running'],
  hard_shutdown: ['Paused', 'Suspended', 'Running'], shutdown: ['Paused', 'Suspended', 'Running'], checkpoint: ['Paused', 'Suspended', 'Running'],
  hard_reboot: ['Paused', 'Running'], unpause: ['Paused'], resume: ['Suspended'], resume_on: ['Suspended'],
  changing_dynamic_range: ['Halted', 'Running'], migrate_send: ['Halted', 'Suspended', 'Running'],
  clone: ['Halted'], copy: ['Halted'], destroy: ['Halted', 'Suspended'], export: ['Halted', 'Suspended'],
  snapshot: ANY, revert: ANY, changing_VCPUs: ['Halted'], changing_static_range: ['Halted'], changing_memory_limits: ['Halted'],
};
const OPS = Object.keys(POWER);

/** What a template (not a snapshot) may still do; check_template. */
const TEMPLATE_OK = new Set(['clone', 'copy', 'provision', 'destroy', 'export', 'changing_VCPUs', 'changing_static_range', 'changing_memory_limits', 'changing_dynamic_range', 'make_into_template']);
/** What a snapshot may do; check_snapshot. */
const SNAPSHOT_OK = new Set(['revert', 'clone', 'copy', 'export', 'destroy', 'hard_shutdown', 'metadata_export']);
/** Operations xapi refuses for a VM with a non-migratable vGPU (check_vgpu; always so for K1/K2 and passthrough). */
const VGPU_BLOCKS = new Set(['pool_migrate', 'migrate_send', 'suspend', 'checkpoint']);
/** Operations a running guest must have its PV tools for (check_op_for_feature / check_drivers). */
const NEEDS_TOOLS = new Set(['clean_shutdown', 'clean_reboot', 'suspend', 'checkpoint', 'pool_migrate', 'changing_VCPUs_live', 'changing_dynamic_range']);
/** hard_* may run while a clean_* is in progress (it replaces it), as xapi allows. */
const CONCURRENT_OK: Record<string, string[]> = { hard_shutdown: ['clean_shutdown', 'clean_reboot', 'shutdown'], hard_reboot: ['clean_shutdown', 'clean_reboot'], shutdown: ['clean_shutdown'] };

const lower = (p: unknown): string => String(p).toLowerCase();

export function checkOperation(sim: Sim, vm: string, op: string, ownKey?: string): XapiFailure | undefined {
  const r = sim.store.rec('VM', vm);
  const blocked = r['blocked_operations'] as Record<string, string>;
  if (blocked[op] !== undefined) return new XapiFailure('OPERATION_BLOCKED', [vm, blocked[op]]);
  if (r['is_control_domain']) return new XapiFailure('OPERATION_NOT_ALLOWED', [`${op} is not allowed on a control domain`]);
  const power = r['power_state'] as Power;
  let allowed = POWER[op] ?? ANY;
  if ((op === 'clone' || op === 'copy') && r['is_a_snapshot']) allowed = ['Halted', 'Suspended'];
  if (!allowed.includes(power)) return new XapiFailure('VM_BAD_POWER_STATE', [vm, allowed.map(lower).join(', '), lower(power)]);
  const current = Object.entries(r['current_operations'] as Record<string, string>).filter(([k]) => k !== ownKey);
  const clash = current.find(([, o]) => !(CONCURRENT_OK[op] ?? []).includes(o));
  if (clash) return new XapiFailure('OTHER_OPERATION_IN_PROGRESS', ['VM', vm, clash[1], clash[0]]);
  if (r['is_a_template'] && !r['is_a_snapshot'] && !TEMPLATE_OK.has(op)) return new XapiFailure('VM_IS_TEMPLATE', [vm, op]);
  if (r['is_a_snapshot'] && !SNAPSHOT_OK.has(op)) return new XapiFailure('VM_IS_SNAPSHOT', [vm, op]);
  const hasVgpu = (r['VGPUs'] as string[]).length > 0;
  if (hasVgpu && VGPU_BLOCKS.has(op)) {
    // Cold exceptions: migrate_send of a Halted VM, checkpoint of a Suspended one.
    const cold = (op === 'migrate_send' && power === 'Halted') || (op === 'checkpoint' && power === 'Suspended');
    if (!cold) return new XapiFailure('VM_HAS_VGPU', [vm]);
  }
  if (power === 'Running' && NEEDS_TOOLS.has(op) && !hasTools(sim, vm)) return new XapiFailure('VM_MISSING_PV_DRIVERS', [vm]);
  return undefined;
}

function hasTools(sim: Sim, vm: string): boolean {
  return sim.store.rec('VM', vm)['guest_metrics'] !== NULL_REF;
}

export function assertOperation(sim: Sim, vm: string, op: string, ownKey?: string): void {
  const f = checkOperation(sim, vm, op, ownKey);
  if (f) throw f;
}

export function refreshAllowed(sim: Sim, vm: string): void {
  if (!sim.store.has('VM', vm)) return;
  sim.store.update('VM', vm, { allowed_operations: OPS.filter((op) => !checkOperation(sim, vm, op)) });
}

/**
 * Runs one VM operation: its checks, then current_operations[task] = op while ctx.work() runs
 * (the task's delay, where a cancel lands), then the checks again and the effects. A failure or
 * a cancel anywhere leaves the VM as it was.
 */
async function operate<T>(sim: Sim, ctx: Ctx, vm: string, op: string, prepare: () => void, effect: () => T, undo: () => void = () => undefined): Promise<T> {
  const key = ctx.task ?? newRef();
  assertOperation(sim, vm, op, key);
  prepare();
  const { store } = sim;
  store.update('VM', vm, { current_operations: { ...(store.rec('VM', vm)['current_operations'] as Rec), [key]: op } });
  refreshAllowed(sim, vm);
  try {
    await ctx.work();
    await behaviour(sim, ctx, vm, op);
    assertOperation(sim, vm, op, key);
  } catch (e) {
    undo();
    throw e;
  } finally {
    if (store.has('VM', vm)) {
      const ops = { ...(store.rec('VM', vm)['current_operations'] as Rec) };
      delete ops[key];
      store.update('VM', vm, { current_operations: ops });
    }
  }
  const out = effect();
  refreshAllowed(sim, vm);
  refreshMemory(sim);
  return out;
}

/** Test hooks (§6.7, §6.10): a clean shutdown that hangs until the VM stops otherwise or the task is cancelled, or fails. */
async function behaviour(sim: Sim, ctx: Ctx, vm: string, op: string): Promise<void> {
  if (op !== 'clean_shutdown' && op !== 'clean_reboot') return;
  const mode = sim.store.find(vm)?.hidden['cleanShutdown'];
  if (mode === 'fail') throw new XapiFailure('VM_MISSING_PV_DRIVERS', [vm]);
  if (mode !== 'hang') return;
  const power = sim.store.rec('VM', vm)['power_state'];
  await new Promise<void>((resolve) => {
    const check = (): void => {
      const row = sim.store.find(vm);
      const task = ctx.task ? sim.store.find(ctx.task) : undefined;
      if (!row || row.rec['power_state'] !== power || task?.hidden['cancel'] === true || sim.stopped) {
        off();
        resolve();
      }
    };
    const off = sim.store.onChange(check);
  });
  if (ctx.task && sim.store.find(ctx.task)?.hidden['cancel'] === true) throw new XapiFailure('TASK_CANCELLED', [ctx.task]);
}

// ---- placement ----------------------------------------------------------------------------------

/**
 * xapi_vm_helpers assert_can_see_SRs: every non-empty VBD's VDI (and a suspended VM's suspend VDI)
 * must be on an SR with a currently attached PBD on HOST, else VM_REQUIRES_SR [vm, first such SR].
 * A disk on one host's local SR keeps its VM on that host. VDI_MAP (storage motion) says where a
 * VDI will be instead.
 */
export function assertCanSeeSrs(sim: Sim, vm: string, host: string, vdiMap: Rec = {}): void {
  const { store } = sim;
  const r = store.rec('VM', vm);
  const vdis = (r['VBDs'] as string[]).map((b) => store.rec('VBD', b)).filter((b) => b['empty'] !== true && store.has('VDI', b['VDI'])).map((b) => b['VDI'] as string);
  const suspend = r['power_state'] === 'Suspended' && store.has('VDI', r['suspend_VDI']) ? [r['suspend_VDI'] as string] : [];
  for (const vdi of [...vdis, ...suspend]) {
    const sr = (vdiMap[vdi] as string | undefined) ?? (store.rec('VDI', vdi)['SR'] as string);
    if (!hostsSeeing(sim, sr).includes(host)) throw new XapiFailure('VM_REQUIRES_SR', [vm, sr]);
  }
}

/** assert_can_boot_here in xapi's order: SRs, live, enabled, GPUs, memory, pCPUs (§2.3). */
export function assertCanBootHere(sim: Sim, vm: string, host: string, vdiMap: Rec = {}): void {
  const { store } = sim;
  const h = store.rec('host', host);
  const r = store.rec('VM', vm);
  assertCanSeeSrs(sim, vm, host, vdiMap);
  if (!hostIsLive(sim, host)) throw new XapiFailure('HOST_NOT_LIVE', []);
  if (!h['enabled']) throw new XapiFailure('HOST_DISABLED', [host]);
  assertGpusAvailable(sim, vm, host);
  const needed = (r['memory_dynamic_min'] as number) + (r['memory_overhead'] as number);
  const self = r['resident_on'] === host ? (r['memory_target'] as number) + (r['memory_overhead'] as number) : 0;
  const available = freeMemory(sim, host) + self;
  if (needed > available) throw new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', [needed, available]);
  const pcpus = (h['host_CPUs'] as string[]).length;
  if ((r['VCPUs_at_startup'] as number) > pcpus) throw new XapiFailure('HOST_NOT_ENOUGH_PCPUS', [r['VCPUs_at_startup'] as number, pcpus]);
}

export function canBootHere(sim: Sim, vm: string, host: string): boolean {
  try {
    assertCanBootHere(sim, vm, host);
    return true;
  } catch {
    return false;
  }
}

/** choose_host_for_vm: GPU-ranked groups first (§2.3), within a group the affinity host, then pool order. */
function chooseHost(sim: Sim, vm: string): string {
  const affinity = sim.store.rec('VM', vm)['affinity'] as string;
  const hosts = sim.store.all('host').map((h) => h.ref);
  for (const group of rankHostsForVgpu(sim, vm, hosts)) {
    const ordered = [...group].sort((a, b) => Number(b === affinity) - Number(a === affinity));
    const h = ordered.find((x) => canBootHere(sim, vm, x));
    if (h) return h;
  }
  throw new XapiFailure('NO_HOSTS_AVAILABLE', []);
}

// ---- effects -----------------------------------------------------------------------------------

let nextDomid = 1;

function makeConsole(sim: Sim, vm: string, host: string): void {
  const { store } = sim;
  const c = store.create('console', { protocol: 'rfb', VM: vm, location: '' });
  store.update('console', c, { location: `https://${store.rec('host', host)['address'] as string}/console?uuid=${store.rec('console', c)['uuid'] as string}` });
  store.addToSet('VM', vm, 'consoles', c);
}

function dropConsoles(sim: Sim, vm: string): void {
  for (const c of sim.store.rec('VM', vm)['consoles'] as string[]) if (sim.store.has('console', c)) sim.store.destroy('console', c);
  sim.store.update('VM', vm, { consoles: [] });
}

/** The guest's PV tools come up or go away (test control); a running VM's guest_metrics follow at once. */
export function setTools(sim: Sim, vm: string, tools: boolean): void {
  sim.store.find(vm)!.hidden['tools'] = tools;
  const running = ['Running', 'Paused'].includes(sim.store.rec('VM', vm)['power_state'] as string);
  if (tools && running) guestMetrics(sim, vm);
  if (!tools) dropGuestMetrics(sim, vm);
  refreshAllowed(sim, vm);
}

function guestMetrics(sim: Sim, vm: string): void {
  const { store } = sim;
  if (!store.find(vm)!.hidden['tools'] || store.rec('VM', vm)['guest_metrics'] !== NULL_REF) return;
  const gm = store.create('VM_guest_metrics', {
    os_version: { name: 'Debian GNU/Linux 12 (bookworm)', distro: 'debian', major: '12', minor: '0', uname: '6.1.0-18-amd64' },
    PV_drivers_version: { major: '8', minor: '2', micro: '1', build: '1' }, PV_drivers_up_to_date: true, PV_drivers_detected: true, live: true,
    networks: { '0/ip': '10.0.0.2', '0/ipv4/0': '10.0.0.2' },
    other: { 'feature-shutdown': '1', 'feature-poweroff': '1', 'feature-reboot': '1', 'feature-suspend': '1', 'feature-balloon': '1', 'feature-vcpu-hotplug': '1', 'has-vendor-device': '0' },
    can_use_hotplug_vbd: 'yes', can_use_hotplug_vif: 'yes', last_updated: new XDate(new Date()),
  });
  store.update('VM', vm, { guest_metrics: gm });
}

function dropGuestMetrics(sim: Sim, vm: string): void {
  const gm = sim.store.rec('VM', vm)['guest_metrics'] as string;
  if (sim.store.has('VM_guest_metrics', gm)) sim.store.destroy('VM_guest_metrics', gm);
  sim.store.update('VM', vm, { guest_metrics: NULL_REF });
}

/** The VM comes up on `host` (start, resume, an HA restart). */
export function bootOn(sim: Sim, vm: string, host: string, paused: boolean): void {
  const { store } = sim;
  const r = store.rec('VM', vm);
  const free = freeMemory(sim, host) + (r['scheduled_to_be_resident_on'] === host ? (r['memory_dynamic_min'] as number) + (r['memory_overhead'] as number) : 0);
  const target = Math.max(r['memory_dynamic_min'] as number, Math.min(r['memory_dynamic_max'] as number, free - (r['memory_overhead'] as number)));
  store.update('VM', vm, { power_state: paused ? 'Paused' : 'Running', resident_on: host, scheduled_to_be_resident_on: NULL_REF, domid: nextDomid++, memory_target: target });
  store.addToSet('host', host, 'resident_VMs', vm);
  store.update('VM_metrics', r['metrics'] as string, { VCPUs_number: r['VCPUs_at_startup'], memory_actual: target, start_time: new XDate(new Date()), state: [paused ? 'paused' : 'running'], last_updated: new XDate(new Date()) });
  attachVgpus(sim, vm);
  plugVbds(sim, vm, true);
  makeConsole(sim, vm, host);
  guestMetrics(sim, vm);
}

/** A domain's devices come and go with it: its VBDs (named xvdX by userdevice) and its VIFs. */
function plugVbds(sim: Sim, vm: string, attached: boolean): void {
  for (const vbd of sim.store.rec('VM', vm)['VBDs'] as string[]) sim.store.update('VBD', vbd, { currently_attached: attached, device: attached ? `xvd${String.fromCharCode(97 + Number(sim.store.rec('VBD', vbd)['userdevice']))}` : '' });
  for (const vif of sim.store.rec('VM', vm)['VIFs'] as string[]) sim.store.update('VIF', vif, { currently_attached: attached });
}

/** The VM's domain goes away (shutdown, suspend, a dead host). */
export function haltDomain(sim: Sim, vm: string, to: Power): void {
  const { store } = sim;
  const r = store.rec('VM', vm);
  const host = r['resident_on'] as string;
  if (store.has('host', host)) store.removeFromSet('host', host, 'resident_VMs', vm);
  store.update('VM', vm, { power_state: to, resident_on: NULL_REF, scheduled_to_be_resident_on: NULL_REF, domid: -1, memory_target: 0 });
  store.update('VM_metrics', r['metrics'] as string, { VCPUs_number: 0, memory_actual: 0, state: [], last_updated: new XDate(new Date()) });
  dropConsoles(sim, vm);
  dropGuestMetrics(sim, vm);
  releaseVgpus(sim, vm);
  plugVbds(sim, vm, false);
}

function reboot(sim: Sim, vm: string): void {
  const { store } = sim;
  const r = store.rec('VM', vm);
  store.update('VM', vm, { domid: nextDomid++, power_state: 'Running' });
  store.update('VM_metrics', r['metrics'] as string, { start_time: new XDate(new Date()), state: ['running'] });
}

/** Copies a VM into a new one (snapshot, checkpoint, clone, copy; xapi_vm_clone.ml): its disks, VIFs and vGPUs too. */
function copyVm(sim: Sim, vm: string, name: string, kind: 'snapshot' | 'checkpoint' | 'clone' | 'copy', sr?: string): string {
  const { store } = sim;
  const src = store.rec('VM', vm);
  const rec = copyRecord(src);
  for (const f of ['uuid', 'consoles', 'VBDs', 'VIFs', 'VGPUs', 'snapshots', 'children', 'attached_PCIs', 'current_operations', 'allowed_operations', 'metrics', 'guest_metrics']) delete rec[f];
  const snapshot = kind === 'snapshot' || kind === 'checkpoint';
  const metrics = store.create('VM_metrics', { hvm: true, current_domain_type: 'hvm' });
  const other = { ...(src['other_config'] as Record<string, string>) };
  delete other['default_template'];
  Object.assign(rec, {
    name_label: name, power_state: kind === 'checkpoint' && src['power_state'] !== 'Halted' ? 'Suspended' : 'Halted', resident_on: NULL_REF, scheduled_to_be_resident_on: NULL_REF,
    domid: -1, memory_target: 0, metrics, guest_metrics: NULL_REF, is_default_template: false, other_config: other,
    is_a_snapshot: snapshot, is_a_template: snapshot ? true : src['is_a_template'], snapshot_of: snapshot ? vm : NULL_REF,
    snapshot_time: snapshot ? new XDate(new Date()) : XDate.EPOCH, parent: snapshot ? src['parent'] : NULL_REF, suspend_VDI: NULL_REF,
  });
  const copy = store.create('VM', rec, { tools: store.find(vm)!.hidden['tools'], cleanShutdown: store.find(vm)!.hidden['cleanShutdown'] });
  for (const vbd of src['VBDs'] as string[]) {
    const b = store.rec('VBD', vbd);
    if (b['type'] !== 'Disk') {
      // A CD drive is copied with the medium it holds (xapi copies disks, never an ISO's VDI).
      const fields: Rec = { ...copyRecord(b), VM: copy, currently_attached: false, device: '' };
      delete fields['uuid'];
      const cd = store.create('VBD', fields);
      store.addToSet('VM', copy, 'VBDs', cd);
      if (b['empty'] !== true && store.has('VDI', b['VDI'])) store.addToSet('VDI', b['VDI'] as string, 'VBDs', cd);
      continue;
    }
    const vdi = store.rec('VDI', b['VDI']);
    const made = addDisk(sim, copy, sr && sr !== NULL_REF ? sr : (vdi['SR'] as string), vdi['virtual_size'] as number, vdi['name_label'] as string);
    store.update('VBD', made, { userdevice: b['userdevice'], bootable: b['bootable'], mode: b['mode'] });
    const madeVdi = store.rec('VBD', made)['VDI'] as string;
    // What the disk holds (an imported image's digest) goes with its copy.
    Object.assign(store.row('VDI', madeVdi).hidden, { sha256: store.row('VDI', b['VDI']).hidden['sha256'], bytes: store.row('VDI', b['VDI']).hidden['bytes'] });
    if (snapshot) {
      const newVdi = madeVdi;
      store.update('VDI', newVdi, { is_a_snapshot: true, snapshot_of: b['VDI'], snapshot_time: new XDate(new Date()) });
      store.addToSet('VDI', b['VDI'] as string, 'snapshots', newVdi);
    }
  }
  for (const vif of src['VIFs'] as string[]) {
    const v = store.rec('VIF', vif);
    addVif(sim, copy, v['network'] as string, v['device'] as string);
  }
  for (const vg of src['VGPUs'] as string[]) {
    const g = store.rec('VGPU', vg);
    createVgpu(sim, copy, g['GPU_group'] as string, g['device'] as string, g['type'] as string, { ...(g['other_config'] as Record<string, string>) });
  }
  if (snapshot) {
    store.addToSet('VM', vm, 'snapshots', copy);
    const oldParent = src['parent'] as string;
    if (store.has('VM', oldParent)) {
      store.removeFromSet('VM', oldParent, 'children', vm);
      store.addToSet('VM', oldParent, 'children', copy);
    }
    store.update('VM', vm, { parent: copy });
    store.addToSet('VM', copy, 'children', vm);
    if (kind === 'checkpoint' && src['power_state'] !== 'Halted') addSuspendVdi(sim, copy);
  }
  refreshAllowed(sim, copy);
  return copy;
}

function addSuspendVdi(sim: Sim, vm: string): void {
  const { store } = sim;
  const sr = store.rec('pool', sim.pool)['suspend_image_SR'] as string;
  const r = store.rec('VM', vm);
  const vdi = store.create('VDI', { name_label: `Suspend image for ${r['name_label'] as string}`, SR: sr, type: 'suspend', virtual_size: r['memory_static_max'], managed: true, on_boot: 'persist' });
  store.addToSet('SR', sr, 'VDIs', vdi);
  refreshSr(sim, sr);
  store.update('VM', vm, { suspend_VDI: vdi });
}

function dropSuspendVdi(sim: Sim, vm: string): void {
  const { store } = sim;
  const vdi = store.rec('VM', vm)['suspend_VDI'] as string;
  if (store.has('VDI', vdi)) {
    const sr = store.rec('VDI', vdi)['SR'] as string;
    store.removeFromSet('SR', sr, 'VDIs', vdi);
    store.destroy('VDI', vdi);
    refreshSr(sim, sr);
  }
  store.update('VM', vm, { suspend_VDI: NULL_REF });
}

/** VM.destroy: the VM and its VBDs, VIFs, vGPUs, consoles and metrics; its VDIs stay (xapi's destroy keeps disks). */
function destroyVm(sim: Sim, vm: string): void {
  const { store } = sim;
  const r = store.rec('VM', vm);
  dropSuspendVdi(sim, vm);
  dropConsoles(sim, vm);
  dropGuestMetrics(sim, vm);
  for (const vg of r['VGPUs'] as string[]) destroyVgpu(sim, vg);
  for (const vbd of r['VBDs'] as string[]) {
    const vdi = store.rec('VBD', vbd)['VDI'] as string;
    if (store.has('VDI', vdi)) store.removeFromSet('VDI', vdi, 'VBDs', vbd);
    store.destroy('VBD', vbd);
  }
  for (const vif of r['VIFs'] as string[]) {
    store.removeFromSet('network', store.rec('VIF', vif)['network'] as string, 'VIFs', vif);
    store.destroy('VIF', vif);
  }
  if (store.has('VM_metrics', r['metrics'])) store.destroy('VM_metrics', r['metrics'] as string);
  const of = r['snapshot_of'] as string;
  if (store.has('VM', of)) store.removeFromSet('VM', of, 'snapshots', vm);
  const parent = r['parent'] as string;
  if (store.has('VM', parent)) store.removeFromSet('VM', parent, 'children', vm);
  // Its children move up to its parent, so the snapshot tree stays connected.
  for (const child of r['children'] as string[]) {
    if (!store.has('VM', child)) continue;
    store.update('VM', child, { parent });
    if (store.has('VM', parent)) store.addToSet('VM', parent, 'children', child);
  }
  store.destroy('VM', vm);
}

// ---- across pools ------------------------------------------------------------------------------

/** What a source pool hands the destination: the VM's record, its disks and VIFs mapped to the destination's SRs and networks. */
interface Incoming {
  session: string;
  host: string;
  check: boolean;
  vm: Rec;
  hidden: Rec;
  disks: Array<{ sr: string; rec: Rec; hidden: Rec; userdevice: string; bootable: boolean; mode: string; type: string }>;
  vifs: Array<{ network: string; device: string; MAC: string }>;
}

const CARRIED_VM_FIELDS = ['uuid', 'name_label', 'name_description', 'power_state', 'memory_static_min', 'memory_static_max', 'memory_dynamic_min', 'memory_dynamic_max', 'VCPUs_max', 'VCPUs_at_startup', 'other_config', 'platform', 'HVM_boot_policy', 'HVM_boot_params', 'domain_type', 'user_version', 'tags'];

/** The Incoming for a VM; every disk VDI must be in vdi_map and every VIF in vif_map (xapi: VDI_NOT_IN_MAP, VIF_NOT_IN_MAP). */
function outgoing(sim: Sim, vm: string, dest: Rec, vdiMap: Rec, vifMap: Rec, check: boolean): Incoming {
  const { store } = sim;
  const r = store.rec('VM', vm);
  const disks = (r['VBDs'] as string[]).map((b) => store.rec('VBD', b)).filter((b) => b['type'] === 'Disk' && store.has('VDI', b['VDI'])).map((b) => {
    const vdi = b['VDI'] as string;
    if (typeof vdiMap[vdi] !== 'string') throw new XapiFailure('VDI_NOT_IN_MAP', [vdi]);
    return { sr: vdiMap[vdi] as string, rec: copyRecord(store.rec('VDI', vdi)), hidden: { ...store.find(vdi)!.hidden }, userdevice: b['userdevice'] as string, bootable: b['bootable'] as boolean, mode: b['mode'] as string, type: b['type'] as string };
  });
  const vifs = (r['VIFs'] as string[]).map((v) => {
    if (typeof vifMap[v] !== 'string') throw new XapiFailure('VIF_NOT_IN_MAP', [v]);
    const rec = store.rec('VIF', v);
    return { network: vifMap[v] as string, device: rec['device'] as string, MAC: rec['MAC'] as string };
  });
  const vmRec = Object.fromEntries(CARRIED_VM_FIELDS.map((k) => [k, r[k]]));
  return { session: String(dest['session_id'] ?? ''), host: String(dest['host'] ?? ''), check, vm: vmRec, hidden: { ...store.find(vm)!.hidden }, disks, vifs };
}

/** The destination pool's JSON-RPC at dest.master, in the session migrate_receive gave; its API errors come back as ours. */
async function callDestination(dest: Rec, m: Incoming): Promise<string> {
  const master = dest['master'];
  if (typeof master !== 'string' || !master) throw new XapiFailure('INVALID_VALUE', ['dest', JSON.stringify(dest)]);
  try {
    return await jsonCall<string>(master, '_sim.receive_migration', [m.session, m]);
  } catch (e) {
    if (e instanceof SimError) throw new XapiFailure(e.code, e.description.slice(1));
    throw new XapiFailure('INTERNAL_ERROR', [`cannot reach the destination pool at ${master}: ${e instanceof Error ? e.message : String(e)}`]);
  }
}

async function migrateAcross(sim: Sim, ctx: Ctx, vm: string, dest: Rec, vdiMap: Rec, vifMap: Rec): Promise<string> {
  const { store } = sim;
  let made = '';
  // The VM holds migrate_send for the whole of it, as xapi's message forwarding marks the
  // operation before the implementation runs: the destination's checks, the copy (progress moves
  // meanwhile), the VM appearing there; it leaves here right after, in the same step.
  const whole: Ctx = {
    ...ctx,
    work: async () => {
      await callDestination(dest, outgoing(sim, vm, dest, vdiMap, vifMap, true));
      await ctx.work();
      made = await callDestination(dest, outgoing(sim, vm, dest, vdiMap, vifMap, false));
    },
  };
  await operate(sim, whole, vm, 'migrate_send', () => undefined, () => '');
  const r = store.rec('VM', vm);
  const host = r['resident_on'] as string;
  if (store.has('host', host)) store.removeFromSet('host', host, 'resident_VMs', vm);
  const vdis = (r['VBDs'] as string[]).map((b) => store.rec('VBD', b)).filter((b) => b['type'] === 'Disk').map((b) => b['VDI'] as string).filter((v) => store.has('VDI', v));
  destroyVm(sim, vm);
  for (const vdi of vdis) {
    const sr = store.rec('VDI', vdi)['SR'] as string;
    store.removeFromSet('SR', sr, 'VDIs', vdi);
    store.destroy('VDI', vdi);
    refreshSr(sim, sr);
  }
  refreshMemory(sim);
  return made;
}

function receiveMigration(sim: Sim, m: Incoming): string {
  const { store } = sim;
  store.row('host', m.host);
  if (!hostIsLive(sim, m.host)) throw new XapiFailure('HOST_NOT_LIVE', []);
  for (const d of m.disks) store.row('SR', d.sr);
  for (const v of m.vifs) store.row('network', v.network);
  const running = m.vm['power_state'] === 'Running';
  const needed = Number(m.vm['memory_static_max']) + vmOverhead(Number(m.vm['memory_static_max']), Number(m.vm['VCPUs_max']));
  if (running && freeMemory(sim, m.host) < needed) throw new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', [String(needed), String(freeMemory(sim, m.host))]);
  if (m.check) return '';
  const memory = Number(m.vm['memory_static_max']);
  const vm = createVm(sim, { name_label: String(m.vm['name_label']), memory, vcpus: Number(m.vm['VCPUs_at_startup']), vcpusMax: Number(m.vm['VCPUs_max']), tools: m.hidden['tools'] !== false });
  const { power_state: _power, ...fields } = m.vm;
  store.update('VM', vm, { ...fields, affinity: m.host });
  for (const d of m.disks) {
    const vbd = addDisk(sim, vm, d.sr, Number(d.rec['virtual_size']), String(d.rec['name_label']));
    const vdi = store.rec('VBD', vbd)['VDI'] as string;
    store.update('VDI', vdi, { name_description: d.rec['name_description'] ?? '', other_config: d.rec['other_config'] ?? {}, type: d.rec['type'] ?? 'system', physical_utilisation: d.rec['physical_utilisation'] });
    Object.assign(store.find(vdi)!.hidden, d.hidden);
    store.update('VBD', vbd, { userdevice: d.userdevice, bootable: d.bootable, mode: d.mode, type: d.type });
    refreshSr(sim, d.sr);
  }
  for (const v of m.vifs) store.update('VIF', addVif(sim, vm, v.network, v.device), { MAC: v.MAC });
  if (running) bootOn(sim, vm, m.host, false);
  refreshAllowed(sim, vm);
  refreshMemory(sim);
  return vm;
}

// ---- messages ----------------------------------------------------------------------------------

export function registerVm(sim: Sim): void {
  const { api, store } = sim;
  const vmRow = (vm: unknown): string => store.row('VM', vm).ref;

  const start = (ctx: Ctx, vm: string, paused: boolean, host?: string): Promise<unknown> => {
    let target = '';
    return operate(sim, ctx, vm, host ? 'start_on' : 'start', () => {
      if (host) assertCanBootHere(sim, vm, host);
      target = host ?? chooseHost(sim, vm);
      // Scheduled: its memory and pGPUs are held from here, so concurrent starts cannot double-book.
      scheduleVgpus(sim, vm, target);
      store.update('VM', vm, { scheduled_to_be_resident_on: target });
    }, () => {
      bootOn(sim, vm, target, paused);
      return '';
    }, () => {
      releaseVgpus(sim, vm);
      if (store.has('VM', vm)) store.update('VM', vm, { scheduled_to_be_resident_on: NULL_REF });
    });
  };
  api.def('VM.start', 'vm:ref start_paused:bool force:bool', (ctx, [vm, paused]) => start(ctx, vmRow(vm), paused as boolean), { vmOp: 'start' });
  api.def('VM.start_on', 'vm:ref host:ref start_paused:bool force:bool', (ctx, [vm, host, paused]) => {
    store.row('host', host);
    return start(ctx, vmRow(vm), paused as boolean, host as string);
  }, { vmOp: 'start_on' });
  api.def('VM.assert_can_boot_here', 'self:ref host:ref', (_c, [vm, host]) => {
    store.row('host', host);
    assertCanBootHere(sim, vmRow(vm), host as string);
    return '';
  });
  api.def('VM.get_possible_hosts', 'vm:ref', (_c, [vm]) => store.all('host').map((h) => h.ref).filter((h) => canBootHere(sim, vmRow(vm), h)));
  api.def('VM.assert_operation_valid', 'self:ref op:string', (_c, [vm, op]) => {
    assertOperation(sim, vmRow(vm), op as string);
    return '';
  });

  const stop = (op: string) => (ctx: Ctx, [vm]: unknown[]) => operate(sim, ctx, vmRow(vm), op, () => undefined, () => {
    if (store.rec('VM', vm)['power_state'] === 'Suspended') dropSuspendVdi(sim, vm as string);
    haltDomain(sim, vm as string, 'Halted');
    return '';
  });
  api.def('VM.clean_shutdown', 'vm:ref', stop('clean_shutdown'), { vmOp: 'clean_shutdown' });
  api.def('VM.hard_shutdown', 'vm:ref', stop('hard_shutdown'), { vmOp: 'hard_shutdown' });
  // VM.shutdown: clean, falling back to hard when the guest cannot (no tools, or the hook fails it).
  api.def('VM.shutdown', 'vm:ref', (ctx, args) => {
    const vm = vmRow(args[0]);
    const clean = store.rec('VM', vm)['power_state'] === 'Running' && !checkOperation(sim, vm, 'clean_shutdown') && store.find(vm)!.hidden['cleanShutdown'] !== 'fail';
    return stop(clean ? 'clean_shutdown' : 'hard_shutdown')(ctx, args);
  }, { vmOp: 'shutdown' });
  const rebootOp = (op: string) => (ctx: Ctx, [vm]: unknown[]) => operate(sim, ctx, vmRow(vm), op, () => undefined, () => {
    reboot(sim, vm as string);
    return '';
  });
  api.def('VM.clean_reboot', 'vm:ref', rebootOp('clean_reboot'), { vmOp: 'clean_reboot' });
  api.def('VM.hard_reboot', 'vm:ref', rebootOp('hard_reboot'), { vmOp: 'hard_reboot' });

  api.def('VM.pause', 'vm:ref', (ctx, [vm]) => operate(sim, ctx, vmRow(vm), 'pause', () => undefined, () => {
    store.update('VM', vm as string, { power_state: 'Paused' });
    store.update('VM_metrics', store.rec('VM', vm)['metrics'] as string, { state: ['paused'] });
    return '';
  }), { vmOp: 'pause' });
  api.def('VM.unpause', 'vm:ref', (ctx, [vm]) => operate(sim, ctx, vmRow(vm), 'unpause', () => undefined, () => {
    store.update('VM', vm as string, { power_state: 'Running' });
    store.update('VM_metrics', store.rec('VM', vm)['metrics'] as string, { state: ['running'] });
    return '';
  }), { vmOp: 'unpause' });
  api.def('VM.suspend', 'vm:ref', (ctx, [vm]) => operate(sim, ctx, vmRow(vm), 'suspend', () => undefined, () => {
    haltDomain(sim, vm as string, 'Suspended');
    addSuspendVdi(sim, vm as string);
    return '';
  }), { vmOp: 'suspend' });
  const resume = (ctx: Ctx, vm: string, paused: boolean, host?: string): Promise<unknown> => {
    let target = '';
    return operate(sim, ctx, vm, host ? 'resume_on' : 'resume', () => {
      if (host) assertCanBootHere(sim, vm, host);
      target = host ?? chooseHost(sim, vm);
    }, () => {
      dropSuspendVdi(sim, vm);
      bootOn(sim, vm, target, paused);
      return '';
    });
  };
  api.def('VM.resume', 'vm:ref start_paused:bool force:bool', (ctx, [vm, paused]) => resume(ctx, vmRow(vm), paused as boolean), { vmOp: 'resume' });
  api.def('VM.resume_on', 'vm:ref host:ref start_paused:bool force:bool', (ctx, [vm, host, paused]) => {
    store.row('host', host);
    return resume(ctx, vmRow(vm), paused as boolean, host as string);
  }, { vmOp: 'resume_on' });

  const moveTo = (vm: string, host: string): void => {
    const from = store.rec('VM', vm)['resident_on'] as string;
    if (from === host) return;
    store.removeFromSet('host', from, 'resident_VMs', vm);
    store.addToSet('host', host, 'resident_VMs', vm);
    store.update('VM', vm, { resident_on: host, domid: nextDomid++ });
    for (const c of store.rec('VM', vm)['consoles'] as string[]) {
      store.update('console', c, { location: `https://${store.rec('host', host)['address'] as string}/console?uuid=${store.rec('console', c)['uuid'] as string}` });
    }
  };
  api.def('VM.pool_migrate', 'vm:ref host:ref options:map', (ctx, [vm, host]) => {
    store.row('host', host);
    return operate(sim, ctx, vmRow(vm), 'pool_migrate', () => assertCanBootHere(sim, vm as string, host as string), () => {
      moveTo(vm as string, host as string);
      return '';
    });
  }, { vmOp: 'pool_migrate' });
  const migrateChecks = (vm: string, dest: Rec, vdiMap: Rec, vifMap: Rec, vgpuMap: Rec): string => {
    const host = dest['host'];
    if (typeof host !== 'string' || !store.has('host', host)) throw new XapiFailure('INVALID_VALUE', ['dest', JSON.stringify(dest)]);
    for (const [vdi, sr] of Object.entries(vdiMap)) {
      store.row('VDI', vdi);
      store.row('SR', sr);
    }
    for (const [vif, net] of Object.entries(vifMap)) {
      store.row('VIF', vif);
      store.row('network', net);
    }
    for (const [vg, group] of Object.entries(vgpuMap)) {
      store.row('VGPU', vg);
      store.row('GPU_group', group);
    }
    if (store.rec('VM', vm)['power_state'] === 'Running') assertCanBootHere(sim, vm, host, vdiMap);
    // Halted too: the VM's home moves to host, whose SRs must hold its disks (mapped or not).
    else assertCanSeeSrs(sim, vm, host, vdiMap);
    return host;
  };
  api.def('VM.assert_can_migrate', 'vm:ref dest:map live:bool vdi_map:map vif_map:map options:map vgpu_map:map={}', async (_c, [vm, dest, , vdiMap, vifMap, , vgpuMap]) => {
    assertOperation(sim, vmRow(vm), 'migrate_send');
    if (!store.has('host', (dest as Rec)['host'])) {
      await callDestination(dest as Rec, outgoing(sim, vm as string, dest as Rec, vdiMap as Rec, vifMap as Rec, true));
      return '';
    }
    migrateChecks(vm as string, dest as Rec, vdiMap as Rec, vifMap as Rec, vgpuMap as Rec);
    return '';
  });
  // Within one pool, migrate_send is a move (storage motion moves the VDIs named in vdi_map).
  const moveInPool = (ctx: Ctx, vm: unknown, dest: unknown, vdiMap: unknown, vifMap: unknown, vgpuMap: unknown): Promise<unknown> => {
    let host = '';
    return operate(sim, ctx, vmRow(vm), 'migrate_send', () => (host = migrateChecks(vm as string, dest as Rec, vdiMap as Rec, vifMap as Rec, vgpuMap as Rec)), () => {
      for (const [vdi, sr] of Object.entries(vdiMap as Rec)) {
        const from = store.rec('VDI', vdi)['SR'] as string;
        store.removeFromSet('SR', from, 'VDIs', vdi);
        store.update('VDI', vdi, { SR: sr });
        store.addToSet('SR', sr as string, 'VDIs', vdi);
        refreshSr(sim, from);
        refreshSr(sim, sr as string);
      }
      for (const [vif, net] of Object.entries(vifMap as Rec)) {
        store.removeFromSet('network', store.rec('VIF', vif)['network'] as string, 'VIFs', vif);
        store.update('VIF', vif, { network: net });
        store.addToSet('network', net as string, 'VIFs', vif);
      }
      for (const [vg, group] of Object.entries(vgpuMap as Rec)) store.update('VGPU', vg, { GPU_group: group });
      if (store.rec('VM', vm)['power_state'] === 'Running') moveTo(vm as string, host);
      else store.update('VM', vm as string, { affinity: host });
      return vm;
    });
  };
  // Across pools (dest.host is not ours): the VM, its disks and VIFs go to the pool at dest.master.
  api.def('VM.migrate_send', 'vm:ref dest:map live:bool vdi_map:map vif_map:map options:map vgpu_map:map={}', (ctx, [vm, dest, , vdiMap, vifMap, , vgpuMap]) => {
    if (store.has('host', (dest as Rec)['host'])) return moveInPool(ctx, vm, dest, vdiMap, vifMap, vgpuMap);
    return migrateAcross(sim, ctx, vmRow(vm), dest as Rec, vdiMap as Rec, vifMap as Rec);
  }, { vmOp: 'migrate_send' });
  // The destination's half of a cross-pool migrate_send: checks (check=true), else the VM made here.
  api.def('_sim.receive_migration', 'migration:record', (_c, [m]) => receiveMigration(sim, m as unknown as Incoming));

  api.def('VM.set_VCPUs_number_live', 'self:ref nvcpu:int', (ctx, [vm, n]) => operate(sim, ctx, vmRow(vm), 'changing_VCPUs_live', () => {
    const max = store.rec('VM', vm)['VCPUs_max'] as number;
    if ((n as number) < 1 || (n as number) > max) throw new XapiFailure('INVALID_VALUE', ['nvcpu', n as number]);
  }, () => {
    store.update('VM', vm as string, { VCPUs_at_startup: n });
    store.update('VM_metrics', store.rec('VM', vm)['metrics'] as string, { VCPUs_number: n });
    return '';
  }), { vmOp: 'changing_VCPUs_live' });
  const memoryOrder = (smin: number, dmin: number, dmax: number, smax: number): void => {
    if (!(smin <= dmin && dmin <= dmax && dmax <= smax)) {
      throw new XapiFailure('MEMORY_CONSTRAINT_VIOLATION', ['Memory limits must satisfy: static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max']);
    }
  };
  api.def('VM.set_memory_dynamic_range', 'self:ref min:int max:int', (ctx, [vm, min, max]) => operate(sim, ctx, vmRow(vm), 'changing_dynamic_range', () => {
    const r = store.rec('VM', vm);
    memoryOrder(r['memory_static_min'] as number, min as number, max as number, r['memory_static_max'] as number);
  }, () => {
    const r = store.rec('VM', vm);
    store.update('VM', vm as string, { memory_dynamic_min: min, memory_dynamic_max: max });
    if (r['power_state'] === 'Running') {
      // The balloon moves the target into the new range, as far as the host's free memory allows.
      const room = freeMemory(sim, r['resident_on'] as string) + (r['memory_target'] as number);
      const target = Math.max(min as number, Math.min(max as number, room));
      store.update('VM', vm as string, { memory_target: target });
      store.update('VM_metrics', r['metrics'] as string, { memory_actual: target });
    }
    return '';
  }), { vmOp: 'changing_dynamic_range' });
  api.def('VM.set_memory_limits', 'self:ref static_min:int static_max:int dynamic_min:int dynamic_max:int', (ctx, [vm, smin, smax, dmin, dmax]) => operate(sim, ctx, vmRow(vm), 'changing_memory_limits', () => {
    memoryOrder(smin as number, dmin as number, dmax as number, smax as number);
  }, () => {
    const r = store.rec('VM', vm);
    store.update('VM', vm as string, { memory_static_min: smin, memory_static_max: smax, memory_dynamic_min: dmin, memory_dynamic_max: dmax, memory_overhead: vmOverhead(smax as number, r['VCPUs_max'] as number) });
    return '';
  }), { vmOp: 'changing_memory_limits' });
  api.def('VM.set_memory', 'self:ref value:int', (ctx, [vm, value]) => operate(sim, ctx, vmRow(vm), 'changing_memory_limits', () => {
    memoryOrder(store.rec('VM', vm)['memory_static_min'] as number, value as number, value as number, value as number);
  }, () => {
    const r = store.rec('VM', vm);
    store.update('VM', vm as string, { memory_static_max: value, memory_dynamic_min: value, memory_dynamic_max: value, memory_overhead: vmOverhead(value as number, r['VCPUs_max'] as number) });
    return '';
  }), { vmOp: 'changing_memory_limits' });
  api.def('VM.set_VCPUs_max', 'self:ref value:int', (ctx, [vm, value]) => operate(sim, ctx, vmRow(vm), 'changing_VCPUs', () => {
    if ((value as number) < (store.rec('VM', vm)['VCPUs_at_startup'] as number)) throw new XapiFailure('INVALID_VALUE', ['VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max', value as number]);
  }, () => {
    store.update('VM', vm as string, { VCPUs_max: value, memory_overhead: vmOverhead(store.rec('VM', vm)['memory_static_max'] as number, value as number) });
    return '';
  }), { vmOp: 'changing_VCPUs' });
  api.def('VM.set_VCPUs_at_startup', 'self:ref value:int', (ctx, [vm, value]) => operate(sim, ctx, vmRow(vm), 'changing_VCPUs', () => {
    if ((value as number) < 1 || (value as number) > (store.rec('VM', vm)['VCPUs_max'] as number)) throw new XapiFailure('INVALID_VALUE', ['VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max', value as number]);
  }, () => {
    store.update('VM', vm as string, { VCPUs_at_startup: value });
    return '';
  }), { vmOp: 'changing_VCPUs' });

  api.def('VM.snapshot', 'vm:ref new_name:string ignore_vdis:set=[]', (ctx, [vm, name]) => operate(sim, ctx, vmRow(vm), 'snapshot', () => undefined, () => copyVm(sim, vm as string, name as string, 'snapshot')), { vmOp: 'snapshot' });
  api.def('VM.checkpoint', 'vm:ref new_name:string', (ctx, [vm, name]) => operate(sim, ctx, vmRow(vm), 'checkpoint', () => undefined, () => copyVm(sim, vm as string, name as string, 'checkpoint')), { vmOp: 'checkpoint' });
  api.def('VM.clone', 'vm:ref new_name:string', (ctx, [vm, name]) => operate(sim, ctx, vmRow(vm), 'clone', () => undefined, () => copyVm(sim, vm as string, name as string, 'clone')), { vmOp: 'clone' });
  api.def('VM.copy', 'vm:ref new_name:string sr:ref', (ctx, [vm, name, sr]) => operate(sim, ctx, vmRow(vm), 'copy', () => {
    if (sr !== NULL_REF) store.row('SR', sr);
  }, () => copyVm(sim, vm as string, name as string, 'copy', sr as string)), { vmOp: 'copy' });
  api.def('VM.revert', 'snapshot:ref', (ctx, [snap]) => {
    const s = store.rec('VM', snap);
    if (!s['is_a_snapshot']) throw new XapiFailure('ONLY_REVERT_SNAPSHOT', []);
    const vm = store.row('VM', s['snapshot_of']).ref;
    return operate(sim, ctx, vm, 'revert', () => undefined, () => {
      const r = store.rec('VM', vm);
      // A running VM is stopped first; then it takes the snapshot's settings, disks and power state.
      if (r['power_state'] !== 'Halted') {
        if (r['power_state'] === 'Suspended') dropSuspendVdi(sim, vm);
        else haltDomain(sim, vm, 'Halted');
      }
      const keep = ['memory_static_min', 'memory_static_max', 'memory_dynamic_min', 'memory_dynamic_max', 'memory_overhead', 'VCPUs_max', 'VCPUs_at_startup', 'VCPUs_params', 'platform', 'HVM_boot_params', 'HVM_boot_policy', 'name_description', 'other_config'];
      store.update('VM', vm, Object.fromEntries(keep.map((k) => [k, copyRecord(s)[k]])));
      for (const vbd of store.rec('VM', vm)['VBDs'] as string[]) {
        const vdi = store.rec('VBD', vbd)['VDI'] as string;
        if (store.has('VDI', vdi)) store.removeFromSet('VDI', vdi, 'VBDs', vbd);
        store.destroy('VBD', vbd);
      }
      store.update('VM', vm, { VBDs: [] });
      for (const vbd of s['VBDs'] as string[]) {
        const vdi = store.rec('VDI', store.rec('VBD', vbd)['VDI']);
        addDisk(sim, vm, vdi['SR'] as string, vdi['virtual_size'] as number, vdi['name_label'] as string);
      }
      if (s['power_state'] === 'Suspended') {
        store.update('VM', vm, { power_state: 'Suspended' });
        addSuspendVdi(sim, vm);
      }
      const oldParent = r['parent'] as string;
      if (store.has('VM', oldParent)) store.removeFromSet('VM', oldParent, 'children', vm);
      store.update('VM', vm, { parent: snap });
      store.addToSet('VM', snap as string, 'children', vm);
      return '';
    });
  }, { vmOp: 'revert' });
  api.def('VM.provision', 'vm:ref', (ctx, [vm]) => operate(sim, ctx, vmRow(vm), 'provision', () => undefined, () => {
    if ((store.rec('VM', vm)['VBDs'] as string[]).length === 0) {
      addDisk(sim, vm as string, store.rec('pool', sim.pool)['default_SR'] as string, 8 * GiB, `${store.rec('VM', vm)['name_label'] as string} 0`);
    }
    return '';
  }), { vmOp: 'provision' });
  api.def('VM.destroy', 'self:ref', (ctx, [vm]) => operate(sim, ctx, vmRow(vm), 'destroy', () => undefined, () => {
    destroyVm(sim, vm as string);
    return '';
  }), { vmOp: 'destroy' });
  api.def('VM.create', 'args:record', (_c, [args]) => {
    const a = args as Rec;
    const memory = Number(a['memory_static_max'] ?? 1 * GiB);
    const vm = createVm(sim, { name_label: String(a['name_label'] ?? ''), memory, vcpus: Number(a['VCPUs_at_startup'] ?? 1), vcpusMax: Number(a['VCPUs_max'] ?? a['VCPUs_at_startup'] ?? 1) });
    const settable = ['name_description', 'memory_static_min', 'memory_dynamic_min', 'memory_dynamic_max', 'other_config', 'platform', 'HVM_boot_policy', 'HVM_boot_params', 'affinity', 'tags', 'is_a_template', 'VCPUs_params', 'actions_after_shutdown', 'actions_after_reboot', 'actions_after_crash', 'domain_type', 'user_version'];
    store.update('VM', vm, Object.fromEntries(settable.filter((k) => a[k] !== undefined).map((k) => [k, a[k]])));
    refreshAllowed(sim, vm);
    return vm;
  });
}

/** One fixture VM: a disk on the shared SR, a VIF, its vGPU, and booted on its host unless Halted. */
export function addFixtureVm(sim: Sim, seeded: Seeded, spec: VmFixture): string {
  const { store } = sim;
  const vm = createVm(sim, { name_label: spec.name, memory: (spec.memoryMiB ?? 1024) * MiB, vcpus: spec.vcpus ?? 1, vcpusMax: spec.vcpusMax ?? Math.max(spec.vcpus ?? 1, 4), template: spec.template, tools: spec.tools ?? true });
  addDisk(sim, vm, seeded.sharedSr, 10 * GiB, `${spec.name} 0`);
  addVif(sim, vm, seeded.network);
  if (spec.vgpu) {
    const type = store.all('VGPU_type').find((t) => t.rec['model_name'] === spec.vgpu);
    const group = type && store.all('GPU_group').find((g) => (g.rec['supported_VGPU_types'] as string[]).includes(type.ref));
    if (!type || !group) throw new Error(`fixture VM ${spec.name}: no GPU group supports ${spec.vgpu}`);
    createVgpu(sim, vm, group.ref, '0', type.ref, {});
  }
  const power = spec.power_state ?? 'Halted';
  if (power !== 'Halted') {
    const host = seeded.hosts[spec.host ?? 0]!;
    assertCanBootHere(sim, vm, host);
    scheduleVgpus(sim, vm, host);
    bootOn(sim, vm, host, power === 'Paused');
    if (power === 'Suspended') {
      haltDomain(sim, vm, 'Suspended');
      addSuspendVdi(sim, vm);
    }
  }
  refreshAllowed(sim, vm);
  refreshMemory(sim);
  return vm;
}

export function seedVms(sim: Sim, seeded: Seeded, fixture: Fixture): void {
  for (const row of sim.store.all('VM')) refreshAllowed(sim, row.ref);
  for (const spec of fixture.vms ?? []) addFixtureVm(sim, seeded, spec);
}

export function afterVmSet(sim: Sim, cls: string, ref: string): void {
  if (cls === 'VM') refreshAllowed(sim, ref);
}

/** VDI.destroy: refused while a running VM has it plugged (VDI_IN_USE [vdi, "destroy"]); its unplugged VBDs go with it. */
export function registerVdi(sim: Sim): void {
  const { api, store } = sim;
  api.def('VDI.destroy', 'self:ref', (_c, [vdi]) => {
    const r = store.rec('VDI', vdi);
    const vbds = r['VBDs'] as string[];
    if (vbds.some((b) => store.rec('VBD', b)['currently_attached'] === true)) throw new XapiFailure('VDI_IN_USE', [vdi as string, 'destroy']);
    for (const b of vbds) {
      const owner = store.rec('VBD', b)['VM'] as string;
      if (store.has('VM', owner)) store.removeFromSet('VM', owner, 'VBDs', b);
      store.destroy('VBD', b);
    }
    if (store.has('SR', r['SR'])) store.removeFromSet('SR', r['SR'] as string, 'VDIs', vdi as string);
    const sr = r['SR'] as string;
    for (const snap of r['snapshots'] as string[]) if (store.has('VDI', snap)) store.update('VDI', snap, { snapshot_of: NULL_REF });
    if (store.has('VDI', r['snapshot_of'])) store.removeFromSet('VDI', r['snapshot_of'] as string, 'snapshots', vdi as string);
    store.destroy('VDI', vdi as string);
    if (store.has('SR', sr)) refreshSr(sim, sr);
    return '';
  });
}
