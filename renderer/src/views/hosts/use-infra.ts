/** The hosts page's data: zones, pods, clusters, hosts and OS categories, loaded together. */
import { useCallback, useEffect, useState } from 'react';
import { kiln } from '../../transport';
import { errorText, listOf, type Cluster, type Host, type Named, type Pod } from '../../api/model';

export interface Infra {
  zones: Named[];
  pods: Pod[];
  clusters: Cluster[];
  hosts: Host[];
  osCategories: Named[];
}

export function useInfra(pollMs = 10_000): { infra?: Infra; error?: string; reload(): Promise<void> } {
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
    const timer = setInterval(() => void reload(), pollMs);
    return () => clearInterval(timer);
  }, [reload, pollMs]);
  return { infra, error, reload };
}
