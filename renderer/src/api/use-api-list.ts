/**
 * A list command's items for a view, reloaded when its parameters change or REFRESH grows (a live
 * channel's change notice, use-live-version.ts); `undefined` params skip the call.
 */
import { useEffect, useState } from 'react';
import type { ApiParams } from '../../../preload/api';
import { kiln } from '../transport';
import { errorText, listOf } from './model';

export function useApiList<T>(command: string, listName: string, params: ApiParams | undefined, refresh = 0): { items: T[]; loading: boolean; error?: string } {
  const [state, setState] = useState<{ items: T[]; loading: boolean; error?: string }>({ items: [], loading: params !== undefined });
  const key = params === undefined ? undefined : JSON.stringify(params);
  useEffect(() => {
    if (key === undefined) {
      setState({ items: [], loading: false });
      return;
    }
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    kiln.invoke(command, JSON.parse(key) as ApiParams).then(
      (r) => live && setState({ items: listOf<T>(r, listName), loading: false }),
      (e: unknown) => live && setState({ items: [], loading: false, error: errorText(e) }),
    );
    return () => {
      live = false;
    };
  }, [command, listName, key, refresh]);
  return state;
}
