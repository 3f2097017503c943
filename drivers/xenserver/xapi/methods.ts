/**
 * The xapi messages Kiln sends, typed (parameters after the session, and the result), with each
 * one's datamodel signature as text. The signatures serve one check: a unit test holds every entry
 * against xenapi.md Appendix A (name, parameter count and types), so a call with a wrong arity or
 * a misspelt method fails in CI, not against a real pool. Async.<method> twins take the same
 * parameters and return a task ref (XapiClient.callAsync).
 */
import type { TaskRecord, XRef } from './records.js';

type Map = Record<string, string>;

/** An event.from batch (xenapi.md §1.7). */
export interface EventBatch {
  events: XapiEvent[];
  valid_ref_counts: Record<string, number>;
  token: string;
}

export interface XapiEvent {
  id?: string;
  timestamp?: string;
  /** Lowercase class name (vm, host, gpu_group…). */
  class: string;
  operation: 'add' | 'mod' | 'del';
  ref: XRef;
  /** The full record at delivery time; absent on del. */
  snapshot?: Record<string, unknown>;
}

/** VDI.create's record: the fields without a datamodel default (xapi_vdi.ml, create). */
export interface VdiCreate {
  name_label: string;
  name_description: string;
  SR: XRef;
  virtual_size: number;
  type: 'user' | 'system';
  sharable: boolean;
  read_only: boolean;
  other_config: Map;
  xenstore_data: Map;
  sm_config: Map;
  tags: string[];
}

/** VBD.create's record (xapi_vbd.ml, create). */
export interface VbdCreate {
  VM: XRef;
  VDI: XRef;
  userdevice: string;
  bootable: boolean;
  mode: 'RW' | 'RO';
  type: 'Disk' | 'CD';
  unpluggable: boolean;
  empty: boolean;
  other_config: Map;
  qos_algorithm_type: string;
  qos_algorithm_params: Map;
}

/** VIF.create's record (xapi_vif.ml, create); MAC "" lets xapi make one. */
export interface VifCreate {
  device: string;
  network: XRef;
  VM: XRef;
  MAC: string;
  MTU: number;
  other_config: Map;
  qos_algorithm_type: string;
  qos_algorithm_params: Map;
}

export interface XapiMethods {
  'session.login_with_password': [[uname: string, pwd: string, version: string, originator: string], XRef];
  'session.logout': [[], string];
  'event.from': [[classes: string[], token: string, timeout: number], EventBatch];
  'event.inject': [[cls: string, ref: XRef], string];
  'task.get_record': [[task: XRef], TaskRecord];
  'task.cancel': [[task: XRef], string];
  'task.destroy': [[task: XRef], string];
  'VM.start': [[vm: XRef, startPaused: boolean, force: boolean], string];
  'VM.start_on': [[vm: XRef, host: XRef, startPaused: boolean, force: boolean], string];
  'VM.clean_shutdown': [[vm: XRef], string];
  'VM.hard_shutdown': [[vm: XRef], string];
  'VM.clean_reboot': [[vm: XRef], string];
  'VM.hard_reboot': [[vm: XRef], string];
  'VM.resume': [[vm: XRef, startPaused: boolean, force: boolean], string];
  'VM.pool_migrate': [[vm: XRef, host: XRef, options: Map], string];
  'VM.migrate_send': [[vm: XRef, dest: Map, live: boolean, vdiMap: Record<XRef, XRef>, vifMap: Record<XRef, XRef>, options: Map, vgpuMap: Record<XRef, XRef>], XRef];
  'VM.assert_can_migrate': [[vm: XRef, dest: Map, live: boolean, vdiMap: Record<XRef, XRef>, vifMap: Record<XRef, XRef>, options: Map, vgpuMap: Record<XRef, XRef>], string];
  'VM.snapshot': [[vm: XRef, newName: string, ignoreVdis: XRef[]], XRef];
  'VM.checkpoint': [[vm: XRef, newName: string], XRef];
  'VM.revert': [[snapshot: XRef], string];
  'VM.clone': [[vm: XRef, newName: string], XRef];
  'VM.destroy': [[self: XRef], string];
  'VM.set_VCPUs_number_live': [[self: XRef, nvcpu: number], string];
  'VM.set_memory_dynamic_range': [[self: XRef, min: number, max: number], string];
  'VM.set_memory_limits': [[self: XRef, staticMin: number, staticMax: number, dynamicMin: number, dynamicMax: number], string];
  'VM.set_VCPUs_max': [[self: XRef, value: number], string];
  'VM.set_VCPUs_at_startup': [[self: XRef, value: number], string];
  'VM.set_is_a_template': [[self: XRef, value: boolean], string];
  'VM.set_name_label': [[self: XRef, value: string], string];
  'VM.set_name_description': [[self: XRef, value: string], string];
  'VM.add_to_other_config': [[self: XRef, key: string, value: string], string];
  'VM.remove_from_other_config': [[self: XRef, key: string], string];
  'VM.set_ha_restart_priority': [[self: XRef, value: string], string];
  'VM.set_affinity': [[self: XRef, value: XRef], string];
  'VM.get_record': [[self: XRef], Record<string, unknown>];
  'VDI.set_name_label': [[self: XRef, value: string], string];
  'VDI.destroy': [[self: XRef], string];
  'VDI.create': [[args: VdiCreate], XRef];
  'VDI.copy': [[vdi: XRef, sr: XRef, baseVdi: XRef, intoVdi: XRef], XRef];
  'VDI.resize': [[vdi: XRef, size: number], string];
  'VDI.resize_online': [[vdi: XRef, size: number], string];
  'VDI.add_to_other_config': [[self: XRef, key: string, value: string], string];
  'VDI.remove_from_other_config': [[self: XRef, key: string], string];
  'VDI.get_by_name_label': [[label: string], XRef[]];
  'VM.get_allowed_VBD_devices': [[vm: XRef], string[]];
  'VM.get_allowed_VIF_devices': [[vm: XRef], string[]];
  'VBD.create': [[args: VbdCreate], XRef];
  'VBD.plug': [[self: XRef], string];
  'VBD.unplug': [[self: XRef], string];
  'VBD.insert': [[vbd: XRef, vdi: XRef], string];
  'VBD.eject': [[vbd: XRef], string];
  'VBD.destroy': [[self: XRef], string];
  'VIF.create': [[args: VifCreate], XRef];
  'VIF.plug': [[self: XRef], string];
  'VIF.unplug': [[self: XRef], string];
  'VIF.destroy': [[self: XRef], string];
  'host.migrate_receive': [[host: XRef, network: XRef, options: Map], Map];
  'PGPU.get_remaining_capacity': [[self: XRef, vgpuType: XRef], number];
  'GPU_group.get_remaining_capacity': [[self: XRef, vgpuType: XRef], number];
  'VGPU.create': [[vm: XRef, group: XRef, device: string, otherConfig: Map, type: XRef], XRef];
  'VGPU.destroy': [[self: XRef], string];
}
export type XapiMethod = keyof XapiMethods;
export type ParamsOf<M extends XapiMethod> = XapiMethods[M][0];
export type ResultOf<M extends XapiMethod> = XapiMethods[M][1];

/** Each message's datamodel signature (parameter types after the session), as Appendix A prints them; the tuple length must match the typed parameters. */
export const SIGNATURES = {
  'session.login_with_password': ['string', 'string', 'string', 'string'],
  'session.logout': [],
  'event.from': ['string set', 'string', 'float'],
  'event.inject': ['string', 'string'],
  'task.get_record': ['task ref'],
  'task.cancel': ['task ref'],
  'task.destroy': ['task ref'],
  'VM.start': ['VM ref', 'bool', 'bool'],
  'VM.start_on': ['VM ref', 'host ref', 'bool', 'bool'],
  'VM.clean_shutdown': ['VM ref'],
  'VM.hard_shutdown': ['VM ref'],
  'VM.clean_reboot': ['VM ref'],
  'VM.hard_reboot': ['VM ref'],
  'VM.resume': ['VM ref', 'bool', 'bool'],
  'VM.pool_migrate': ['VM ref', 'host ref', '(string -> string) map'],
  'VM.migrate_send': ['VM ref', '(string -> string) map', 'bool', '(VDI ref -> SR ref) map', '(VIF ref -> network ref) map', '(string -> string) map', '(VGPU ref -> GPU_group ref) map'],
  'VM.assert_can_migrate': ['VM ref', '(string -> string) map', 'bool', '(VDI ref -> SR ref) map', '(VIF ref -> network ref) map', '(string -> string) map', '(VGPU ref -> GPU_group ref) map'],
  'VM.snapshot': ['VM ref', 'string', 'VDI ref set'],
  'VM.checkpoint': ['VM ref', 'string'],
  'VM.revert': ['VM ref'],
  'VM.clone': ['VM ref', 'string'],
  'VM.destroy': ['VM ref'],
  'VM.set_VCPUs_number_live': ['VM ref', 'int'],
  'VM.set_memory_dynamic_range': ['VM ref', 'int', 'int'],
  'VM.set_memory_limits': ['VM ref', 'int', 'int', 'int', 'int'],
  'VM.set_VCPUs_max': ['VM ref', 'int'],
  'VM.set_VCPUs_at_startup': ['VM ref', 'int'],
  'VM.set_is_a_template': ['VM ref', 'bool'],
  'VM.set_name_label': ['VM ref', 'string'],
  'VM.set_name_description': ['VM ref', 'string'],
  'VM.add_to_other_config': ['VM ref', 'string', 'string'],
  'VM.remove_from_other_config': ['VM ref', 'string'],
  'VM.set_ha_restart_priority': ['VM ref', 'string'],
  'VM.set_affinity': ['VM ref', 'host ref'],
  'VM.get_record': ['VM ref'],
  'VDI.set_name_label': ['VDI ref', 'string'],
  'VDI.destroy': ['VDI ref'],
  'VDI.create': ['VDI record'],
  'VDI.copy': ['VDI ref', 'SR ref', 'VDI ref', 'VDI ref'],
  'VDI.resize': ['VDI ref', 'int'],
  'VDI.resize_online': ['VDI ref', 'int'],
  'VDI.add_to_other_config': ['VDI ref', 'string', 'string'],
  'VDI.remove_from_other_config': ['VDI ref', 'string'],
  'VDI.get_by_name_label': ['string'],
  'VM.get_allowed_VBD_devices': ['VM ref'],
  'VM.get_allowed_VIF_devices': ['VM ref'],
  'VBD.create': ['VBD record'],
  'VBD.plug': ['VBD ref'],
  'VBD.unplug': ['VBD ref'],
  'VBD.insert': ['VBD ref', 'VDI ref'],
  'VBD.eject': ['VBD ref'],
  'VBD.destroy': ['VBD ref'],
  'VIF.create': ['VIF record'],
  'VIF.plug': ['VIF ref'],
  'VIF.unplug': ['VIF ref'],
  'VIF.destroy': ['VIF ref'],
  'host.migrate_receive': ['host ref', 'network ref', '(string -> string) map'],
  'PGPU.get_remaining_capacity': ['PGPU ref', 'VGPU_type ref'],
  'GPU_group.get_remaining_capacity': ['GPU_group ref', 'VGPU_type ref'],
  'VGPU.create': ['VM ref', 'GPU_group ref', 'string', '(string -> string) map', 'VGPU_type ref'],
  'VGPU.destroy': ['VGPU ref'],
} as const satisfies { [M in XapiMethod]: readonly string[] & { length: ParamsOf<M>['length'] } };
