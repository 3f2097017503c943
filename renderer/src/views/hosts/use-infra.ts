/** The hosts page's data: zones, pods, clusters, hosts and OS categories, loaded together. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { kiln } from '../../transport';
import { errorText, listOf, type Cluster, type Host, type Named, type Pod } from '../../api/model';
import type { HostsUpdate, InfraUpdate } from '../../../../preload/api';

type RecordsUpdate = HostsUpdate | InfraUpdate;

export interface Infra {
  zones: Named[];
  pods: Pod[];
  clusters: Cluster[];
  hosts: Host[];
  osCategories: Named[];
}

/**
 * Loads once, then follows the live channels: 'hosts' (state and capacity changes, hosts added or
 * removed) and 'zones', 'pods' and 'clusters' (created, changed or removed by any client), each
 * message applied to the rows it names, never a reload; reload() is the Refresh button and the
 * page's own actions (add zone, pod, cluster).
 */
type LiveList = 'hosts' | 'zones' | 'pods' | 'clusters';

export function useInfra(): { infra?: Infra; error?: string; reload(): Promise<void> } {
  const [infra, setInfra] = useState<Infra>();
  const [error, setError] = useState<string>();
  /** Live messages that arrived while a load ran: applied to its answer, which may have been read before them. */
  const duringLoad = useRef<[LiveList, RecordsUpdate][] | undefined>(undefined);
  const reload = useCallback(async () => {
    duringLoad.current = [];
    try {
      const [zones, pods, clusters, hosts, osCategories] = await Promise.all([
        kiln.invoke('listZones'),
        kiln.invoke('listPods'),
        kiln.invoke('listClusters'),
        kiln.invoke('listHosts'),
        kiln.invoke('listOsCategories').catch(() => ({})),
      ]);
      let loaded: Infra = {
        zones: listOf<Named>(zones, 'zone'),
        pods: listOf<Pod>(pods, 'pod'),
        clusters: listOf<Cluster>(clusters, 'cluster'),
        hosts: listOf<Host>(hosts, 'host'),
        osCategories: listOf<Named>(osCategories, 'oscategory'),
      };
      for (const [key, update] of duringLoad.current ?? []) loaded = applyTo(loaded, key, update);
      setInfra(loaded);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    } finally {
      duringLoad.current = undefined;
    }
  }, []);
  useEffect(() => {
    const follow = (key: LiveList) =>
      kiln.subscribe(key, (message) => {
        duringLoad.current?.push([key, message as RecordsUpdate]);
        setInfra((current) => current && applyTo(current, key, message as RecordsUpdate));
      });
    const offs = [follow('hosts'), follow('zones'), follow('pods'), follow('clusters')];
    void reload();
    return () => offs.forEach((off) => off());
  }, [reload]);
  return { infra, error, reload };
}

function applyTo(infra: Infra, key: LiveList, update: RecordsUpdate): Infra {
  return { ...infra, [key]: applyRecords<{ id: string }>(infra[key], update) };
}

/** A 'hosts', 'zones', 'pods' or 'clusters' message applied to its list: changed records replace theirs or are added, removed ids go. */
export function applyRecords<T extends { id: string }>(rows: T[], update: RecordsUpdate): T[] {
  const changed = new Map((update.changed as unknown as T[]).map((r) => [r.id, r]));
  const gone = new Set(update.removed);
  const kept = rows.filter((r) => !gone.has(r.id)).map((r) => changed.get(r.id) ?? r);
  const known = new Set(rows.map((r) => r.id));
  return [...kept, ...[...changed.values()].filter((r) => !known.has(r.id) && !gone.has(r.id))];
}
