/**
 * A VM's life on vSphere: deploy (CloneVM_Task from a template, or CreateVM_Task for a blank VM
 * booting an ISO), power on/off, stop (ShutdownGuest through VMware Tools, power-off after the
 * timeout, R8), reboot (RebootGuest, or ResetVM_Task without Tools), reset and destroy. Every task
 * is waited for through the PropertyCollector; its ref is handed to `onTask` first so the engine
 * can store it and reattach after a restart.
 */
import { DriverError } from '../types.js';
import type { VsphereEndpoint } from './endpoint.js';
import { mapped, toDriverError } from './errors.js';
import { MAX_VCENTER_NAME, toVcenterName } from './names.js';
import { MoRef, asArray, asMoRef, asNumber, asObject, asString, isVimFault, typed, vm as vim, type SoapObject, type TaskHandle, type Typed, type VimValue } from './soap/index.js';
import { NIC_TYPES, controllerChanges, controllerDevice, detailsOfDevices, deviceInfoOf, nicDevice, type VmwareDetails } from './vm-details.js';

/** Device edits carry the device's own deviceInfo (vm-details.ts says why); index.ts and the volume facet import it from here. */
export { deviceInfoOf };

export interface TaskOptions {
  signal?: AbortSignal;
  onProgress?: (percent: number) => void;
  /** The vSphere Task's ref (Task:task-42), as soon as it exists. */
  onTask?: (taskRef: string) => void;
}

/** Starts a task, reports its ref, waits for it with progress and cancel. */
export async function runTask(start: () => Promise<TaskHandle>, opts: TaskOptions = {}): Promise<VimValue | undefined> {
  const task = await start();
  opts.onTask?.(task.ref.toString());
  return task.wait({ signal: opts.signal, onProgress: opts.onProgress ? (p) => opts.onProgress!(p) : undefined });
}

export interface DeployArgs extends TaskOptions {
  /** Kiln's internal name (R3); the vCenter name is it, escaped as vCenter stores names. */
  name: string;
  host: MoRef;
  /** Clone this template (or VM); absent: a blank VM. */
  template?: MoRef;
  cpuNumber: number;
  memoryMiB: number;
  /** The datastore, by moref value (a pool's ref; VsphereEndpoint.datastore); default: the template's, or the host's first. */
  datastore?: string;
  /** Blank VMs: root disk size, an ISO on a datastore ("[ds] iso/x.iso"), the network, the controller and NIC types. */
  rootDiskGiB?: number;
  isoPath?: string;
  /** The VM's config drive on a datastore, in a second CD-ROM (after the ISO's). */
  configDrive?: string;
  network?: string;
  details?: VmwareDetails;
  guestId?: string;
  /** CPU and memory hot-add on (a dynamically scalable VM, R16). */
  hotAdd?: boolean;
  uuid?: string;
  /** The most vCPUs and memory live scaling may give it (the offering's maximum); kept in the VM's extraConfig. */
  maxCpuNumber?: number;
  maxMemoryMiB?: number;
}

/** extraConfig keys where the VM carries Kiln's live-scaling limits (vSphere itself has none short of the host). */
export const MAX_CPU_KEY = 'kiln.maxCpuNumber';
export const MAX_MEMORY_KEY = 'kiln.maxMemoryMiB';

/** extraConfig key with Kiln's uuid of the VM: a clone an interrupted deploy left is known as this VM's (vcsim keeps no uuid of a clone's spec). */
export const KILN_UUID_KEY = 'kiln.uuid';

const uuidConfig = (uuid: string): SoapObject => ({ key: KILN_UUID_KEY, value: typed('xsd:string', uuid) });

function limitsConfig(a: DeployArgs): SoapObject[] | undefined {
  const out: SoapObject[] = a.uuid ? [uuidConfig(a.uuid)] : [];
  if (a.maxCpuNumber !== undefined) out.push({ key: MAX_CPU_KEY, value: typed('xsd:string', String(a.maxCpuNumber)) });
  if (a.maxMemoryMiB !== undefined) out.push({ key: MAX_MEMORY_KEY, value: typed('xsd:string', String(a.maxMemoryMiB)) });
  return out.length > 0 ? out : undefined;
}

export function placementOf(ep: VsphereEndpoint, host: MoRef): { folder: MoRef; pool: MoRef; datastores: MoRef[] } {
  const h = ep.cache.get(host);
  if (!h) throw new DriverError(`host ${host.value} is not in vCenter's inventory`, 'not-found');
  const cr = ep.cache.get(asMoRef(h.props['parent']) ?? new MoRef('', ''));
  const pool = cr && asMoRef(cr.props['resourcePool']);
  const dc = cr && ep.datacenterOf(cr);
  const folder = dc && asMoRef(dc.props['vmFolder']);
  if (!pool || !folder) throw new DriverError(`host ${host.value}: no resource pool or VM folder in vCenter's inventory`, 'not-found');
  return { folder, pool, datastores: ep.refsOf(h.props['datastore']) };
}

function checkName(name: string): string {
  const vcName = toVcenterName(name);
  if (vcName.length === 0 || vcName.length > MAX_VCENTER_NAME) throw new DriverError(`the vCenter name of a VM is 1 to ${MAX_VCENTER_NAME} characters; ${JSON.stringify(name)} gives ${vcName.length}`, 'invalid');
  return vcName;
}

/** Deploys a VM (powered off) and returns its ref. A failed deploy leaves no half-made VM behind. */
export async function deployVm(ep: VsphereEndpoint, a: DeployArgs): Promise<MoRef> {
  ep.assertReachable(`deploying ${a.name}`);
  const vcName = checkName(a.name);
  const where = placementOf(ep, a.host);
  const datastore = a.datastore !== undefined ? ep.datastore(a.datastore, where.datastores).ref : undefined;
  if (await mapped(`looking for VMs named ${a.name}`, () => namesakes(ep, where.folder, vcName, a.uuid)) > 0) throw new DriverError(`a VM named ${JSON.stringify(a.name)} already exists in vCenter`, 'invalid');
  // Element order of VirtualMachineConfigSpec: uuid … numCPUs, memoryMB, memoryHotAddEnabled, cpuHotAddEnabled … deviceChange … extraConfig.
  const sizing = (extra: SoapObject = {}): SoapObject => ({
    ...(extra['name'] !== undefined ? { name: extra['name'] } : {}),
    uuid: a.uuid || undefined,
    ...(extra['guestId'] !== undefined ? { guestId: extra['guestId'], files: extra['files'] } : {}),
    numCPUs: a.cpuNumber, memoryMB: a.memoryMiB, memoryHotAddEnabled: a.hotAdd, cpuHotAddEnabled: a.hotAdd,
    deviceChange: extra['deviceChange'],
    extraConfig: limitsConfig(a),
  });
  let created: MoRef | undefined;
  try {
    if (a.template) {
      if (!ep.cache.get(a.template)) throw new DriverError(`template ${a.template.value} does not exist in vCenter`, 'not-found');
      created = asMoRef(await mapped(`cloning ${a.template.value} to ${a.name}`, () =>
        runTask(() => vim.clone(ep.client, a.template!, { folder: where.folder, name: vcName, location: { pool: where.pool, host: a.host, datastore }, powerOn: false, template: false, config: a.uuid ? { extraConfig: [uuidConfig(a.uuid)] } : undefined }), a)));
      if (!created) throw new DriverError(`CloneVM_Task of ${a.name} returned no VM`, 'failed');
      const vmRef = created;
      // The clone keeps the template's devices (R30: controllers and NIC type inherited); size,
      // hot-add and the NIC on the VM's network change.
      const devices = await cloneChanges(ep, vmRef, a);
      await mapped(`sizing ${a.name}`, () => runTask(() => vim.reconfigure(ep.client, vmRef, sizing({ deviceChange: devices.length > 0 ? devices : undefined })), a));
      // One read of the clone as it is now (read-your-writes: the stream may be behind).
      await mapped(`reading ${a.name}`, () => ep.cache.admit(vmRef));
      // vCenter places the clone on location.host; a server that placed it elsewhere (vcsim does) is corrected.
      const at = asMoRef(ep.cache.get(vmRef)?.props['runtime.host']);
      if (at && !at.equals(a.host)) {
        await mapped(`placing ${a.name} on ${a.host.value}`, () => runTask(() => vim.relocate(ep.client, vmRef, { host: a.host, pool: where.pool }), a));
        await ep.refresh(vmRef, ['runtime.host', 'resourcePool']);
      }
    } else {
      const ds = datastore ?? where.datastores[0];
      const dsName = ds && asString(ep.cache.get(ds)?.props['name']);
      if (!dsName) throw new DriverError(`host ${a.host.value} has no datastore for ${a.name}`, 'insufficient-capacity');
      const devices = blankDevices(ep, dsName, a);
      const config = sizing({ name: vcName, guestId: a.guestId ?? 'otherGuest64', files: { vmPathName: `[${dsName}]` }, deviceChange: devices });
      created = asMoRef(await mapped(`creating ${a.name}`, () => runTask(() => vim.createVm(ep.client, where.folder, config, where.pool, a.host), a)));
      if (!created) throw new DriverError(`CreateVM_Task of ${a.name} returned no VM`, 'failed');
    }
    const made = created;
    // Read-your-writes: the new VM is in the cache now, whenever the stream brings its 'enter'.
    await mapped(`reading ${a.name}`, () => ep.cache.admit(made));
    return made;
  } catch (e) {
    if (created) {
      const orphan = created;
      await runTask(() => vim.destroy(ep.client, orphan)).catch(() => undefined);
    }
    throw e;
  }
}

/** The VM's disks onto the controller types asked for (controllerChanges), in one ReconfigVM_Task when any must move. */
export async function applyControllers(ep: VsphereEndpoint, vm: MoRef, wanted: Pick<VmwareDetails, 'rootDiskController' | 'dataDiskController'>, opts: TaskOptions = {}): Promise<void> {
  const devices = asArray((await ep.read(vm, ['config.hardware.device']))['config.hardware.device']).map(asObject);
  const { changes } = controllerChanges(devices, wanted);
  if (changes.length === 0) return;
  await mapped(`setting the disk controllers of ${vmLabel(ep, vm)}`, () => runTask(() => vim.reconfigure(ep.client, vm, { deviceChange: changes }), opts));
}

/** The VM's network by name, or a DriverError saying that a Kiln network on vSphere is the port group of its name. */
function networkBacking(ep: VsphereEndpoint, name: string): Typed {
  const net = ep.networkNamed(name);
  if (!net) throw new DriverError(`no network named ${JSON.stringify(name)} in vCenter (a Kiln network reaches a VMware VM as the port group of the same name)`, 'not-found');
  return typed('VirtualEthernetCardNetworkBackingInfo', { deviceName: name, network: net.ref });
}

/**
 * A clone's device changes: the deploy's own disk controllers where they differ from the
 * template's (R30: given at deploy, they win), its NIC on the VM's network, and the VM's ISO (or
 * config drive) in a CD-ROM.
 */
async function cloneChanges(ep: VsphereEndpoint, vm: MoRef, a: DeployArgs): Promise<SoapObject[]> {
  const isos = cdromsOf(a);
  const wanted = { rootDiskController: a.details?.rootDiskController, dataDiskController: a.details?.dataDiskController };
  if (a.network === undefined && isos.length === 0 && wanted.rootDiskController === undefined && wanted.dataDiskController === undefined) return [];
  const read = asArray((await ep.read(vm, ['config.hardware.device']))['config.hardware.device']).map(asObject);
  const controllers = controllerChanges(read, wanted);
  return [...controllers.changes, ...(a.network !== undefined ? nicChanges(ep, controllers.devices, a) : []), ...cdromChanges(controllers.devices, isos)];
}

/** The VM's CD-ROM images in drive order: its ISO, then its config drive. */
const cdromsOf = (a: Pick<DeployArgs, 'isoPath' | 'configDrive'>): string[] => [a.isoPath, a.configDrive].filter((p): p is string => p !== undefined);

/**
 * The images in the VM's CD-ROMs, in order: its drives are given them (an edit), and a drive it
 * lacks is added on an IDE controller's free unit (vSphere gives every VM two controllers).
 */
export function cdromChanges(devices: ReturnType<typeof asObject>[], isos: string[]): SoapObject[] {
  const connectable = { startConnected: true, allowGuestControl: true, connected: false };
  const drives = devices.filter((d) => d.$type === 'VirtualCdrom');
  const taken = new Set(devices.map((d) => `${asNumber(d['controllerKey'])}:${asNumber(d['unitNumber'])}`));
  const free = devices.filter((d) => d.$type === 'VirtualIDEController').flatMap((c) => [0, 1].map((u) => ({ controllerKey: asNumber(c['key'])!, unitNumber: u }))).filter((s) => !taken.has(`${s.controllerKey}:${s.unitNumber}`));
  return isos.map((fileName, i) => {
    const backing = typed('VirtualCdromIsoBackingInfo', { fileName });
    const drive = drives[i];
    if (drive) return { operation: 'edit', device: typed('VirtualCdrom', { key: asNumber(drive['key']), deviceInfo: deviceInfoOf(drive), backing, connectable, controllerKey: asNumber(drive['controllerKey']), unitNumber: asNumber(drive['unitNumber']) }) };
    const slot = free.shift();
    if (!slot) throw new DriverError('the VM has no free IDE unit for another CD-ROM', 'unsupported');
    return { operation: 'add', device: typed('VirtualCdrom', { key: -210 - i, backing, connectable, ...slot }) };
  });
}

/**
 * A clone's NIC on the VM's network: the template's first NIC is moved there (and replaced when
 * the VM's nicAdapter names another type); a template without one gets one of the VM's type.
 */
function nicChanges(ep: VsphereEndpoint, devices: ReturnType<typeof asObject>[], a: DeployArgs): SoapObject[] {
  const backing = networkBacking(ep, a.network!);
  const nic = devices.find((d) => NIC_TYPES.has(d.$type ?? ''));
  const wanted = a.details?.nicAdapter;
  if (!nic) return [{ operation: 'add', device: nicDevice(wanted ?? 'Vmxnet3', -300, backing) }];
  if (wanted && detailsOfDevices([nic]).nicAdapter !== wanted) {
    return [{ operation: 'remove', device: typed(nic.$type!, { key: asNumber(nic['key']) }) }, { operation: 'add', device: nicDevice(wanted, -300, backing) }];
  }
  return [{ operation: 'edit', device: typed(nic.$type!, { key: asNumber(nic['key']), deviceInfo: deviceInfoOf(nic), backing, addressType: asString(nic['addressType']), macAddress: asString(nic['macAddress']) }) }];
}

/** Kiln's uuid of the VM (the kiln.uuid mark a deploy gives it from its first task on), read from the server; none on a template or a VM Kiln did not make. */
export async function kilnMark(ep: VsphereEndpoint, vm: MoRef): Promise<string | undefined> {
  const p = await ep.read(vm, ['config.template', 'config.extraConfig']);
  if (p['config.template'] === true) return undefined;
  return asString(asArray(p['config.extraConfig']).map(asObject).find((kv) => asString(kv['key']) === KILN_UUID_KEY)?.['value']);
}

/**
 * The VMs named VCNAME: those the cache knows and the one the server finds in the VM folder
 * (SearchIndex.FindChild; one made a moment ago may not have come down the stream yet), each with
 * its kiln.uuid mark.
 */
export async function vmsNamed(ep: VsphereEndpoint, folder: MoRef, vcName: string): Promise<{ ref: MoRef; mark: string | undefined }[]> {
  const refs = ep.cache.vmsNamed(vcName).map((o) => o.ref);
  const index = asMoRef(ep.client.serviceContent.raw['searchIndex']);
  const inFolder = index ? asMoRef(await ep.client.call('FindChild', index, { entity: folder, name: vcName })) : undefined;
  if (inFolder?.type === 'VirtualMachine' && !refs.some((r) => r.equals(inFolder))) refs.push(inFolder);
  const found: { ref: MoRef; mark: string | undefined }[] = [];
  for (const ref of refs) {
    try {
      found.push({ ref, mark: await kilnMark(ep, ref) });
    } catch (e) {
      // Destroyed meanwhile (the cache had it before the stream said so): not a namesake any more.
      if (!(e instanceof DriverError && e.category === 'not-found') && !isVimFault(e, 'ManagedObjectNotFound')) throw e;
      ep.cache.forget(ref);
    }
  }
  return found;
}

/**
 * How many VMs named VCNAME a deploy would sit beside. One carrying this VM's uuid is what a
 * deploy a dead process interrupted left (kill -9 between CloneVM_Task and Kiln storing the ref):
 * it is destroyed, so no orphan stays in vCenter. A namesake without it (another Kiln's, or
 * anyone's) is counted and left alone.
 */
async function namesakes(ep: VsphereEndpoint, folder: MoRef, vcName: string, uuid: string | undefined): Promise<number> {
  let left = 0;
  for (const { ref, mark } of await vmsNamed(ep, folder, vcName)) {
    if (uuid === undefined || mark !== uuid) {
      left++;
      continue;
    }
    await ep.cache.admit(ref);
    await destroyVm(ep, ref);
  }
  return left;
}

function blankDevices(ep: VsphereEndpoint, dsName: string, a: DeployArgs): SoapObject[] {
  const details = a.details ?? {};
  const out: SoapObject[] = [{ operation: 'add', device: controllerDevice(details.rootDiskController ?? 'lsilogic', -100, 0) }];
  out.push({
    operation: 'add', fileOperation: 'create',
    device: typed('VirtualDisk', {
      key: -200,
      backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: `[${dsName}]`, diskMode: 'persistent', thinProvisioned: true }),
      controllerKey: -100, unitNumber: 0, capacityInKB: (a.rootDiskGiB ?? 8) * 1024 * 1024,
    }),
  });
  const isos = cdromsOf(a);
  if (isos.length > 0) out.push({ operation: 'add', device: typed('VirtualIDEController', { key: -110, busNumber: 0 }) });
  isos.forEach((fileName, i) => out.push({
    operation: 'add',
    device: typed('VirtualCdrom', {
      key: -210 - i,
      backing: typed('VirtualCdromIsoBackingInfo', { fileName }),
      connectable: { startConnected: true, allowGuestControl: true, connected: true },
      controllerKey: -110, unitNumber: i,
    }),
  }));
  if (a.network) out.push({ operation: 'add', device: nicDevice(details.nicAdapter ?? 'Vmxnet3', -300, networkBacking(ep, a.network)) });
  return out;
}

/** What a power operation changes, read back into the cache once its task is over. */
const POWER_PATHS = ['runtime.powerState', 'runtime.host'];

const powerStateOf = (ep: VsphereEndpoint, vm: MoRef): string | undefined => asString(ep.cache.get(vm)?.props['runtime.powerState']);
const toolsRunning = (ep: VsphereEndpoint, vm: MoRef): boolean => ep.cache.get(vm)?.props['guest.toolsRunningStatus'] === 'guestToolsRunning';
const vmLabel = (ep: VsphereEndpoint, vm: MoRef): string => asString(ep.cache.get(vm)?.props['name']) ?? vm.value;

/**
 * The power state (and Tools) as the server has them now, read into the cache. A power decision
 * is never taken on the cache alone: a stream answer computed before Kiln's own last refresh can
 * still arrive after it and put an older state back for a moment.
 */
async function livePower(ep: VsphereEndpoint, vm: MoRef): Promise<string | undefined> {
  await ep.refresh(vm, ['runtime.powerState', 'guest.toolsRunningStatus']);
  return powerStateOf(ep, vm);
}

export async function powerOn(ep: VsphereEndpoint, vm: MoRef, opts: TaskOptions = {}): Promise<void> {
  ep.assertReachable(`starting ${vmLabel(ep, vm)}`);
  if ((await livePower(ep, vm)) === 'poweredOn') throw new DriverError(`${vmLabel(ep, vm)} is already running`, 'invalid');
  await mapped(`starting ${vmLabel(ep, vm)}`, () => runTask(() => vim.powerOn(ep.client, vm), opts));
  await ep.refresh(vm, POWER_PATHS);
}

export async function powerOff(ep: VsphereEndpoint, vm: MoRef, opts: TaskOptions = {}): Promise<void> {
  ep.assertReachable(`powering off ${vmLabel(ep, vm)}`);
  if ((await livePower(ep, vm)) === 'poweredOff') return;
  try {
    await runTask(() => vim.powerOff(ep.client, vm), opts);
  } catch (e) {
    // Powered off meanwhile (the guest shut down as the timeout fell): the goal is reached.
    if (!isVimFault(e, 'InvalidPowerState')) throw toDriverError(e, `powering off ${vmLabel(ep, vm)}`);
  }
  await ep.refresh(vm, POWER_PATHS);
}

export interface StopArgs extends TaskOptions {
  /** Skip the guest shutdown (R8 forced=true). */
  forced?: boolean;
  /** How long the guest gets to shut down before the power-off (vm.stop.timeout). */
  timeoutMs: number;
}

/** What a stop did, for the job's log and the tests. */
export type StopOutcome = 'already-off' | 'guest-shutdown' | 'powered-off-after-timeout' | 'powered-off-no-tools' | 'powered-off-forced';

/** R8: ShutdownGuest through Tools, then power-off when the guest has not stopped within the timeout; forced skips the wait. */
export async function stopVm(ep: VsphereEndpoint, vm: MoRef, a: StopArgs): Promise<StopOutcome> {
  const label = vmLabel(ep, vm);
  ep.assertReachable(`stopping ${label}`);
  if ((await livePower(ep, vm)) === 'poweredOff') return 'already-off';
  if (a.forced) {
    await powerOff(ep, vm, a);
    return 'powered-off-forced';
  }
  if (!toolsRunning(ep, vm)) {
    // No Tools: vSphere has no other graceful path (no ACPI button over the API).
    await powerOff(ep, vm, a);
    return 'powered-off-no-tools';
  }
  try {
    await vim.shutdownGuest(ep.client, vm);
  } catch (e) {
    if (!isVimFault(e, 'ToolsUnavailable') && !isVimFault(e, 'InvalidState')) throw toDriverError(e, `shutting down ${label}`);
    await powerOff(ep, vm, a);
    return 'powered-off-no-tools';
  }
  try {
    const deadline = Date.now() + a.timeoutMs;
    do await ep.waitFor(() => powerStateOf(ep, vm) === 'poweredOff', Math.max(0, deadline - Date.now()), `guest shutdown of ${label}`, a.signal);
    while ((await livePower(ep, vm)) !== 'poweredOff');
    return 'guest-shutdown';
  } catch (e) {
    if (!(e instanceof DriverError) || e.category !== 'timeout') throw e;
  }
  await powerOff(ep, vm, a);
  return 'powered-off-after-timeout';
}

/** RebootGuest through Tools; without Tools a reset (the guest gets no chance to shut down). */
export async function rebootVm(ep: VsphereEndpoint, vm: MoRef, opts: TaskOptions = {}): Promise<'guest-reboot' | 'reset'> {
  const label = vmLabel(ep, vm);
  ep.assertReachable(`rebooting ${label}`);
  if ((await livePower(ep, vm)) !== 'poweredOn') throw new DriverError(`${label} is not running; only a running VM reboots`, 'invalid');
  if (toolsRunning(ep, vm)) {
    try {
      await vim.rebootGuest(ep.client, vm);
      return 'guest-reboot';
    } catch (e) {
      if (!isVimFault(e, 'ToolsUnavailable')) throw toDriverError(e, `rebooting ${label}`);
    }
  }
  await resetVm(ep, vm, opts);
  return 'reset';
}

export async function resetVm(ep: VsphereEndpoint, vm: MoRef, opts: TaskOptions = {}): Promise<void> {
  const label = vmLabel(ep, vm);
  ep.assertReachable(`resetting ${label}`);
  await mapped(`resetting ${label}`, () => runTask(() => vim.reset(ep.client, vm), opts));
  await ep.refresh(vm, POWER_PATHS);
}

/** Powers off (vCenter refuses to destroy a running VM) and destroys the VM with its disks. A VM already gone is success. */
export async function destroyVm(ep: VsphereEndpoint, vm: MoRef, opts: TaskOptions = {}): Promise<void> {
  const label = vmLabel(ep, vm);
  ep.assertReachable(`destroying ${label}`);
  if (!ep.cache.get(vm)) return;
  await powerOff(ep, vm, opts);
  try {
    await runTask(() => vim.destroy(ep.client, vm), opts);
  } catch (e) {
    if (isVimFault(e, 'ManagedObjectNotFound')) return;
    throw toDriverError(e, `destroying ${label}`);
  }
  // The task succeeded: the VM is gone, whether or not the stream has said so yet (vcsim does not
  // always send the 'leave' of a VM that was moved between hosts).
  ep.cache.forget(vm);
}
