/**
 * Work that runs once per host (the HA/reconcile pass, inventory refresh): in parallel, so that
 * twenty hosts cost about what the slowest costs, but bounded, so that a large zone does not open
 * every SSH or SOAP connection at the same moment; and each host under its own deadline, so that a
 * dead host (connects that hang until TCP gives up) never delays the others.
 */
import { DriverError } from '../../../drivers/types.js';

/** Runs fn for every item, at most `limit` at a time; resolves when all have settled (fn must not throw). */
export async function eachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/**
 * The promise's outcome, or a DriverError 'timeout' after ms. The work itself is not cancelled
 * (an SSH exec has its own timeout); its late result is ignored, and a late rejection swallowed.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DriverError(`${what}: no answer within ${Math.round(ms / 1000)} s`, 'timeout')), ms);
    timer.unref();
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
