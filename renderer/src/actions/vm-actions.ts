/**
 * The VM actions, one record each: the API command, how its parameters are built, and whether
 * it asks first. WHEN an action is offered is not written here: it comes from the engine's
 * registry (listApis `vmstates` of the command, whether the caller may use it at all, and the
 * host `capabilities` it needs, checked against the VM's host: never the hypervisor's name).
 */
import type { ApiParams } from '../../../preload/api';
import type { Vm } from '../api/model';
import { appliesInState, hasParam, paramAppliesInState, type ApiInfo } from '../stores/api-catalog-store';
import type { VmDialogKind } from '../stores/vm-dialog-store';
import type { Capabilities } from '../stores/host-capabilities-store';

export interface VmAction {
  id: string;
  label: string;
  /** The API command; its listApis vmstates gate the action. */
  command: string;
  params(vm: Vm): ApiParams;
  /** Asks before running; the text names what will happen. */
  confirm?: (names: string[]) => string;
  danger?: boolean;
  /** Offered for a multi-selection in the VM list. */
  bulk?: boolean;
  /** Opens a view or a form instead of calling the command at once (the console, the affinity groups, a change dialog). */
  opens?: 'console' | 'affinity' | VmDialogKind;
  /** Offered only when listApis lists this parameter of the command for the caller (admin-only placement). */
  needsParam?: string;
  /** Offered only when the VM's record says the action can apply (an ISO to detach, an empty drive to fill). */
  when?: (vm: Vm) => boolean;
  /** The button's tooltip, where the label alone could be mistaken for another action. */
  title?: string;
}

const listNames = (names: string[]) => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`);

export const VM_ACTIONS: VmAction[] = [
  { id: 'start', label: 'Start', command: 'startVirtualMachine', params: (vm) => ({ id: vm.id }), bulk: true },
  { id: 'start-on', label: 'Start on…', command: 'startVirtualMachine', params: (vm) => ({ id: vm.id }), needsParam: 'hostid', opens: 'start-on' },
  { id: 'stop', label: 'Stop', command: 'stopVirtualMachine', params: (vm) => ({ id: vm.id }), bulk: true },
  {
    id: 'force-stop', label: 'Force stop', command: 'stopVirtualMachine', params: (vm) => ({ id: vm.id, forced: true }), danger: true,
    confirm: (names) => `Power off ${listNames(names)} at once, without a guest shutdown? Unsaved data in the guest is lost.`,
  },
  { id: 'reboot', label: 'Reboot', command: 'rebootVirtualMachine', params: (vm) => ({ id: vm.id }), bulk: true },
  { id: 'console', label: 'Console', command: 'createConsoleEndpoint', params: (vm) => ({ virtualmachineid: vm.id }), opens: 'console' },
  { id: 'scale', label: 'Scale…', command: 'scaleVirtualMachine', params: (vm) => ({ id: vm.id }), opens: 'scale' },
  { id: 'change-offering', label: 'Change offering…', command: 'changeServiceForVirtualMachine', params: (vm) => ({ id: vm.id }), opens: 'offering' },
  { id: 'migrate', label: 'Migrate…', command: 'migrateVirtualMachine', params: (vm) => ({ virtualmachineid: vm.id }), opens: 'migrate' },
  // A stopped VM moves with its volumes (storageid, whose listApis vmstates say Stopped).
  { id: 'move-storage', label: 'Move to another cluster…', command: 'migrateVirtualMachine', params: (vm) => ({ virtualmachineid: vm.id }), needsParam: 'storageid', opens: 'move-storage' },
  // CloudStack's UI calls restoreVirtualMachine "Reinstall Instance": "Restore" read as restoring a backup.
  {
    id: 'restore', label: 'Reinstall…', command: 'restoreVirtualMachine', params: (vm) => ({ virtualmachineid: vm.id }), opens: 'restore', danger: true,
    title: 'Reinstall from its template (or ISO): the root disk is made again and what was written to it is lost. Not a backup restore.',
  },
  {
    id: 'destroy', label: 'Destroy', command: 'destroyVirtualMachine', params: (vm) => ({ id: vm.id }), danger: true, bulk: true,
    confirm: (names) => `Destroy ${listNames(names)}? A destroyed VM can be recovered by an admin until it is expunged (expunge.delay).`,
  },
  { id: 'attach-iso', label: 'Attach ISO…', command: 'attachIso', params: (vm) => ({ virtualmachineid: vm.id }), opens: 'attach-iso', when: (vm) => !vm.isoid },
  {
    id: 'detach-iso', label: 'Detach ISO', command: 'detachIso', params: (vm) => ({ virtualmachineid: vm.id }), when: (vm) => !!vm.isoid,
    confirm: (names) => `Eject the ISO from the CD-ROM drive of ${listNames(names)}?`,
  },
  { id: 'reset-ssh-key', label: 'Reset SSH keys…', command: 'resetSSHKeyForVirtualMachine', params: (vm) => ({ id: vm.id }), opens: 'reset-ssh-key' },
  { id: 'affinity', label: 'Affinity groups…', command: 'updateVMAffinityGroup', params: (vm) => ({ id: vm.id }), opens: 'affinity' },
  { id: 'recover', label: 'Recover', command: 'recoverVirtualMachine', params: (vm) => ({ id: vm.id }) },
  {
    id: 'expunge', label: 'Expunge', command: 'expungeVirtualMachine', params: (vm) => ({ id: vm.id }), danger: true,
    confirm: (names) => `Expunge ${listNames(names)}? Its disks are deleted; this cannot be undone.`,
  },
  {
    id: 'unmanage', label: 'Unmanage', command: 'unmanageVirtualMachine', params: (vm) => ({ id: vm.id }), danger: true,
    confirm: (names) => `Unmanage ${listNames(names)}? Kiln forgets it: its volumes, NICs, snapshots and details leave Kiln. The VM stays on its hypervisor as it is, running or stopped, and can be imported again.`,
  },
];

/**
 * Whether the VM's host has a capability: its host's listHosts `capabilities` when the caller may
 * see them, else what the VM's record says (its `consoles` name the console facets); undefined
 * when nothing says, and the engine's answer stays the final word.
 */
export function vmHasCapability(vm: Vm, key: string, hostCapabilities?: Map<string, Capabilities>): boolean | undefined {
  const host = vm.hostid ? hostCapabilities?.get(vm.hostid) : undefined;
  if (host && key in host) return !!host[key];
  if (vm.consoles !== undefined && (key === 'consoleSerial' || key === 'consoleGraphical')) {
    const kinds = vm.consoles.split(',').filter(Boolean);
    return key === 'consoleSerial' ? kinds.includes('serial') : kinds.some((k) => k !== 'serial');
  }
  return undefined;
}

/** True unless the VM's host is known to lack a capability the command needs (listApis `capabilities`). */
export function hostCanRun(vm: Vm, apis: Map<string, ApiInfo>, command: string, hostCapabilities?: Map<string, Capabilities>): boolean {
  return (apis.get(command.toLowerCase())?.capabilities ?? []).every((key) => vmHasCapability(vm, key, hostCapabilities) !== false);
}

/** The actions offered for this VM in its current state, on its host. */
export function actionsFor(vm: Vm, apis: Map<string, ApiInfo>, hostCapabilities?: Map<string, Capabilities>): VmAction[] {
  return VM_ACTIONS.filter(
    (action) =>
      // An action that needs a parameter applies in that parameter's states (listApis param vmstates), else the command's.
      (action.needsParam ? paramAppliesInState(apis, action.command, action.needsParam, vm.state, [vm.state]) : appliesInState(apis, action.command, vm.state)) &&
      (!action.needsParam || hasParam(apis, action.command, action.needsParam)) &&
      (action.when?.(vm) ?? true) &&
      hostCanRun(vm, apis, action.command, hostCapabilities),
  );
}

/** The bulk actions the caller may use, whatever the states of the selected VMs. */
export function bulkActions(apis: Map<string, ApiInfo>): VmAction[] {
  return VM_ACTIONS.filter((action) => action.bulk && apis.has(action.command.toLowerCase()));
}
