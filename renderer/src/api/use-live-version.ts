/**
 * A number that grows while a live channel reports changes, for lists that read their rows again
 * on a change notice instead of applying deltas (the images channel says only which row changed).
 * A download reports its progress often: notices within WAIT_MS make one reload, and the first
 * comes at most WAIT_MS late.
 */
import { useEffect, useState } from 'react';
import type { LiveChannel } from '../../../preload/api';
import { kiln } from '../transport';

export function useLiveVersion(channel: LiveChannel, active = true, waitMs = 300): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!active) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = kiln.subscribe(channel, () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setVersion((v) => v + 1);
      }, waitMs);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [channel, active, waitMs]);
  return version;
}
