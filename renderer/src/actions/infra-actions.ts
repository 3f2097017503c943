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
  /** A cluster's: Managed, or Unmanaged (its hosts disconnected, Kiln leaves them alone). */
  managedstate?: string;
}

/** Per kind: its update and delete commands, and the update's name parameter (CloudStack calls a cluster's clustername). */
export const INFRA_COMMANDS: Record<InfraKind, { update: string; remove: string; nameParam: string; label: string }> = {
  zone: { update: 'updateZone', remove: 'deleteZone', nameParam: 'name', label: 'zone' },
  pod: { update: 'updatePod', remove: 'deletePod', nameParam: 'name', label: 'pod' },
  cluster: { update: 'updateCluster', remove: 'deleteCluster', nameParam: 'clustername', label: 'cluster' },
};

export interface InfraAction {
  id: 'rename' | 'edit' | 'disable' | 'enable' | 'unmanage' | 'manage' | 'delete';
  label: string;
  /** The kinds it applies to (all when absent). */
  kinds?: InfraKind[];
  command(kind: InfraKind): string;
  /** The parameter of the command the action sets (it must be published for the caller), if any besides id. */
  param?(kind: InfraKind): string;
  params(kind: InfraKind, record: InfraRecord, value?: string): ApiParams;
  /** Asks before running; the text names what will happen. */
  confirm?: (kind: InfraKind, record: InfraRecord) => string;
  danger?: boolean;
  /** Opens the rename form (or the zone's edit form) instead of calling at once. */
  opens?: 'rename' | 'edit';
  when?: (record: InfraRecord) => boolean;
}

const disabled = (r: InfraRecord) => r.allocationstate === 'Disabled';
const unmanaged = (r: InfraRecord) => r.managedstate === 'Unmanaged';

export const INFRA_ACTIONS: InfraAction[] = [
  {
    id: 'rename', label: 'Rename…', command: (k) => INFRA_COMMANDS[k].update, param: (k) => INFRA_COMMANDS[k].nameParam, opens: 'rename',
    params: (k, r, value) => ({ id: r.id, [INFRA_COMMANDS[k].nameParam]: value ?? r.name }),
  },
  {
    // Offered when updateZone publishes one of the fields the form sets (the form shows those it publishes).
    id: 'edit', label: 'Edit…', kinds: ['zone'], command: () => 'updateZone', opens: 'edit',
    params: (_k, r) => ({ id: r.id }),
  },
  {
    id: 'disable', label: 'Disable', command: (k) => INFRA_COMMANDS[k].update, param: () => 'allocationstate', when: (r) => !disabled(r),
    params: (_k, r) => ({ id: r.id, allocationstate: 'Disabled' }),
    confirm: (k, r) => `Disable ${INFRA_COMMANDS[k].label} ${r.name}? Kiln places no new VM in it until it is enabled again; the VMs already there keep running.`,
  },
  { id: 'enable', label: 'Enable', command: (k) => INFRA_COMMANDS[k].update, param: () => 'allocationstate', when: disabled, params: (_k, r) => ({ id: r.id, allocationstate: 'Enabled' }) },
  {
    id: 'unmanage', label: 'Unmanage…', kinds: ['cluster'], command: () => 'updateCluster', param: () => 'managedstate', when: (r) => !unmanaged(r), danger: true,
    params: (_k, r) => ({ id: r.id, managedstate: 'Unmanaged' }),
    confirm: (_k, r) =>
      `Unmanage cluster ${r.name}? Kiln disconnects its hosts (they show Disconnected) and stops managing them until the cluster is managed again: no HA (their VMs are not restarted elsewhere if a host fails), no reconcile, no new VM placed in it, and commands on its VMs are refused. The VMs on its hosts keep running. Manage reconnects the hosts.`,
  },
  { id: 'manage', label: 'Manage', kinds: ['cluster'], command: () => 'updateCluster', param: () => 'managedstate', when: unmanaged, params: (_k, r) => ({ id: r.id, managedstate: 'Managed' }) },
  {
    id: 'delete', label: 'Delete', command: (k) => INFRA_COMMANDS[k].remove, danger: true, params: (_k, r) => ({ id: r.id }),
    confirm: (k, r) => `Delete ${INFRA_COMMANDS[k].label} ${r.name}? Kiln refuses while anything is still in it.`,
  },
];

/** The actions this caller may use on RECORD: the command and its parameter are in listApis, and the record's state fits. */
export function infraActionsFor(apis: Map<string, ApiInfo>, kind: InfraKind, record: InfraRecord): InfraAction[] {
  return INFRA_ACTIONS.filter(
    (a) =>
      (!a.kinds || a.kinds.includes(kind)) &&
      hasApi(apis, a.command(kind)) &&
      (!a.param || hasParam(apis, a.command(kind), a.param(kind))) &&
      (a.opens !== 'edit' || zoneEditFields(apis).length > 0 || zoneTakesDetails(apis)) &&
      (!a.when || a.when(record)),
  );
}

/** A zone as listZones answers it, with the fields the edit form pre-fills. */
export interface ZoneRecord extends InfraRecord {
  dns1?: string;
  dns2?: string;
  internaldns1?: string;
  internaldns2?: string;
  ip6dns1?: string;
  ip6dns2?: string;
  guestcidraddress?: string;
  domain?: string;
  sortkey?: number | string;
  /** The zone's details (updateZone details), as listZones answers them. */
  resourcedetails?: Record<string, string>;
}

/** A row of the edit form's details. */
export interface DetailRow {
  key: string;
  value: string;
}

/** Whether this caller's updateZone takes details (the form then shows them). */
export function zoneTakesDetails(apis: Map<string, ApiInfo>): boolean {
  return hasParam(apis, 'updateZone', 'details');
}

/** Whether this caller's updateZone takes cleanupdetails (removing every detail sends it). */
export function zoneCleansDetails(apis: Map<string, ApiInfo>): boolean {
  return hasParam(apis, 'updateZone', 'cleanupdetails');
}

/**
 * Whether this caller has CloudStack's removeResourceDetail with its resourcetype and key (a
 * removed detail row is then one removeResourceDetail resourcetype=Zone key=… each).
 */
export function zoneRemovesDetail(apis: Map<string, ApiInfo>): boolean {
  return hasParam(apis, 'removeResourceDetail', 'resourcetype') && hasParam(apis, 'removeResourceDetail', 'resourceid') && hasParam(apis, 'removeResourceDetail', 'key');
}

/** The details rows the form starts with: the zone's, in their order. */
export function zoneDetailRows(zone: ZoneRecord): DetailRow[] {
  return Object.entries(zone.resourcedetails ?? {}).map(([key, value]) => ({ key, value }));
}

/** The ways this engine removes a zone's details: cleanupdetails (all), removeResourceDetail (one). */
export interface DetailRemovals {
  cleanup?: boolean;
  removeOne?: boolean;
}

/**
 * What saving the details rows takes, as CloudStack does it: updateZone details merges the pairs
 * given into the zone's (a new key, or a key whose value changed, as details[i].key/value; the
 * others are not sent), and a detail the rows no longer have is removed with removeResourceDetail
 * resourcetype=Zone key=… (REMOVE, one call per key) when the engine publishes it. No row left is
 * updateZone cleanupdetails=true when published (one call, no removeResourceDetail). A problem
 * when the rows cannot be saved as they are: a value without a key, a key twice, or a removal the
 * engine offers no way to do.
 */
export function zoneDetailsParams(zone: ZoneRecord, rows: DetailRow[], ways: DetailRemovals = {}): { params: ApiParams; remove: string[]; problem?: string } {
  const kept = rows.map((r) => ({ key: r.key.trim(), value: r.value.trim() })).filter((r) => r.key !== '' || r.value !== '');
  const before = zone.resourcedetails ?? {};
  const set = kept.filter((r) => before[r.key] !== r.value);
  const gone = Object.keys(before).filter((key) => !kept.some((r) => r.key === key));
  if (set.length === 0 && gone.length === 0) return { params: {}, remove: [] };
  const keyless = kept.find((r) => r.key === '');
  if (keyless) return { params: {}, remove: [], problem: `details: the value "${keyless.value}" needs a key` };
  const seen = new Set<string>();
  for (const r of kept) {
    if (seen.has(r.key)) return { params: {}, remove: [], problem: `details: the key ${r.key} is given twice` };
    seen.add(r.key);
  }
  if (kept.length === 0 && ways.cleanup) return { params: { cleanupdetails: 'true' }, remove: [] };
  if (gone.length > 0 && !ways.removeOne) {
    return { params: {}, remove: [], problem: `details: updateZone only adds or sets details, and this engine has no removeResourceDetail, so ${gone.length === 1 ? `detail ${gone[0]}` : `details ${gone.join(', ')}`} cannot be removed` };
  }
  const params: ApiParams = {};
  set.forEach((r, i) => {
    params[`details[${i}].key`] = r.key;
    params[`details[${i}].value`] = r.value;
  });
  return { params, remove: gone };
}

export type ZoneField = 'dns1' | 'dns2' | 'internaldns1' | 'internaldns2' | 'ip6dns1' | 'ip6dns2' | 'guestcidraddress' | 'domain' | 'sortkey';

/** The zone's edit form: updateZone's parameters, in the form's order, with their labels. */
export const ZONE_FIELDS: { param: ZoneField; label: string; placeholder?: string }[] = [
  { param: 'dns1', label: 'DNS 1', placeholder: 'e.g. 8.8.8.8' },
  { param: 'dns2', label: 'DNS 2' },
  { param: 'internaldns1', label: 'Internal DNS 1' },
  { param: 'internaldns2', label: 'Internal DNS 2' },
  { param: 'ip6dns1', label: 'IPv6 DNS 1', placeholder: 'e.g. 2001:4860:4860::8888' },
  { param: 'ip6dns2', label: 'IPv6 DNS 2' },
  { param: 'guestcidraddress', label: 'Guest CIDR', placeholder: 'e.g. 10.1.0.0/16' },
  { param: 'domain', label: 'Network domain' },
  { param: 'sortkey', label: 'Sort key' },
];

/** The fields of the form this caller's updateZone publishes (an engine without one does not get it). */
export function zoneEditFields(apis: Map<string, ApiInfo>): typeof ZONE_FIELDS {
  return hasApi(apis, 'updateZone') ? ZONE_FIELDS.filter((f) => hasParam(apis, 'updateZone', f.param)) : [];
}

/** The form's first values: the zone's, as listZones answers them ('' where it has none). */
export function zoneEditValues(zone: ZoneRecord): Record<ZoneField, string> {
  return Object.fromEntries(ZONE_FIELDS.map((f) => [f.param, zone[f.param] === undefined || zone[f.param] === null ? '' : String(zone[f.param])])) as Record<ZoneField, string>;
}

/**
 * updateZone's parameters for the values that changed (an emptied one is sent empty: the engine
 * clears it), or undefined when nothing did. The sort key (listZones answers it, so the form shows
 * it) is an integer a zone always has: an emptied one is not sent.
 */
export function zoneEditParams(zone: ZoneRecord, values: Record<ZoneField, string>, details: ApiParams = {}): ApiParams | undefined {
  const before = zoneEditValues(zone);
  const params: ApiParams = { ...details };
  for (const f of ZONE_FIELDS) {
    const value = values[f.param].trim();
    if (value === before[f.param]) continue;
    if (f.param === 'sortkey' && value === '') continue;
    params[f.param] = value;
  }
  return Object.keys(params).length ? { id: zone.id, ...params } : undefined;
}

/** What the engine would refuse in one field, from its published rule (pattern, length, an integer's type); the rest is the engine's 431. */
export function zoneFieldProblem(apis: Map<string, ApiInfo>, param: ZoneField, value: string): string | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  const published = apis.get('updatezone')?.params.find((p) => p.name.toLowerCase() === param);
  if (published?.type === 'integer' && !/^-?\d+$/.test(v)) return `${published.name}: "${v}" is not an integer`;
  return paramProblem(apis, 'updateZone', param, v);
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
