/** The hosts page's data: zones, pods, clusters, hosts and OS categories, loaded together. */
import { useCallback, useEffect, useState } from 'react';
import { kiln } from '../../transport';
import { errorText, listOf, type Cluster, type Host, type Named, type Pod } from '../../api/model';
import type { HostsUpdate } from '../../../../preload/api';

export interface Infra {
  zones: Named[];
  pods: Pod[];
  clusters: Cluster[];
  hosts: Host[];
  osCategories: Named[];
}

/**
 * Loads once, then follows the 'hosts' live channel (state and capacity changes, hosts added or
 * removed) instead of polling; reload() is for the page's own actions (add zone, pod, cluster).
 */
export function useInfra(): { infra?: Infra; error?: string; reload(): Promise<void> } {
  const [infra, setInfra] = useState<Infra>();
  const [error, setError] = useState<string>();
  const reload = useCallback(async () => {
    try {
      const [zones, pods, clusters, hosts, osCategories] = await Promise.all([
        kiln.invoke('listZones'),
        kiln.invoke('listPods'),
        kiln.invoke('listClusters'),
        kiln.invoke('listHosts'),
        kiln.invoke('listOsCategories').catch(() => ({})),
      ]);
      setInfra({
        zones: listOf<Named>(zones, 'zone'),
        pods: listOf<Pod>(pods, 'pod'),
        clusters: listOf<Cluster>(clusters, 'cluster'),
        hosts: listOf<Host>(hosts, 'host'),
        osCategories: listOf<Named>(osCategories, 'oscategory'),
      });
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  useEffect(() => {
    void reload();
    return kiln.subscribe('hosts', (message) => setInfra((current) => (current ? { ...current, hosts: applyHosts(current.hosts, message as HostsUpdate) } : current)));
  }, [reload]);
  return { infra, error, reload };
}

/** A 'hosts' message applied to the list: changed records replace theirs or are added, removed ids go. */
export function applyHosts(hosts: Host[], update: HostsUpdate): Host[] {
  const changed = new Map((update.changed as unknown as Host[]).map((h) => [h.id, h]));
  const gone = new Set(update.removed);
  const kept = hosts.filter((h) => !gone.has(h.id)).map((h) => changed.get(h.id) ?? h);
  const known = new Set(hosts.map((h) => h.id));
  return [...kept, ...[...changed.values()].filter((h) => !known.has(h.id) && !gone.has(h.id))];
}
