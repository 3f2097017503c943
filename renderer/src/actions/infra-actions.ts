/**
 * The actions on a zone, pod or cluster of the Hosts page, one record each: the API command, its
 * parameters, and whether it asks first. WHETHER an action is offered comes from listApis (the
 * command is there for this caller, with the parameter it sets), and a value is checked against the
 * parameter's published rule before the call; the engine's answer (a 431 naming what is in the way
 * of a delete) stays the final word and is shown as it comes.
 */
import type { ApiParams } from '../../../preload/api';
import { hasApi, hasParam, paramProblem, type ApiInfo } from '../stores/api-catalog-store';

export type InfraKind = 'zone' | 'pod' | 'cluster';

/** What an action reads of a zone, pod or cluster record (listZones/listPods/listClusters). */
export interface InfraRecord {
  id: string;
  name: string;
  allocationstate?: string;
}

/** Per kind: its update and delete commands, and the update's name parameter (CloudStack calls a cluster's clustername). */
export const INFRA_COMMANDS: Record<InfraKind, { update: string; remove: string; nameParam: string; label: string }> = {
  zone: { update: 'updateZone', remove: 'deleteZone', nameParam: 'name', label: 'zone' },
  pod: { update: 'updatePod', remove: 'deletePod', nameParam: 'name', label: 'pod' },
  cluster: { update: 'updateCluster', remove: 'deleteCluster', nameParam: 'clustername', label: 'cluster' },
};

export interface InfraAction {
  id: 'rename' | 'disable' | 'enable' | 'delete';
  label: string;
  command(kind: InfraKind): string;
  /** The parameter of the command the action sets (it must be published for the caller), if any besides id. */
  param?(kind: InfraKind): string;
  params(kind: InfraKind, record: InfraRecord, value?: string): ApiParams;
  /** Asks before running; the text names what will happen. */
  confirm?: (kind: InfraKind, record: InfraRecord) => string;
  danger?: boolean;
  /** Opens the rename form instead of calling at once. */
  opens?: 'rename';
  when?: (record: InfraRecord) => boolean;
}

const disabled = (r: InfraRecord) => r.allocationstate === 'Disabled';

export const INFRA_ACTIONS: InfraAction[] = [
  {
    id: 'rename', label: 'Rename…', command: (k) => INFRA_COMMANDS[k].update, param: (k) => INFRA_COMMANDS[k].nameParam, opens: 'rename',
    params: (k, r, value) => ({ id: r.id, [INFRA_COMMANDS[k].nameParam]: value ?? r.name }),
  },
  {
    id: 'disable', label: 'Disable', command: (k) => INFRA_COMMANDS[k].update, param: () => 'allocationstate', when: (r) => !disabled(r),
    params: (_k, r) => ({ id: r.id, allocationstate: 'Disabled' }),
    confirm: (k, r) => `Disable ${INFRA_COMMANDS[k].label} ${r.name}? Kiln places no new VM in it until it is enabled again; the VMs already there keep running.`,
  },
  { id: 'enable', label: 'Enable', command: (k) => INFRA_COMMANDS[k].update, param: () => 'allocationstate', when: disabled, params: (_k, r) => ({ id: r.id, allocationstate: 'Enabled' }) },
  {
    id: 'delete', label: 'Delete', command: (k) => INFRA_COMMANDS[k].remove, danger: true, params: (_k, r) => ({ id: r.id }),
    confirm: (k, r) => `Delete ${INFRA_COMMANDS[k].label} ${r.name}? Kiln refuses while anything is still in it.`,
  },
];

/** The actions this caller may use on RECORD: the command and its parameter are in listApis, and the record's state fits. */
export function infraActionsFor(apis: Map<string, ApiInfo>, kind: InfraKind, record: InfraRecord): InfraAction[] {
  return INFRA_ACTIONS.filter((a) => hasApi(apis, a.command(kind)) && (!a.param || hasParam(apis, a.command(kind), a.param(kind))) && (!a.when || a.when(record)));
}

/** What the engine would refuse in the action's parameters, from their published rules (and a blank name, which it refuses too). */
export function infraParamsProblem(apis: Map<string, ApiInfo>, action: InfraAction, kind: InfraKind, params: ApiParams): string | undefined {
  const command = action.command(kind);
  const nameParam = INFRA_COMMANDS[kind].nameParam;
  if (action.id === 'rename' && String(params[nameParam] ?? '').trim() === '') return `${nameParam}: a ${kind} name cannot be empty`;
  for (const [param, value] of Object.entries(params)) {
    if (param === 'id') continue;
    const problem = paramProblem(apis, command, param, String(value));
    if (problem) return problem;
  }
  return undefined;
}
