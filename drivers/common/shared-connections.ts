/**
 * One connection per endpoint, shared by every Kiln host behind it: a vCenter's ESXi hosts, a
 * XenServer pool's members. Keyed by what makes a connection the same (URL, user, pinned
 * thumbprint); opened once (callers arriving meanwhile wait for the same opening, and a failed
 * one is forgotten so the next call tries again), counted per user, closed with its last user.
 */
/** Runs START (the first read) on a client just connected; when it fails the client is closed, so a failed opening leaves no connection behind. */
export async function startedOrClosed(client: { close(): void }, start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (e) {
    client.close();
    throw e;
  }
}

export class SharedConnections<C> {
  private readonly entries = new Map<string, Promise<{ value: C; users: number }>>();

  constructor(private readonly closeOne: (value: C) => Promise<void>) {}

  /** The connection of KEY (opened by OPEN when there is none) and its release, which closes it with its last user. */
  async acquire(key: string, open: () => Promise<C>): Promise<{ value: C; release: () => Promise<void> }> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = open().then((value) => ({ value, users: 0 }));
      this.entries.set(key, entry);
      entry.catch(() => this.entries.delete(key));
    }
    const shared = await entry;
    shared.users++;
    let released = false;
    return {
      value: shared.value,
      release: async () => {
        if (released) return;
        released = true;
        if (--shared.users > 0) return;
        this.entries.delete(key);
        await this.closeOne(shared.value);
      },
    };
  }
}
