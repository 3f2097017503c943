/**
 * Typed calls for the VirtualMachine methods the driver uses. A method that runs as a vSphere
 * Task returns a `TaskHandle`: its reference (which the engine stores, so a job interrupted by a
 * restart can be reattached with `reattachTask`) and `wait()` with progress and cancel.
 */
import type { VimClient } from './client.js';
import { SoapProtocolError } from './faults.js';
import { waitForTask, type WaitForTaskOptions } from './tasks.js';
import { MoRef, asMoRef, asObject, type SoapObject, type VimObject, type VimValue } from './values.js';

export interface TaskHandle {
  /** The server's Task, e.g. Task:task-42; stable across sessions. */
  ref: MoRef;
  wait(opts?: WaitForTaskOptions): Promise<VimValue | undefined>;
}

function handle(client: VimClient, ref: MoRef): TaskHandle {
  return { ref, wait: (opts) => waitForTask(client, ref, opts) };
}

/** A Task started earlier (maybe by another session or process), by its stored value. */
export function reattachTask(client: VimClient, taskValue: string): TaskHandle {
  return handle(client, new MoRef('Task', taskValue));
}

async function startTask(client: VimClient, method: string, self: MoRef, args: SoapObject = {}, signal?: AbortSignal): Promise<TaskHandle> {
  const ref = asMoRef(await client.call(method, self, args, { signal }));
  if (!ref || ref.type !== 'Task') throw new SoapProtocolError(`${method}: the server returned no Task`);
  return handle(client, ref);
}

export type PowerState = 'poweredOn' | 'poweredOff' | 'suspended';
export type MovePriority = 'defaultPriority' | 'highPriority' | 'lowPriority';

export const powerOn = (c: VimClient, vm: MoRef, host?: MoRef) => startTask(c, 'PowerOnVM_Task', vm, { host });
export const powerOff = (c: VimClient, vm: MoRef) => startTask(c, 'PowerOffVM_Task', vm);
export const reset = (c: VimClient, vm: MoRef) => startTask(c, 'ResetVM_Task', vm);
export const suspend = (c: VimClient, vm: MoRef) => startTask(c, 'SuspendVM_Task', vm);
export const destroy = (c: VimClient, vm: MoRef) => startTask(c, 'Destroy_Task', vm);
export const rename = (c: VimClient, entity: MoRef, newName: string) => startTask(c, 'Rename_Task', entity, { newName });

/** Guest operations through VMware Tools: they return at once; the guest acts afterwards. */
export async function shutdownGuest(c: VimClient, vm: MoRef): Promise<void> {
  await c.call('ShutdownGuest', vm);
}
export async function rebootGuest(c: VimClient, vm: MoRef): Promise<void> {
  await c.call('RebootGuest', vm);
}

/** ReconfigVM_Task with a VirtualMachineConfigSpec (fields in XSD order: the caller builds it). */
export const reconfigure = (c: VimClient, vm: MoRef, spec: SoapObject) => startTask(c, 'ReconfigVM_Task', vm, { spec });

export interface MigrateArgs {
  pool?: MoRef;
  host?: MoRef;
  priority?: MovePriority;
  /** Only migrate if the VM is in this power state. */
  state?: PowerState;
}
export const migrate = (c: VimClient, vm: MoRef, a: MigrateArgs) => startTask(c, 'MigrateVM_Task', vm, { pool: a.pool, host: a.host, priority: a.priority ?? 'defaultPriority', state: a.state });

export interface RelocateSpec {
  folder?: MoRef;
  datastore?: MoRef;
  pool?: MoRef;
  host?: MoRef;
  /** Per-disk destinations (VirtualMachineRelocateSpecDiskLocator): a disk's device key and its datastore. */
  disks?: Array<{ diskId: number; datastore: MoRef }>;
}
export const relocate = (c: VimClient, vm: MoRef, spec: RelocateSpec, priority: MovePriority = 'defaultPriority') =>
  startTask(c, 'RelocateVM_Task', vm, {
    // XSD order of VirtualMachineRelocateSpec: folder, datastore, pool, host, disk.
    spec: { folder: spec.folder, datastore: spec.datastore, pool: spec.pool, host: spec.host, disk: spec.disks?.map((d) => ({ diskId: d.diskId, datastore: d.datastore })) },
    priority,
  });

export interface CloneArgs {
  folder: MoRef;
  name: string;
  location?: RelocateSpec;
  powerOn?: boolean;
  template?: boolean;
  config?: SoapObject;
}
export const clone = (c: VimClient, vm: MoRef, a: CloneArgs) =>
  startTask(c, 'CloneVM_Task', vm, {
    folder: a.folder,
    name: a.name,
    spec: { location: { folder: a.location?.folder, datastore: a.location?.datastore, pool: a.location?.pool, host: a.location?.host }, template: a.template ?? false, config: a.config, powerOn: a.powerOn ?? false },
  });

/** MarkAsTemplate: the (powered-off) VM becomes a template that CloneVM_Task copies. */
export async function markAsTemplate(c: VimClient, vm: MoRef): Promise<void> {
  await c.call('MarkAsTemplate', vm);
}

/** CreateVM_Task on a VM folder; the result of the task is the new VM. */
export const createVm = (c: VimClient, folder: MoRef, config: SoapObject, pool: MoRef, host?: MoRef) => startTask(c, 'CreateVM_Task', folder, { config, pool, host });

export const createSnapshot = (c: VimClient, vm: MoRef, a: { name: string; description?: string; memory: boolean; quiesce: boolean }) =>
  startTask(c, 'CreateSnapshot_Task', vm, { name: a.name, description: a.description, memory: a.memory, quiesce: a.quiesce });
export const revertToSnapshot = (c: VimClient, snapshot: MoRef, suppressPowerOn?: boolean) => startTask(c, 'RevertToSnapshot_Task', snapshot, { suppressPowerOn });
export const removeSnapshot = (c: VimClient, snapshot: MoRef, removeChildren: boolean) => startTask(c, 'RemoveSnapshot_Task', snapshot, { removeChildren });

export type TicketType = 'webmks' | 'mks' | 'device' | 'guestControl';
export async function acquireTicket(c: VimClient, vm: MoRef, ticketType: TicketType): Promise<VimObject> {
  return asObject(await c.call('AcquireTicket', vm, { ticketType }, { returnType: 'VirtualMachineTicket' }));
}
