/**
 * A VM's life on a pool: define (VM.clone of a template, then its size, Kiln's uuid and its host
 * as affinity; a failed define leaves no clone behind), start on the session's host (start_on),
 * stop (R8: clean_shutdown, hard_shutdown once the guest has not stopped within the timeout or
 * cannot be asked; forced skips the wait), reboot (clean_reboot, else hard_reboot), reset and
 * destroy. Long calls run as Async tasks whose ref reaches the engine (onTask) before the wait, and
 * each ends with a barrier on the feed, so the inventory shows the result before it returns.
 */
import { DriverError, type DefineResult, type OperationOptions, type VmSpec } from '../types.js';
import { mapped } from './errors.js';
import { ensureVgpu } from './gpu.js';
import { checkVmName, checkXapiText } from './names.js';
import { MiB, isGuest, markKilns, type XenPool } from './pool.js';
import { findImageVdi } from './images.js';
import { addMissingDisks, rootFromImage, setCdMedia, setNics } from './vm-devices.js';
import { destroyVdis, disksOf } from './vm-disks.js';
import { isXapiError } from './xapi/errors.js';
import type { ParamsOf, XapiMethod } from './xapi/methods.js';
import type { VmRecord, XRef } from './xapi/records.js';

/** Runs Async.METHOD with the caller's signal, progress and task report. */
export function runTask<M extends XapiMethod>(pool: XenPool, method: M, params: ParamsOf<M>, opts: OperationOptions = {}) {
  return pool.client.callAsync(method, params, { signal: opts.signal, onProgress: opts.onProgress, onTask: opts.onTask });
}

export const label = (pool: XenPool, vm: XRef): string => pool.vm(vm)?.name_label || vm;

/**
 * The xapi template a VM made from a Kiln image is cloned from: xapi's generic HVM template, on
 * every XenServer and XCP-ng (no disks of its own; the root disk is the image's copy).
 */
export const IMAGE_BASE_TEMPLATE = 'Other install media';

/** A template by ref or by name_label (a name several templates share is refused); undefined when none has it. */
function findTemplate(pool: XenPool, id: string): XRef | undefined {
  const byRef = pool.vm(id);
  if (byRef?.is_a_template && !byRef.is_a_snapshot) return id;
  const named = pool.inventory.all('VM').filter(([, v]) => v.is_a_template && !v.is_a_snapshot && v.name_label === id);
  if (named.length > 1) throw new DriverError(`${named.length} templates of the pool are named ${JSON.stringify(id)}; name it by its OpaqueRef`, 'invalid');
  return named[0]?.[0];
}

/** What a root disk's backingImage names: a template of the pool (cloned with its disks), else a Kiln image staged into the pool (copied onto xapi's generic template). */
async function sourceOf(pool: XenPool, name: string): Promise<{ template: XRef; image?: XRef }> {
  const template = findTemplate(pool, name);
  if (template) return { template };
  const image = await mapped(`looking for image ${name} in the pool`, () => findImageVdi(pool, name));
  if (!image) throw new DriverError(`the pool has no template and no Kiln image ${JSON.stringify(name)}`, 'not-found');
  const base = findTemplate(pool, IMAGE_BASE_TEMPLATE);
  if (!base) throw new DriverError(`the pool has no template ${JSON.stringify(IMAGE_BASE_TEMPLATE)} to make a VM around image ${name}`, 'not-found');
  return { template: base, image };
}

/** CD media of a spec: its ISO, then its CD-ROM disks (a config drive), by staged image name. */
const cdMedia = (spec: VmSpec): string[] => [...(spec.isoPath ? [spec.isoPath] : []), ...spec.disks.filter((d) => d.device === 'cdrom').map((d) => d.name)];

/** Sets a halted VM's vCPUs and memory (static maximum from the spec's live-scaling maximum), in an order xapi accepts. */
export async function sizeHalted(pool: XenPool, ref: XRef, v: VmRecord, want: { cpuNumber: number; memoryMiB: number; maxCpuNumber?: number; maxMemoryMiB?: number }): Promise<void> {
  const cpus = want.cpuNumber;
  const maxCpus = Math.max(cpus, want.maxCpuNumber ?? cpus);
  if (maxCpus >= v.VCPUs_at_startup) {
    if (v.VCPUs_max !== maxCpus) await pool.client.call('VM.set_VCPUs_max', ref, maxCpus);
    if (v.VCPUs_at_startup !== cpus) await pool.client.call('VM.set_VCPUs_at_startup', ref, cpus);
  } else {
    await pool.client.call('VM.set_VCPUs_at_startup', ref, cpus);
    await pool.client.call('VM.set_VCPUs_max', ref, maxCpus);
  }
  const mem = want.memoryMiB * MiB;
  const staticMax = Math.max(mem, (want.maxMemoryMiB ?? want.memoryMiB) * MiB);
  const staticMin = Math.min(v.memory_static_min, mem);
  if (v.memory_static_max !== staticMax || v.memory_dynamic_max !== mem || v.memory_dynamic_min !== mem || v.memory_static_min !== staticMin) {
    await pool.client.call('VM.set_memory_limits', ref, staticMin, staticMax, mem, mem);
  }
}

export async function defineVm(pool: XenPool, host: XRef, spec: VmSpec, opts: OperationOptions = {}): Promise<DefineResult> {
  pool.assertReachable(`defining ${spec.internalName}`);
  const name = checkVmName(spec.internalName);
  const description = checkXapiText(spec.displayName, 'display name');
  const existing = spec.ref ? pool.vm(spec.ref) : undefined;
  if (existing && isGuest(existing)) {
    // A redefine: xapi keeps the VM pool-wide; its size follows Kiln's record and it moves home to this host.
    const ref = spec.ref!;
    if (existing.power_state !== 'Halted') throw new DriverError(`${name} is ${existing.power_state.toLowerCase()}; a running VM is not redefined`, 'invalid');
    if (spec.keepDefinition) {
      // An imported VM (ImportFacet.adopt) keeps its own disks, VIFs and devices: only its size (a fixed offering chosen at import) and home follow Kiln.
      await pool.initiated.run(ref, () => mapped(`resizing ${existing.name_label}`, async () => {
        await sizeHalted(pool, ref, existing, spec);
        // Adopt marks it; a VM taken over before adopt did carries the mark from its next start on.
        await markKilns(pool, ref, spec.uuid);
        if (existing.affinity !== host) await pool.client.call('VM.set_affinity', ref, host);
        await pool.settle('VM', ref);
      }));
      return { ref, disks: (await disksOf(pool, ref)).flatMap((d) => (spec.disks.some((s) => s.name === d.record.name_label) ? [{ name: d.record.name_label, ref: d.vdi }] : [])) };
    }
    await pool.initiated.run(ref, () => mapped(`redefining ${name}`, async () => {
      await sizeHalted(pool, ref, existing, spec);
      await ensureVgpu(pool, ref, spec.gpu);
      await setNics(pool, ref, spec.nics);
      await setCdMedia(pool, ref, cdMedia(spec));
      if (existing.affinity !== host) await pool.client.call('VM.set_affinity', ref, host);
      await pool.settle('VM', ref);
    }));
    return { ref, disks: await diskRefs(pool, ref, spec) };
  }
  if (pool.inventory.all('VM').some(([, v]) => isGuest(v) && v.name_label === name)) throw new DriverError(`a VM named ${JSON.stringify(name)} already exists in the pool`, 'invalid');
  const root = spec.disks.find((d) => d.device === 'disk');
  if (!root?.backingImage) throw new DriverError(`${name}: a XenServer VM is cloned from a template; its root disk names none`, 'unsupported');
  const { template, image } = await sourceOf(pool, root.backingImage);
  let ref: XRef | undefined;
  try {
    ref = String(await mapped(`cloning ${label(pool, template)} to ${name}`, () => runTask(pool, 'VM.clone', [template, name], opts)));
    const made = ref;
    await pool.initiated.run(made, () => mapped(`setting up ${name}`, async () => {
      await pool.client.call('VM.set_is_a_template', made, false);
      await pool.client.call('VM.set_name_description', made, description);
      await markKilns(pool, made, spec.uuid);
      await pool.client.call('VM.set_affinity', made, host);
      if (spec.highAvailability && pool.haEnabled) await pool.client.call('VM.set_ha_restart_priority', made, 'restart');
      await pool.settle('VM', made);
      await sizeHalted(pool, made, pool.vm(made)!, spec);
      await ensureVgpu(pool, made, spec.gpu);
      const specDisks = spec.disks.filter((d) => d.device === 'disk');
      if (image) {
        await rootFromImage(pool, made, image, root, opts);
        await pool.settle('VM', made);
      }
      // Each disk carries Kiln's volume name, so deleteDisks finds it after the VM is gone.
      const disks = await disksOf(pool, made);
      for (const [i, d] of disks.entries()) if (specDisks[i]) await pool.client.call('VDI.set_name_label', d.vdi, checkXapiText(specDisks[i]!.name, 'disk name'));
      await addMissingDisks(pool, made, specDisks);
      await setNics(pool, made, spec.nics);
      await setCdMedia(pool, made, cdMedia(spec));
      await pool.settle('VM', made);
    }));
    return { ref: made, disks: await diskRefs(pool, made, spec) };
  } catch (e) {
    if (ref) {
      // Nothing half-made: the clone and its disks go.
      const vdis = (await disksOf(pool, ref).catch(() => [])).map((d) => d.vdi);
      await pool.client.call('VM.destroy', ref).catch(() => undefined);
      await destroyVdis(pool, vdis);
    }
    throw e;
  }
}

async function diskRefs(pool: XenPool, ref: XRef, spec: VmSpec): Promise<{ name: string; ref: string }[]> {
  const disks = await disksOf(pool, ref);
  return spec.disks.filter((d) => d.device === 'disk').flatMap((d, i) => (disks[i] ? [{ name: d.name, ref: disks[i]!.vdi }] : []));
}

export async function startVm(pool: XenPool, host: XRef, ref: XRef, v: VmRecord, opts: OperationOptions = {}): Promise<void> {
  const name = v.name_label;
  pool.assertReachable(`starting ${name}`);
  if (v.power_state === 'Running' || v.power_state === 'Paused') throw new DriverError(`${name} is already ${v.power_state.toLowerCase()}`, 'invalid');
  await pool.initiated.run(ref, () => mapped(`starting ${name}`, async () => {
    if (v.power_state === 'Suspended') await runTask(pool, 'VM.resume', [ref, false, false], opts);
    else await runTask(pool, 'VM.start_on', [ref, host, false, false], opts);
    await pool.settle('VM', ref);
  }));
}

export interface StopArgs extends OperationOptions {
  forced?: boolean;
  timeoutMs: number;
}

export type StopOutcome = 'already-off' | 'guest-shutdown' | 'powered-off-after-timeout' | 'powered-off-refused' | 'powered-off-forced';

/** R8: clean_shutdown (the guest's own shutdown, through its tools or ACPI), hard_shutdown when it has not stopped within the timeout or refused; forced skips it. */
export async function stopVm(pool: XenPool, ref: XRef, a: StopArgs): Promise<StopOutcome> {
  const name = label(pool, ref);
  pool.assertReachable(`stopping ${name}`);
  if (pool.vm(ref)?.power_state === 'Halted') return 'already-off';
  return pool.initiated.run(ref, async () => {
    const hard = async () => {
      try {
        await runTask(pool, 'VM.hard_shutdown', [ref], a);
      } catch (e) {
        // Halted meanwhile (the guest finished its shutdown as the timeout fell): the goal is reached.
        if (!isXapiError(e, 'VM_BAD_POWER_STATE') || pool.vm(ref)?.power_state === 'Running') throw e;
      }
      await pool.settle('VM', ref);
    };
    if (a.forced) {
      await mapped(`powering off ${name}`, hard);
      return 'powered-off-forced';
    }
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), a.timeoutMs);
    const onAbort = () => timer.abort();
    a.signal?.addEventListener('abort', onAbort, { once: true });
    let outcome: StopOutcome;
    try {
      await runTask(pool, 'VM.clean_shutdown', [ref], { ...a, signal: timer.signal });
      outcome = 'guest-shutdown';
    } catch (e) {
      if (a.signal?.aborted) throw mappedError(e, `stopping ${name}`);
      if (isXapiError(e, 'VM_BAD_POWER_STATE') && pool.vm(ref)?.power_state === 'Halted') return 'already-off';
      outcome = isXapiError(e, 'TASK_CANCELLED') ? 'powered-off-after-timeout' : 'powered-off-refused';
    } finally {
      clearTimeout(timeout);
      a.signal?.removeEventListener('abort', onAbort);
    }
    if (outcome === 'guest-shutdown') await pool.settle('VM', ref);
    else await mapped(`powering off ${name}`, hard);
    return outcome;
  });
}

function mappedError(e: unknown, doing: string): never {
  throw e instanceof DriverError ? e : new DriverError(`${doing}: cancelled`, 'timeout');
}

/** clean_reboot; when the guest cannot be asked (no tools) a hard_reboot. */
export async function rebootVm(pool: XenPool, ref: XRef, opts: OperationOptions = {}): Promise<'guest-reboot' | 'reset'> {
  const name = label(pool, ref);
  pool.assertReachable(`rebooting ${name}`);
  if (pool.vm(ref)?.power_state !== 'Running') throw new DriverError(`${name} is not running; only a running VM reboots`, 'invalid');
  return pool.initiated.run(ref, () => mapped(`rebooting ${name}`, async () => {
    try {
      await runTask(pool, 'VM.clean_reboot', [ref], opts);
      await pool.settle('VM', ref);
      return 'guest-reboot' as const;
    } catch (e) {
      if (opts.signal?.aborted || !isXapiError(e, 'VM_MISSING_PV_DRIVERS', 'OPERATION_NOT_ALLOWED', 'TASK_CANCELLED')) throw e;
    }
    await runTask(pool, 'VM.hard_reboot', [ref], opts);
    await pool.settle('VM', ref);
    return 'reset' as const;
  }));
}

export async function resetVm(pool: XenPool, ref: XRef, opts: OperationOptions = {}): Promise<void> {
  const name = label(pool, ref);
  pool.assertReachable(`resetting ${name}`);
  if (pool.vm(ref)?.power_state !== 'Running') throw new DriverError(`${name} is not running; only a running VM is reset`, 'invalid');
  await pool.initiated.run(ref, () => mapped(`resetting ${name}`, async () => {
    await runTask(pool, 'VM.hard_reboot', [ref], opts);
    await pool.settle('VM', ref);
  }));
}

/** Powers off, destroys the VM (and its snapshots), then the disks asked for (xapi's VM.destroy keeps VDIs). */
export async function destroyVm(pool: XenPool, ref: XRef, removeDisks: string[] | 'all' | undefined, opts: OperationOptions = {}): Promise<void> {
  const name = label(pool, ref);
  pool.assertReachable(`destroying ${name}`);
  const v = pool.vm(ref);
  if (!v) return;
  await pool.initiated.run(ref, () => mapped(`destroying ${name}`, async () => {
    if (v.power_state !== 'Halted') {
      await runTask(pool, 'VM.hard_shutdown', [ref], opts);
      await pool.settle('VM', ref);
    }
    const snapshots = pool.inventory.all('VM').filter(([, s]) => s.is_a_snapshot && s.snapshot_of === ref).map(([r]) => r);
    // The disks asked for by Kiln's volume name (all: every one), and with any of them the snapshots' disks.
    const wanted = new Set(removeDisks === 'all' ? [] : (removeDisks ?? []));
    const own = (await disksOf(pool, ref)).filter((d) => removeDisks === 'all' || wanted.has(d.record.name_label)).map((d) => d.vdi);
    const history: XRef[] = [];
    if (removeDisks === 'all' || wanted.size > 0) for (const s of snapshots) history.push(...(await disksOf(pool, s)).map((d) => d.vdi));
    for (const s of snapshots) await pool.client.call('VM.destroy', s).catch((e: unknown) => { if (!isXapiError(e, 'HANDLE_INVALID')) throw e; });
    try {
      await runTask(pool, 'VM.destroy', [ref], opts);
    } catch (e) {
      if (!isXapiError(e, 'HANDLE_INVALID')) throw e;
    }
    await destroyVdis(pool, [...new Set([...own, ...history])]);
  }));
}
