/**
 * Operations Kiln itself has under way, by object: the events they cause are the user's, not the
 * platform's (a vMotion, a DRS move, a xapi HA restart nobody in Kiln asked for). Shared by the
 * endpoint drivers whose hypervisor reports changes on one stream for every client.
 */
export class InitiatedBy<K> {
  private readonly active = new Map<string, number>();

  constructor(private readonly keyOf: (key: K) => string) {}

  async run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const k = this.keyOf(key);
    this.active.set(k, (this.active.get(k) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      // No lingering mark: each operation reads its result back before it ends (read-your-writes),
      // so the events it causes are seen inside it, and a platform move right after is the platform's.
      const n = (this.active.get(k) ?? 1) - 1;
      if (n <= 0) this.active.delete(k);
      else this.active.set(k, n);
    }
  }

  has(key: K): boolean {
    return this.active.has(this.keyOf(key));
  }
}
