/**
 * A pool's inventory held in memory and fed by xapi's own event feed, as Xen Orchestra keeps it:
 * one event.from(classes, "", …) gives every object of the watched classes (token "" is "from the
 * beginning"), then the loop blocks on event.from with the returned token and applies what
 * changed. No object is ever read on its own and no class is re-listed, except after EVENTS_LOST,
 * a token xapi no longer knows, or a stream that failed and came back: then one full batch again,
 * applied as a diff (what it does not name has gone).
 */
import { ChangeWaiters } from '../../common/change-waiters.js';
import { isXapiError } from './errors.js';
import type { XapiClient } from './client.js';
import type { EventBatch } from './methods.js';
import type { XRef, XapiClass, XapiRecords } from './records.js';

export type InventoryChange = {
  [C in XapiClass]: { cls: C; ref: XRef; op: 'add' | 'mod' | 'del'; before?: XapiRecords[C]; after?: XapiRecords[C] };
}[XapiClass];

export interface InventoryOptions {
  /** How long one event.from blocks (seconds). */
  timeoutSeconds?: number;
  onChange?(change: InventoryChange): void;
  /** The feed failed (master gone, network cut); it retries on its own. */
  onStreamError?(e: unknown): void;
  /** The feed answered again after a failure. */
  onStreamRecovered?(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class XapiInventory {
  private readonly objects = new Map<XapiClass, Map<XRef, unknown>>();
  private readonly byLower: Map<string, XapiClass>;
  private token = '';
  private running = false;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private failing = false;
  /** event.from calls made, and the duration and object count of the last full sync (benchmarks, tests). */
  stats = { calls: 0, fullSyncs: 0, lastFullSync: { objects: 0, ms: 0 } };
  /** Plain errors, as the rest of this layer throws: AbortError and TimeoutError, which toDriverError makes 'timeout'. */
  private readonly waiters = new ChangeWaiters((message, why) => Object.assign(new Error(message), { name: why === 'cancelled' ? 'AbortError' : 'TimeoutError' }));

  constructor(
    private readonly client: XapiClient,
    readonly classes: XapiClass[],
    private readonly opts: InventoryOptions = {},
  ) {
    this.byLower = new Map(classes.map((c) => [c.toLowerCase(), c]));
    for (const c of classes) this.objects.set(c, new Map());
  }

  /** The first full batch, then the feed. Resolves once the inventory is complete. */
  async start(): Promise<void> {
    await this.fullSync();
    this.running = true;
    this.loop = this.run();
  }

  private async fetch(token: string, timeout: number): Promise<EventBatch> {
    this.abort = new AbortController();
    this.stats.calls++;
    return (await this.client.raw('event.from', [this.classes, token, timeout], { timeoutMs: (timeout + 30) * 1000, signal: this.abort.signal })) as EventBatch;
  }

  private async fullSync(): Promise<void> {
    const t0 = performance.now();
    // A short timeout: with objects there, xapi answers at once; an empty pool answers after it.
    const batch = await this.fetch('', 0.1);
    this.apply(batch, true);
    this.stats.fullSyncs++;
    this.stats.lastFullSync = { objects: [...this.objects.values()].reduce((n, m) => n + m.size, 0), ms: performance.now() - t0 };
  }

  private async run(): Promise<void> {
    let backoff = 250;
    while (this.running) {
      try {
        if (this.failing) await this.fullSync();
        else this.apply(await this.fetch(this.token, this.opts.timeoutSeconds ?? 30), false);
        if (this.failing) {
          this.failing = false;
          this.opts.onStreamRecovered?.();
        }
        backoff = 250;
      } catch (first) {
        if (!this.running) return;
        let error = first;
        if (isXapiError(first, 'EVENTS_LOST', 'EVENT_FROM_TOKEN_PARSE_FAILURE', 'SESSION_NOT_REGISTERED')) {
          // Not a failure of the endpoint: the feed starts over from a full batch.
          try {
            await this.fullSync();
            continue;
          } catch (again) {
            error = again;
          }
        }
        if (!this.failing) {
          this.failing = true;
          this.opts.onStreamError?.(error);
        }
        await sleep(backoff);
        backoff = Math.min(5_000, backoff * 2);
      }
    }
  }

  /**
   * Applies a whole batch before telling anyone: a listener judging one change (a VM halted) sees
   * the rest of the batch too (its host no longer live), whatever order xapi listed them in.
   */
  private apply(batch: EventBatch, full: boolean): void {
    const seen = full ? new Map<XapiClass, Set<XRef>>(this.classes.map((c) => [c, new Set()])) : undefined;
    const changes: InventoryChange[] = [];
    for (const ev of batch.events ?? []) {
      const cls = this.byLower.get(String(ev.class).toLowerCase());
      if (!cls) continue;
      const table = this.objects.get(cls)!;
      const before = table.get(ev.ref);
      if (ev.operation === 'del') {
        table.delete(ev.ref);
        seen?.get(cls)!.delete(ev.ref);
        if (before !== undefined) changes.push({ cls, ref: ev.ref, op: 'del', before } as InventoryChange);
        continue;
      }
      if (!ev.snapshot) continue;
      table.set(ev.ref, ev.snapshot);
      seen?.get(cls)!.add(ev.ref);
      changes.push({ cls, ref: ev.ref, op: before === undefined ? 'add' : 'mod', before, after: ev.snapshot } as InventoryChange);
    }
    if (seen) {
      for (const [cls, refs] of seen) {
        const table = this.objects.get(cls)!;
        for (const [ref, before] of [...table]) {
          if (refs.has(ref)) continue;
          table.delete(ref);
          changes.push({ cls, ref, op: 'del', before } as InventoryChange);
        }
      }
    }
    this.token = batch.token;
    for (const c of changes) this.emit(c);
    this.waiters.wake();
  }

  private emit(change: InventoryChange): void {
    try {
      this.opts.onChange?.(change);
    } catch {
      // A listener's failure is its own; the feed goes on.
    }
  }

  /**
   * Waits until the feed has delivered everything up to now: event.inject on an object gives a
   * token that covers it (read-your-writes after Kiln's own call, without reading the object).
   */
  async barrier(cls: XapiClass, ref: XRef, timeoutMs = 30_000): Promise<void> {
    const token = await this.client.call('event.inject', cls, ref);
    await this.until(() => this.token >= token, timeoutMs, `the event feed to reach ${token}`);
  }

  /** Resolves once `done()` holds (checked after every batch), or rejects after timeoutMs. */
  until(done: () => boolean, timeoutMs: number, what: string, signal?: AbortSignal): Promise<void> {
    return this.waiters.until(done, timeoutMs, what, signal);
  }

  get<C extends XapiClass>(cls: C, ref: XRef): XapiRecords[C] | undefined {
    return this.objects.get(cls)?.get(ref) as XapiRecords[C] | undefined;
  }

  all<C extends XapiClass>(cls: C): [XRef, XapiRecords[C]][] {
    return [...(this.objects.get(cls) ?? new Map<XRef, unknown>())] as [XRef, XapiRecords[C]][];
  }

  get size(): number {
    return [...this.objects.values()].reduce((n, m) => n + m.size, 0);
  }

  get streamFailing(): boolean {
    return this.failing;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    await this.loop?.catch(() => undefined);
  }
}
