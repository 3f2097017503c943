/**
 * Moving a running VM inside the pool (R20): VM.pool_migrate to another host (live), or, with
 * disks to move, VM.migrate_send with a VDI→SR map (storage motion, xapi's "Storage XenMotion")
 * to the destination's host.migrate_receive. Two phases as the contract has them: prepare checks
 * the destination against the inventory (nothing sent), perform runs the task. The VM's affinity
 * moves with it, so once it halts it still lives on the host it last ran on.
 */
import { DriverError, type MigrationResult, type OperationOptions, type VmSpec } from '../types.js';
import { mapped } from './errors.js';
import type { XenPool } from './pool.js';
import { disksOf } from './vm-disks.js';
import { label, runTask } from './vm-lifecycle.js';
import { XapiConnectionError } from './xapi/errors.js';
import type { VmRecord, XRef } from './xapi/records.js';

export interface MigrationPlan {
  host: XRef;
  /** VDI ref → SR ref (storage motion); empty: the disks stay. */
  vdis: Record<XRef, XRef>;
}

/** A destination host: in the pool, live and enabled. */
function readyHost(pool: XenPool, host: XRef): NonNullable<ReturnType<XenPool['host']>> {
  const dest = pool.host(host);
  if (!dest) throw new DriverError(`host ${host} is not in the pool`, 'not-found');
  if (!pool.hostLive(host)) throw new DriverError(`host ${dest.name_label} is not live`, 'unreachable');
  if (!dest.enabled) throw new DriverError(`host ${dest.name_label} is disabled (maintenance)`, 'invalid');
  return dest;
}

export async function prepareMigration(pool: XenPool, vm: XRef, host: XRef, diskPools: Record<string, string>, diskRefs: Record<string, string | undefined>): Promise<MigrationPlan> {
  const v = pool.vm(vm);
  if (!v) throw new DriverError(`VM ${vm} does not exist in the pool`, 'not-found');
  const name = v.name_label;
  pool.assertReachable(`migrating ${name}`);
  const dest = readyHost(pool, host);
  if (v.power_state !== 'Running') throw new DriverError(`${name} is ${v.power_state.toLowerCase()}; only a running VM migrates live`, 'invalid');
  const vdis: Record<XRef, XRef> = {};
  const disks = Object.keys(diskPools).length > 0 ? await disksOf(pool, vm) : [];
  for (const [diskName, sr] of Object.entries(diskPools)) {
    const srRef = srOf(pool, sr);
    if (!srRef) throw new DriverError(`no storage repository ${JSON.stringify(sr)} in the pool`, 'not-found');
    const disk = disks.find((d) => d.vdi === diskRefs[diskName] || d.record.name_label === diskName);
    if (!disk) throw new DriverError(`${name} has no disk ${JSON.stringify(diskName)}`, 'not-found');
    if (disk.record.SR !== srRef) vdis[disk.vdi] = srRef;
  }
  if (v.resident_on === host && Object.keys(vdis).length === 0) throw new DriverError(`${name} is already on host ${dest.name_label}`, 'invalid');
  return { host, vdis };
}

export async function performMigration(pool: XenPool, vm: XRef, plan: MigrationPlan, opts: OperationOptions = {}): Promise<void> {
  const name = label(pool, vm);
  pool.assertReachable(`migrating ${name}`);
  await pool.initiated.run(vm, () => mapped(`migrating ${name}`, async () => {
    const from = pool.vm(vm)?.resident_on;
    await pool.client.call('VM.set_affinity', vm, plan.host);
    try {
      if (Object.keys(plan.vdis).length === 0) {
        await runTask(pool, 'VM.pool_migrate', [vm, plan.host, { live: 'true' }], opts);
      } else {
        const network = pool.inventory.all('network')[0]?.[0];
        if (!network) throw new DriverError('the pool has no network for the migration stream', 'failed');
        const dest = await pool.client.call('host.migrate_receive', plan.host, network, {});
        await runTask(pool, 'VM.migrate_send', [vm, dest, true, plan.vdis, {}, {}, {}], opts);
      }
    } catch (e) {
      // Still where it was: its home stays there too.
      await pool.settle('VM', vm).catch(() => undefined);
      const at = pool.vm(vm)?.resident_on;
      if (at && at !== plan.host && from) await pool.client.call('VM.set_affinity', vm, at).catch(() => undefined);
      throw e;
    }
    await pool.settle('VM', vm);
  }));
}

/**
 * Across pools (xapi's cross-pool XenMotion, R20): the destination pool's host.migrate_receive
 * gives the dest map (its master's URL and Kiln's session there), which the source pool's
 * VM.migrate_send uses to copy the VM, every disk (to the SR asked for, else the destination's
 * default SR) and every VIF (to the network of the same name there, else its first) across. The
 * VM gets new refs there: perform reports them so Kiln records where it now lives.
 */
export interface CrossPoolPlan {
  host: XRef;
  dest: Record<string, string>;
  /** Kiln disk name → destination SR ref; disks not named go to defaultSr. */
  srs: Record<string, XRef>;
  defaultSr: XRef;
  /** Destination networks by name, and the one for a VIF whose network has no namesake. */
  networks: Record<string, XRef>;
  defaultNetwork: XRef;
}

/** An SR of the pool by ref or name_label. */
function srOf(pool: XenPool, sr: string): XRef | undefined {
  return pool.inventory.get('SR', sr) ? sr : pool.inventory.all('SR').find(([, s]) => s.name_label === sr)?.[0];
}

/** On the destination pool: the host checked, the SRs and networks chosen, host.migrate_receive called (nothing moves yet). */
export async function prepareIncoming(pool: XenPool, host: XRef, diskNames: string[], diskPools: Record<string, string>): Promise<CrossPoolPlan> {
  pool.assertReachable('receiving a VM from another pool');
  const dest = readyHost(pool, host);
  const defaultSr = pool.poolRecord()?.default_SR;
  const srs: Record<string, XRef> = {};
  for (const [disk, sr] of Object.entries(diskPools)) {
    const ref = srOf(pool, sr);
    if (!ref) throw new DriverError(`no storage repository ${JSON.stringify(sr)} in the destination pool`, 'not-found');
    srs[disk] = ref;
  }
  if (!defaultSr || !pool.inventory.get('SR', defaultSr)) {
    const unplaced = diskNames.filter((d) => !srs[d]);
    if (unplaced.length > 0) throw new DriverError(`the destination pool has no default SR for disk ${unplaced.join(', ')}; name a storage pool for each disk`, 'invalid');
  }
  const nets = pool.inventory.all('network');
  const defaultNetwork = nets[0]?.[0];
  if (!defaultNetwork) throw new DriverError('the destination pool has no network for the migration stream', 'failed');
  const map = await mapped(`preparing host ${dest.name_label} to receive the VM`, () => pool.client.call('host.migrate_receive', host, defaultNetwork, {}));
  return { host, dest: map, srs, defaultSr: defaultSr ?? '', networks: Object.fromEntries(nets.map(([ref, n]) => [n.name_label, ref])), defaultNetwork };
}

export interface CrossPoolResult {
  ref: XRef;
  disks: { name: string; ref: XRef; pool: string }[];
}

/** How long a migration whose answer was lost waits for the source to end its migrate_send. */
const LOST_ANSWER_WAIT_MS = 60_000;

/**
 * On the source pool: the maps from the plan, VM.assert_can_migrate, then the VM.migrate_send
 * task; the VM's new refs in `to`. lostAnswerWaitMs: how long a lost answer is waited on (tests).
 */
export async function performCrossPool(pool: XenPool, to: XenPool, vm: XRef, diskRefs: Record<string, string | undefined>, plan: CrossPoolPlan, opts: OperationOptions & { live?: boolean; lostAnswerWaitMs?: number } = {}): Promise<CrossPoolResult> {
  const name = label(pool, vm);
  pool.assertReachable(`migrating ${name}`);
  const v = pool.vm(vm);
  if (!v) throw new DriverError(`VM ${vm} does not exist in the pool`, 'not-found');
  // live: a running VM (xapi's storage motion). Not live: a halted one, whose disks and record
  // migrate_send copies across cold (xapi_vm_lifecycle: migrate_send is allowed Halted).
  const live = opts.live ?? true;
  if (live && v.power_state !== 'Running') throw new DriverError(`${name} is ${v.power_state.toLowerCase()}; only a running VM migrates live`, 'invalid');
  if (!live && v.power_state !== 'Halted') throw new DriverError(`${name} is ${v.power_state.toLowerCase()}; only a halted VM moves cold (stop it first)`, 'invalid');
  const byVdi = Object.fromEntries(Object.entries(diskRefs).flatMap(([n, r]) => (r ? [[r, n]] : [])));
  const vdiMap: Record<XRef, XRef> = {};
  const names: Record<string, string> = {};
  for (const d of await disksOf(pool, vm)) {
    const kilnName = byVdi[d.vdi] ?? d.record.name_label;
    vdiMap[d.vdi] = plan.srs[kilnName] ?? plan.defaultSr;
    names[d.record.name_label] = kilnName;
  }
  const vifMap: Record<XRef, XRef> = {};
  for (const vif of v.VIFs ?? []) {
    const r = await pool.client.getRecord('VIF', vif);
    vifMap[vif] = plan.networks[pool.inventory.get('network', r.network)?.name_label ?? ''] ?? plan.defaultNetwork;
  }
  return pool.initiated.run(vm, () => mapped(`migrating ${name} to another pool`, async () => {
    await pool.client.call('VM.assert_can_migrate', vm, plan.dest, live, vdiMap, vifMap, {}, {});
    const uuid = v.uuid;
    const moved = String(await runTask(pool, 'VM.migrate_send', [vm, plan.dest, live, vdiMap, vifMap, {}, {}], opts).catch(async (e: unknown) => {
      // The answer was lost, not necessarily the move: once the source no longer migrates it, the
      // VM is either still here (the error stands) or in the other pool under its uuid.
      if (!(e instanceof XapiConnectionError)) throw e;
      const there = await whereItEnded(pool, to, vm, uuid, opts.lostAnswerWaitMs ?? LOST_ANSWER_WAIT_MS, opts.signal);
      if (!there) throw e;
      return there;
    }));
    await to.settle('VM', moved);
    // The source's deletion is read while the move is still Kiln's (initiator user, not a platform destroy).
    const poolRef = pool.inventory.all('pool')[0]?.[0];
    if (poolRef) await pool.settle('pool', poolRef).catch(() => undefined);
    return { ref: moved, disks: await kilnDisks(to, moved, names) };
  }));
}

/** The disks of VM (in the pool it moved to) whose VDI name NAMES maps to a Kiln disk name, with their new refs and SRs. */
async function kilnDisks(to: XenPool, vm: XRef, names: Record<string, string>): Promise<CrossPoolResult['disks']> {
  return (await disksOf(to, vm)).flatMap((d) => {
    const kilnName = names[d.record.name_label];
    return kilnName ? [{ name: kilnName, ref: d.vdi, pool: to.inventory.get('SR', d.record.SR)?.name_label ?? d.record.SR }] : [];
  });
}

/**
 * MigrationFacet.arrived: VM is in this pool under a new ref because a cross-pool move whose
 * answer was lost (performCrossPool gave up waiting) finished after all. Its disks are named as
 * Kiln defined them (VDI name_label = DiskSpec.name, which migrate_send copies), so they are
 * reported by those names, as perform would have reported them.
 */
export async function arrivedFromAnotherPool(pool: XenPool, vm: XRef, spec: VmSpec): Promise<MigrationResult> {
  if (!pool.vm(vm)) throw new DriverError(`VM ${vm} does not exist in the pool`, 'not-found');
  return { ref: vm, disks: await mapped(`reading the disks of ${label(pool, vm)}`, () => kilnDisks(pool, vm, Object.fromEntries(spec.disks.map((d) => [d.name, d.name])))) };
}

/**
 * After a lost answer: waits (up to waitMs in all, however the source answers) for the source to
 * end its migrate_send, then the VM's ref in `to` by uuid, if it is there. The source is asked
 * itself, not its event-fed cache: the cache may not show the operation yet, and a loaded machine
 * then gave up at once.
 */
async function whereItEnded(pool: XenPool, to: XenPool, vm: XRef, uuid: string, waitMs: number, signal?: AbortSignal): Promise<XRef | undefined> {
  const arrived = () => to.inventory.all('VM').find(([, r]) => r.uuid === uuid)?.[0];
  const end = Date.now() + waitMs;
  while (Date.now() < end && !signal?.aborted) {
    if (arrived()) break;
    // Gone from the source (HANDLE_INVALID): the destination decides below. A connection that
    // fails again (the cut that lost the answer can leave a dead kept-alive socket) says nothing
    // of the move: ask again rather than decide while the VM may still be on its way. Each read
    // has only the time left: a master that takes calls and never answers must not hold the
    // wait for the client's whole timeout per read.
    const read = pool.client.raw('VM.get_record', [vm], { timeoutMs: Math.max(1, end - Date.now()), signal }) as Promise<VmRecord>;
    const ops = await read.then((r) => Object.values(r.current_operations ?? {}), (e: unknown) => (e instanceof XapiConnectionError ? 'unknown' : undefined));
    if (ops !== 'unknown' && !ops?.includes('migrate_send')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const poolRef = to.inventory.all('pool')[0]?.[0];
  if (poolRef) await to.settle('pool', poolRef).catch(() => undefined);
  return arrived();
}
