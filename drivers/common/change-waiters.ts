/**
 * Waiting on a driver's live inventory (a vCenter's property collector cache, a pool's xapi event
 * feed): a caller waits until a condition on the inventory holds, checked again after every change
 * the inventory applies (the inventory calls wake()), so no waiter polls the hypervisor. A wait
 * ends at once when it already holds, fails after its timeout, and fails when its signal aborts.
 * How those failures are thrown is the driver's: its own error layer maps them.
 */
export type WaitFailure = 'cancelled' | 'timeout';

export class ChangeWaiters {
  private readonly waiters = new Set<() => void>();

  /** FAIL makes the error a failed wait rejects with, from its message and why it failed. */
  constructor(private readonly fail: (message: string, why: WaitFailure) => Error) {}

  /** Checks every wait again: the inventory has changed. */
  wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `done()` holds (checked now and after every wake), or rejects after timeoutMs or when SIGNAL aborts. */
  until(done: () => boolean, timeoutMs: number, what: string, signal?: AbortSignal): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const onAbort = () => finish(this.fail(`${what}: cancelled`, 'cancelled'));
      const timer = setTimeout(() => finish(this.fail(`${what}: not seen within ${timeoutMs} ms`, 'timeout')), timeoutMs);
      this.waiters.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
