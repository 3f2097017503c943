/**
 * What an API command module declares. The registry reads these declarations to parse and
 * check parameters, enforce roles, run async work as jobs, shape envelopes and answer listApis;
 * transports only hand it raw string parameters and a caller.
 */
import type { Engine } from '../engine.js';
import type { Args } from './params.js';
import type { ParamRule } from './param-rules.js';
import type { ListPage, PageWindow } from './list-page.js';

export type Role = 'Admin' | 'DomainAdmin' | 'User';
export const ALL_ROLES: Role[] = ['Admin', 'DomainAdmin', 'User'];
export const ADMIN_ONLY: Role[] = ['Admin'];
export const ADMINS: Role[] = ['Admin', 'DomainAdmin'];

export type ParamType = 'string' | 'uuid' | 'integer' | 'long' | 'boolean' | 'list' | 'map' | 'date';

export interface ParamDef {
  name: string;
  type: ParamType;
  description: string;
  required?: boolean;
  /** For lists: the element type (uuid lists are checked element by element). */
  of?: 'uuid' | 'string';
  /** Longest accepted value; CloudStack's default for strings is 255. */
  maxLength?: number;
  /** Only these roles may pass it (e.g. hostid on deploy is for admins): others get 531. */
  roles?: Role[];
  since?: string;
  /** VM states in which passing this parameter makes sense (listApis publishes them, as for commands). */
  vmStates?: string[];
  /** A format the value must follow (param-rules.ts); enforced here and published by listApis for the UI. */
  rule?: ParamRule;
}

export interface Caller {
  userId: number;
  userUuid: string;
  username: string;
  accountId: number;
  accountUuid: string;
  accountName: string;
  domainId: number;
  domainUuid: string;
  domainPath: string;
  role: Role;
}

export interface CommandContext {
  engine: Engine;
  caller: Caller;
}

export type ApiObject = Record<string, unknown>;

/** The background half of an async command; the registry runs it as a persisted job. */
export interface AsyncWork {
  /** jobinstancetype, e.g. VirtualMachine */
  instanceType?: string;
  /** uuid of the object the job works on; deploy returns it as `id` at once. */
  instanceId?: string;
  /** Jobs with the same key run one after another (CloudStack's per-VM sync queue). */
  queueKey?: string;
  run(job: JobHandle): Promise<ApiObject | undefined>;
}

export interface JobHandle {
  readonly uuid: string;
  progress(percent: number, message?: string): void;
}

interface CommandBase {
  name: string;
  description: string;
  since?: string;
  roles: Role[];
  params: ParamDef[];
  /** The object key inside the envelope: virtualmachine, zone, … ('success' gives {success:"true"}). */
  response: string;
  /** VM states in which the command makes sense; listApis publishes them for the UI's action gates. */
  vmStates?: string[];
  /**
   * Host capabilities the command needs, all of them truthy (keys of listHosts' `capabilities`,
   * capabilityMap): listApis publishes them, so the UI gates the action on the VM's host by
   * capability rather than by hypervisor name.
   */
  capabilities?: string[];
  /** Keys that must never be written to the event log or job params (passwords, private keys). */
  sensitive?: string[];
}

export interface SyncCommand extends CommandBase {
  kind: 'sync';
  handler(ctx: CommandContext, args: Args): Promise<ApiObject> | ApiObject;
}

export interface ListCommand extends CommandBase {
  kind: 'list';
  /**
   * PAGE is the window the caller asked for (list-page.ts). A command that pages in its query
   * answers a ListPage (queryPage); one that answers an array gets it sliced by the registry.
   */
  handler(ctx: CommandContext, args: Args, page: PageWindow): Promise<ApiObject[] | ListPage> | ApiObject[] | ListPage;
}

export interface AsyncCommand extends CommandBase {
  /** 'asyncCreate' answers {id, jobid} at once, like CloudStack's BaseAsyncCreateCmd. */
  kind: 'async' | 'asyncCreate';
  handler(ctx: CommandContext, args: Args): Promise<AsyncWork> | AsyncWork;
}

export type CommandDef = SyncCommand | ListCommand | AsyncCommand;

/** Helper that keeps each command module a single typed literal. */
export function defineCommand<T extends CommandDef>(def: T): T {
  return def;
}
