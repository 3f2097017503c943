/**
 * Serve mode's live channel: one WebSocket to `/kiln/live` (the session cookie authenticates it)
 * that carries the jobs/events/vms subscriptions and the console channels. It reconnects with
 * backoff and re-subscribes; console channels that were open when it dropped are told so.
 */
import type { ConsoleClientMessage, ConsoleServerMessage, KilnConsoleBridge, LiveChannel, LiveClientMessage, LiveServerMessage } from '../../preload/api';

type Listener = (payload: unknown) => void;

export class LiveSocket {
  private ws: WebSocket | undefined;
  private readonly queue: string[] = [];
  private readonly listeners = new Map<LiveChannel, Set<Listener>>();
  private readonly consoles = new Map<string, (message: ConsoleServerMessage) => void>();
  private retryMs = 500;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly url: string) {}

  subscribe(channel: LiveChannel, listener: Listener): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.send({ type: 'subscribe', channel });
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(channel);
        this.send({ type: 'unsubscribe', channel }, false);
      }
    };
  }

  readonly console: KilnConsoleBridge = {
    open: (id, vmId, listener, kind) => {
      this.consoles.set(id, listener);
      this.send({ type: 'console-open', id, vmId, ...(kind === 'graphical' ? { kind } : {}) });
    },
    write: (id, data) => this.send({ type: 'console-write', id, data }, false),
    writeBytes: (id, data) => this.send({ type: 'console-write', id, data, encoding: 'base64' }, false),
    resize: (id, cols, rows) => this.send({ type: 'console-resize', id, cols, rows }, false),
    close: (id) => {
      this.consoles.delete(id);
      this.send({ type: 'console-close', id } satisfies ConsoleClientMessage, false);
    },
  };

  /** Sends now, or (when `queue`) once connected. */
  private send(message: LiveClientMessage, queue = true): void {
    const text = JSON.stringify(message);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
    else {
      if (queue) this.queue.push(text);
      this.connect();
    }
  }

  private connect(): void {
    if (this.ws || this.timer) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      // Subscriptions are the socket's state on the server: renew them on every connection.
      const pending = this.queue.splice(0).filter((text) => !text.includes('"type":"subscribe"'));
      for (const channel of this.listeners.keys()) ws.send(JSON.stringify({ type: 'subscribe', channel } satisfies LiveClientMessage));
      for (const text of pending) ws.send(text);
    };
    ws.onmessage = (event: MessageEvent<string>) => {
      let message: LiveServerMessage;
      try {
        message = JSON.parse(event.data) as LiveServerMessage;
      } catch {
        return;
      }
      if (message.type === 'message') {
        for (const listener of this.listeners.get(message.channel) ?? []) listener(message.payload);
        return;
      }
      this.consoles.get(message.id)?.(message);
      if (message.type === 'console-close' || message.type === 'console-error') this.consoles.delete(message.id);
    };
    ws.onclose = () => {
      this.ws = undefined;
      for (const [id, listener] of [...this.consoles]) listener({ type: 'console-close', id, reason: 'the connection to Kiln was lost' });
      this.consoles.clear();
      if (this.listeners.size > 0 || this.queue.length > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.connect();
        }, this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 15_000);
      }
    };
  }
}
