/**
 * The logic behind the dialogs that change a VM where it is (offering, live scale, restore) or
 * move it (migrate, start on a chosen pod/cluster/host): the parameters they send and how they
 * read the engine's answer. What may be chosen comes from the engine: offerings from
 * listServiceOfferings virtualmachineid, hosts from findHostsForMigration with its reasons, the
 * placement fields from the parameters listApis gives this caller.
 */
import type { ApiParams } from '../../../preload/api';
import type { HostVerdict, Placement, Vm } from '../api/model';
import { errorCode } from '../api/model';
import { hasParam, type ApiInfo } from '../stores/api-catalog-store';

/** A host as findHostsForMigration answers: every host in the zone, with its verdict. */
export interface MigrationHost {
  id: string;
  name: string;
  state?: string;
  clustername?: string;
  suitableformigration: boolean;
  reason?: string;
  cpuallocated?: string;
  memoryallocated?: number;
  memorytotal?: number;
  /** The host reaches other storage than the VM's (another cluster): its volumes must move too. */
  requiresstoragemotion?: boolean;
}

/** The suitable hosts (to choose from) and the others (shown with the engine's reason), in the engine's order. */
export function migrationChoices(hosts: MigrationHost[]): { suitable: MigrationHost[]; refused: MigrationHost[] } {
  return { suitable: hosts.filter((h) => h.suitableformigration), refused: hosts.filter((h) => !h.suitableformigration) };
}

export function migrateParams(vm: Vm, hostid: string): ApiParams {
  return { virtualmachineid: vm.id, hostid };
}

/** migrateVirtualMachineWithVolume's parameters: the VM to HOSTID with every one of its volumes to POOL (a pool name there). */
export function storageMotionParams(vm: Vm, hostid: string, volumeIds: string[], pool: string): ApiParams {
  return { ...migrateParams(vm, hostid), ...Object.fromEntries(volumeIds.flatMap((id, i) => [[`migrateto[${i}].volume`, id], [`migrateto[${i}].pool`, pool]])) };
}

/** The placement parameters of startVirtualMachine this caller may pass (listApis lists them for admins only). */
export const START_PLACEMENT = ['podid', 'clusterid', 'hostid'] as const;
export type StartPlacement = Partial<Record<(typeof START_PLACEMENT)[number], string>>;

export function startPlacementOffered(apis: Map<string, ApiInfo>): (typeof START_PLACEMENT)[number][] {
  return START_PLACEMENT.filter((p) => hasParam(apis, 'startVirtualMachine', p));
}

/** startVirtualMachine's parameters: the VM and whichever of pod, cluster and host were chosen. */
export function startOnParams(vm: Vm, chosen: StartPlacement): ApiParams {
  const params: ApiParams = { id: vm.id };
  for (const key of START_PLACEMENT) if (chosen[key]) params[key] = chosen[key];
  return params;
}

/** restoreVirtualMachine's parameters: no templateid restores from the VM's current image (R29). */
export function restoreParams(vm: Vm, templateid: string | undefined): ApiParams {
  return templateid ? { virtualmachineid: vm.id, templateid } : { virtualmachineid: vm.id };
}

/** The VM a command answered with (a sync answer or a job result), with the placement the engine explains (admins). */
export type VmResult = Vm & { placement?: Placement };

export function vmOf(response: Record<string, unknown>): VmResult | undefined {
  const vm = response['virtualmachine'];
  return vm && typeof vm === 'object' ? (vm as VmResult) : undefined;
}

/** What a change did, as the dialog reports it: where the VM is now and whether it had to move. */
export interface ChangeOutcome {
  vm: VmResult;
  moved: boolean;
  from?: string;
  to?: string;
}

export function outcomeOf(before: Vm, after: VmResult): ChangeOutcome {
  const moved = before.hostid !== undefined && after.hostid !== undefined && before.hostid !== after.hostid;
  return { vm: after, moved, from: before.hostname, to: after.hostname };
}

/** The line that says what an offering change or scale did. */
export function offeringOutcomeText(outcome: ChangeOutcome, live: boolean): string {
  const { vm } = outcome;
  const size = vm.cpunumber !== undefined && vm.memory !== undefined ? ` (${vm.cpunumber} vCPU, ${vm.memory} MB)` : '';
  const name = vm.displayname || vm.name;
  if (!live) return `${name} now has offering ${vm.serviceofferingname ?? '?'}${size}; it applies at the next start.`;
  const move = outcome.moved ? ` Its host ${outcome.from ?? '?'} had no room, so it was migrated live to ${outcome.to ?? '?'} first.` : ` It stayed on ${vm.hostname ?? 'its host'}.`;
  return `${name} was scaled live to ${vm.serviceofferingname ?? '?'}${size}.${move}`;
}

/**
 * The hosts a placement refusal (533) names, as a placement to show: the engine's `placement`
 * verdicts, which it gives admins only; undefined for any other error.
 */
export function refusedPlacement(error: unknown): Placement | undefined {
  if (errorCode(error) !== 533) return undefined;
  const verdicts = (error as { details?: Record<string, unknown> }).details?.['placement'];
  return Array.isArray(verdicts) && verdicts.length > 0 ? { hosts: verdicts as HostVerdict[] } : undefined;
}

/**
 * The error text to show beside a refusal's host table: without the "(host: reason; …)" list the
 * engine appends, which the table already shows host by host.
 */
export function refusalSummary<E extends { text: string }>(error: E | undefined, refused: Placement | undefined): E | undefined {
  return error && refused ? { ...error, text: error.text.replace(/\s*\(.*\)\s*$/, '') } : error;
}
