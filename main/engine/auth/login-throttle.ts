/**
 * Slows password guessing down without blocking the event loop. Per username: one password check
 * at a time (parallel guesses are refused, not queued), and after repeated failures a wait before
 * the next check, 1 s after the third failure, doubling up to 60 s. CloudStack itself only counts
 * failures and disables the user after incorrect.login.attempts.allowed, but it never disables a
 * root admin, so without this the root admin's password could be guessed as fast as scrypt runs.
 * Kept in memory: a restart forgets the waits, never the failure count in the database.
 */
interface Entry {
  failures: number;
  until: number;
  busy: boolean;
}

const FREE_FAILURES = 2;
const FIRST_WAIT_MS = 1000;
const MAX_WAIT_MS = 60_000;

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: () => number = Date.now,
    /** Bounds memory when someone tries many made-up usernames. */
    private readonly maxEntries = 10_000,
  ) {}

  /** Claims the one password check of KEY; answers the milliseconds to wait when KEY may not try now. */
  begin(key: string): number | undefined {
    const entry = this.entries.get(key);
    const now = this.clock();
    if (entry?.busy) return FIRST_WAIT_MS;
    if (entry && entry.until > now) return entry.until - now;
    if (entry) entry.busy = true;
    else {
      this.evict();
      this.entries.set(key, { failures: 0, until: 0, busy: true });
    }
    return undefined;
  }

  /** The check of KEY failed: the next one waits longer. */
  fail(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.failures += 1;
    const over = entry.failures - FREE_FAILURES;
    entry.until = over > 0 ? this.clock() + Math.min(FIRST_WAIT_MS * 2 ** (over - 1), MAX_WAIT_MS) : 0;
  }

  /** KEY logged in: its failures are forgotten. */
  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Releases the check claimed by begin (after fail, succeed or an error). */
  end(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.busy = false;
    if (entry.failures === 0) this.entries.delete(key);
  }

  private evict(): void {
    if (this.entries.size < this.maxEntries) return;
    const now = this.clock();
    for (const [key, entry] of this.entries) {
      if (this.entries.size < this.maxEntries) break;
      if (!entry.busy && entry.until <= now) this.entries.delete(key);
    }
    // Every entry is waiting or busy: drop the oldest rather than grow without bound.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
