/**
 * What each host can do, as listHosts publishes it (`capabilities`: the driver's set as the host
 * refined it, and its facets), for the VM action gates: listApis says which capabilities a
 * command needs, this says whether the VM's host has them. Only callers that may list hosts
 * (admins) get it; for others the gates use what the VM's own record says (its `consoles`).
 */
import { useEffect } from 'react';
import { create } from 'zustand';
import { kiln } from '../transport';
import { listOf } from '../api/model';

export type Capabilities = Record<string, boolean | number | string>;

interface HostCapabilities {
  byHost: Map<string, Capabilities>;
  /** Reads listHosts again (at most every few seconds): a VM is on a host the map does not have yet. */
  load(): void;
}

const RELOAD_MS = 5000;
let last = 0;
let deferred: ReturnType<typeof setTimeout> | undefined;

export const useHostCapabilities = create<HostCapabilities>((set, get) => ({
  byHost: new Map(),
  load() {
    // Asked again within RELOAD_MS (a host added since the last read): read once the interval is over, not never.
    const wait = RELOAD_MS - (Date.now() - last);
    if (wait > 0) {
      deferred ??= setTimeout(() => {
        deferred = undefined;
        get().load();
      }, wait);
      return;
    }
    last = Date.now();
    kiln.invoke('listHosts').then(
      (response) => set({ byHost: new Map(listOf<{ id: string; capabilities?: Capabilities }>(response, 'host').filter((h) => h.capabilities).map((h) => [h.id, h.capabilities!])) }),
      () => undefined,
    );
  },
}));

/** The capability map, read (again) when the caller may list hosts and HOSTID is not in it yet. */
export function useHostCapabilityMap(hostId: string | undefined, mayListHosts: boolean): Map<string, Capabilities> {
  const byHost = useHostCapabilities((s) => s.byHost);
  const load = useHostCapabilities((s) => s.load);
  useEffect(() => {
    if (mayListHosts && hostId && !byHost.has(hostId)) load();
  }, [mayListHosts, hostId, byHost, load]);
  return byHost;
}
