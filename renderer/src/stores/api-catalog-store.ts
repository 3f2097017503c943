/**
 * The engine's command registry as listApis publishes it, fetched once and cached: which
 * commands this caller may use, for VM commands the VM states in which they apply (`vmstates`),
 * and each parameter's format rule. Every action gate and field check in the UI reads this;
 * none is written out here.
 */
import { create } from 'zustand';
import { kiln } from '../transport';
import { errorText, listOf } from '../api/model';

export interface ApiInfo {
  name: string;
  isasync: boolean;
  vmstates?: string[];
  /** Kiln: the host capabilities (listHosts `capabilities` keys) the command needs, all of them. */
  capabilities?: string[];
  /**
   * Each parameter; an engine may declare per-parameter VM states too (`vmstates`), and Kiln the
   * format a value must follow (`pattern`, with `patternmessage` saying what a refused value is not).
   */
  params: { name: string; required: boolean; type: string; length?: number; vmstates?: string[]; pattern?: string; patternmessage?: string }[];
}

interface ApiCatalog {
  apis: Map<string, ApiInfo>;
  loaded: boolean;
  error?: string;
  load(): Promise<void>;
}

let loading: Promise<void> | undefined;

export const useApiCatalog = create<ApiCatalog>((set) => ({
  apis: new Map(),
  loaded: false,
  load() {
    loading ??= kiln.invoke('listApis').then(
      (response) => {
        const apis = new Map(listOf<ApiInfo>(response, 'api').map((api) => [api.name.toLowerCase(), api]));
        set({ apis, loaded: true, error: undefined });
      },
      (error: unknown) => {
        loading = undefined;
        set({ error: errorText(error) });
      },
    );
    return loading;
  },
}));

/** True when the caller may use the command at all. */
export function hasApi(apis: Map<string, ApiInfo>, command: string): boolean {
  return apis.has(command.toLowerCase());
}

/** True when the command is available and applies to a VM in this state (per its vmstates). */
export function appliesInState(apis: Map<string, ApiInfo>, command: string, state: string): boolean {
  const api = apis.get(command.toLowerCase());
  if (!api) return false;
  // A command without declared states is not gated by state.
  return api.vmstates === undefined || api.vmstates.includes(state);
}

/** The states in which updateVirtualMachine's guest-visible fields (name, OS type, details…) may change. */
export const STOPPED_STATES = ['Stopped', 'Created'];

/**
 * True when a parameter of a command may be used for a VM in this state: the parameter's own
 * listApis `vmstates` when the engine declares them, else the command's, else `fallback`.
 * (updateVirtualMachine takes display name and HA in any state but name, OS type and details
 * only when stopped: Kiln declares that per parameter; for a server that declares nothing the UI
 * falls back, and the engine's 431 stays the final word.)
 */
export function paramAppliesInState(apis: Map<string, ApiInfo>, command: string, param: string, state: string, fallback: string[]): boolean {
  const api = apis.get(command.toLowerCase());
  if (!api) return false;
  const declared = api.params.find((p) => p.name.toLowerCase() === param.toLowerCase())?.vmstates ?? api.vmstates ?? fallback;
  return declared.includes(state);
}

/**
 * True when listApis lists this parameter of the command for the caller: the engine lists only
 * the parameters the caller's role may pass (startVirtualMachine's hostid is for admins).
 */
export function hasParam(apis: Map<string, ApiInfo>, command: string, param: string): boolean {
  return apis.get(command.toLowerCase())?.params.some((p) => p.name.toLowerCase() === param.toLowerCase()) ?? false;
}

const patterns = new Map<string, RegExp>();

/**
 * What the engine would say about VALUE for a parameter, from the parameter's listApis declaration
 * (its length, and Kiln's pattern and patternmessage): the same rule and words as the engine's 431,
 * checked before the call. Undefined when the value is fine, empty, or the engine declares nothing.
 */
export function paramProblem(apis: Map<string, ApiInfo>, command: string, param: string, value: string): string | undefined {
  if (value === '') return undefined;
  const p = apis.get(command.toLowerCase())?.params.find((q) => q.name.toLowerCase() === param.toLowerCase());
  if (!p) return undefined;
  if (p.length !== undefined && value.length > p.length) return `Parameter ${p.name} is ${value.length} characters long; the limit is ${p.length}`;
  if (p.pattern) {
    let re = patterns.get(p.pattern);
    if (!re) patterns.set(p.pattern, (re = new RegExp(p.pattern)));
    if (!re.test(value)) return `${p.name}: "${value.length > 64 ? `${value.slice(0, 64)}…` : value}" ${p.patternmessage ?? 'is not in the form the engine accepts'}`;
  }
  return undefined;
}
