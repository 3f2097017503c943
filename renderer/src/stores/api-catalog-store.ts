/**
 * The engine's command registry as listApis publishes it, fetched once and cached: which
 * commands this caller may use, and for VM commands the VM states in which they apply
 * (`vmstates`). Every action gate in the UI reads this; none is written out here.
 */
import { create } from 'zustand';
import { kiln } from '../transport';
import { errorText, listOf } from '../api/model';

export interface ApiInfo {
  name: string;
  isasync: boolean;
  vmstates?: string[];
  params: { name: string; required: boolean; type: string }[];
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
