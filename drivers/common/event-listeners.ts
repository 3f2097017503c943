/**
 * The listeners of a driver's event stream (HostSession.onEvent, a vCenter's or a pool's endpoint
 * events): added with an unsubscribe, called in turn for each event. A listener that throws does
 * not stop the others or the stream (its failure is its own), and one that unsubscribes or
 * subscribes another while an event is delivered changes only the next event's list.
 */
export class EventListeners<E> {
  private readonly listeners = new Set<(event: E) => void>();

  /** Adds LISTENER; the function returned removes it. */
  add(listener: (event: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: E): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the stream goes on.
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
