/**
 * A live channel that carries changed records, not a hint to refetch: what the 'vms', 'hosts',
 * 'events', 'jobs', 'zones', 'pods' and 'clusters' channels share. Changes mark a record by its uuid; marks gather for a short moment and go out as
 * one message, { changed, removed }, with the changed records built once per batch (so a burst of
 * a hundred changes is a handful of messages and a constant number of statements each).
 *
 * The feed listens on the engine only while someone listens on it (the live hub, per subscribed
 * channel): no UI means no listener on the engine and nothing built.
 */
import { EventEmitter } from 'node:events';

/** How long marks gather before a batch goes out: short against a human, long against a burst. */
const BATCH_MS = 60;

export interface RecordBatch<T = Record<string, unknown>> {
  changed: T[];
  removed: string[];
}

export interface RecordFeedSource<T = Record<string, unknown>> {
  /** The emitter event the live hub listens to ('vms', 'hosts'). */
  event: string;
  /** Attaches the engine listeners that call mark(); returns what detaches them. */
  attach(mark: (uuid: string) => void): () => void;
  /**
   * The records of the marked uuids that still exist, and which of them are gone. A source that
   * reads them through the async command registry returns a promise; its batches still go out in
   * the order they were flushed.
   */
  build(uuids: string[]): RecordBatch<T> | Promise<RecordBatch<T>>;
}

export class RecordFeed<T = Record<string, unknown>> {
  readonly emitter = new EventEmitter();
  private readonly marked = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private detach: (() => void) | undefined;
  /** The last async batch on its way out (the next one waits for it, so batches keep their order). */
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly source: RecordFeedSource<T>) {
    const { event } = source;
    this.emitter.on('newListener', (name: string) => {
      if (name !== event || this.emitter.listenerCount(event) > 0) return;
      this.detach = source.attach((uuid) => this.mark(uuid));
    });
    this.emitter.on('removeListener', (name: string) => {
      if (name !== event || this.emitter.listenerCount(event) > 0) return;
      this.detach?.();
      this.detach = undefined;
      this.marked.clear();
    });
  }

  /** Marks the record with this uuid as changed; it goes out with the next batch. */
  mark(uuid: string): void {
    if (this.emitter.listenerCount(this.source.event) === 0) return;
    this.marked.add(uuid);
    this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
    this.timer.unref?.();
  }

  /** Sends the marked records now (also what the timer does). */
  flush(): void {
    this.timer = undefined;
    if (this.marked.size === 0) return;
    const uuids = [...this.marked];
    this.marked.clear();
    const batch = this.source.build(uuids);
    if (!(batch instanceof Promise)) {
      this.emitter.emit(this.source.event, batch);
      return;
    }
    // A batch that cannot be built is dropped, never thrown into the engine: the view's Refresh reads it.
    this.sending = this.sending.then(() => batch).then(
      (built) => void this.emitter.emit(this.source.event, built),
      () => undefined,
    );
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.marked.clear();
  }
}
