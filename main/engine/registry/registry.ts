/**
 * The one command registry. Every transport (HTTP, Electron IPC, the CLI) calls `execute` with a
 * command name, raw string parameters and a caller; the registry alone decides the envelope,
 * the error, the pagination and whether work runs as a job. Adding a command never touches a
 * transport.
 */
import { ApiError, toApiError } from './errors.js';
import { parseParams, TRANSPORT_PARAMS } from './params.js';
import { inCommand } from './command-scope.js';
import { listEnvelope, pageOfArray, pageWindow } from './list-page.js';
import type { ApiObject, Caller, CommandContext, CommandDef, ParamDef } from './types.js';
import type { Engine } from '../engine.js';

/** What a transport sends back: the HTTP status and the envelope `{<cmd>response: {...}}`. */
export interface ApiResult {
  status: number;
  responseName: string;
  body: ApiObject;
}

const LIST_PARAMS: ParamDef[] = [
  { name: 'keyword', type: 'string', description: 'List by keyword' },
  { name: 'page', type: 'integer', description: 'The page to return (1-based); needs pagesize' },
  { name: 'pagesize', type: 'integer', description: 'Rows per page; needs page; -1 for all' },
];

export class CommandRegistry {
  private readonly commands = new Map<string, CommandDef>();

  constructor(private readonly engine: Engine) {}

  register(...defs: CommandDef[]): void {
    for (const def of defs) {
      const key = def.name.toLowerCase();
      if (this.commands.has(key)) throw new Error(`command ${def.name} registered twice`);
      if (def.kind === 'list') def.params = [...def.params, ...LIST_PARAMS.filter((p) => !def.params.some((q) => q.name === p.name))];
      this.commands.set(key, def);
    }
  }

  get(name: string): CommandDef | undefined {
    return this.commands.get(name.toLowerCase());
  }

  /** The commands a role may call, for listApis. */
  visibleTo(caller: Caller): CommandDef[] {
    return [...this.commands.values()].filter((def) => def.roles.includes(caller.role)).sort((a, b) => a.name.localeCompare(b.name));
  }

  async execute(command: string | undefined, raw: Record<string, string>, caller: Caller): Promise<ApiResult> {
    const responseName = `${(command ?? '').toLowerCase()}response`;
    try {
      if (!command) throw new ApiError(432, 'no command given: pass command=<API name>');
      const def = this.commands.get(command.toLowerCase());
      // An unknown command and one the caller's role may not see look the same, as in CloudStack.
      if (!def || !def.roles.includes(caller.role)) {
        throw new ApiError(432, `The given command ${command} either does not exist, is not available for user, or not available from ip address`);
      }
      const params = Object.fromEntries(Object.entries(raw).filter(([k]) => !TRANSPORT_PARAMS.has(k.toLowerCase())));
      const ctx: CommandContext = { engine: this.engine, caller };
      // The command's name goes with its work (jobs too), so a deep lookup's refusal can name it.
      const body = await inCommand(def.name, () => this.run(def, ctx, parseParams(def.name, def.params, params, caller)));
      return { status: 200, responseName, body };
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.errorCode === 530) this.engine.log.error(`command ${command} failed`, error);
      return { status: apiError.errorCode, responseName, body: errorBody(apiError, caller) };
    }
  }

  private async run(def: CommandDef, ctx: CommandContext, args: import('./params.js').Args): Promise<ApiObject> {
    switch (def.kind) {
      case 'list': {
        // The window is checked before any work, and handed down so the query reads only the page.
        const window = pageWindow(args.int('page'), args.int('pagesize'), ctx.engine.settings.int('default.page.size'));
        const result = await def.handler(ctx, args, window);
        return listEnvelope(Array.isArray(result) ? pageOfArray(result, window) : result, def.response);
      }
      case 'sync': {
        const result = await def.handler(ctx, args);
        if (def.response === 'success') return { success: 'true', ...result };
        if (def.response === '') return result;
        return { [def.response]: result };
      }
      case 'async':
      case 'asyncCreate': {
        const work = await def.handler(ctx, args);
        const jobId = ctx.engine.jobs.submit(ctx.caller, def, args, work);
        return def.kind === 'asyncCreate' && work.instanceId ? { id: work.instanceId, jobid: jobId } : { jobid: jobId };
      }
    }
  }
}

/** CloudStack's ExceptionResponse; capacity details are hidden from non-root callers, as upstream does. */
export function errorBody(error: ApiError, caller?: Caller): ApiObject {
  const body: ApiObject = { uuidList: [], errorcode: error.errorCode, cserrorcode: error.csErrorCode, errortext: error.message };
  if (error.details && (error.errorCode !== 533 || caller?.role === 'Admin')) Object.assign(body, error.details);
  return body;
}

/** CloudStack's list envelope of an array built in memory (the page rules are pageWindow's). */
export function paginate(items: ApiObject[], page: number | undefined, pageSize: number | undefined, maxPageSize: number, objectName: string): ApiObject {
  return listEnvelope(pageOfArray(items, pageWindow(page, pageSize, maxPageSize)), objectName);
}
