/**
 * The one subscription hub behind the UI's live channels (jobs, events, vms, hosts, images, zones, pods, clusters), for every transport:
 * the `/kiln/live` WebSocket and Electron IPC each connect a client per socket or window, and the
 * client's subscriptions end with it (socket closed, webContents destroyed or reloaded), or one by
 * one when a view unsubscribes. The hub holds one listener per channel on the engine's emitters,
 * attached while any client wants that channel, so a client that goes away leaves nothing behind
 * and the emitters need no unlimited listener count.
 */
import type { EventEmitter } from 'node:events';
import type { LiveChannel } from '../../preload/api.js';

export const LIVE_CHANNELS: readonly LiveChannel[] = ['jobs', 'events', 'vms', 'hosts', 'images', 'zones', 'pods', 'clusters'];

export function isLiveChannel(value: unknown): value is LiveChannel {
  return LIVE_CHANNELS.includes(value as LiveChannel);
}

/** Where each channel's payloads come from: an emitter and its event name. */
export type LiveSources = Record<LiveChannel, { emitter: EventEmitter; event: string }>;

export type LiveSend = (channel: LiveChannel, payload: unknown) => void;

export interface LiveClient {
  subscribe(channel: LiveChannel): void;
  unsubscribe(channel: LiveChannel): void;
  /** Ends every subscription of this client; later calls do nothing. */
  close(): void;
  readonly channels: ReadonlySet<LiveChannel>;
}

export class LiveHub {
  private readonly subscribers = new Map<LiveChannel, Set<LiveSend>>();
  private readonly attached = new Map<LiveChannel, (payload: unknown) => void>();

  constructor(private readonly sources: LiveSources) {}

  /** A client for one socket or window; SEND delivers a payload to it. */
  connect(send: LiveSend): LiveClient {
    const channels = new Set<LiveChannel>();
    let closed = false;
    // A send that throws (a socket or window half gone) ends that client, never the emitter.
    const deliver: LiveSend = (channel, payload) => {
      try {
        send(channel, payload);
      } catch {
        client.close();
      }
    };
    const client: LiveClient = {
      channels,
      subscribe: (channel) => {
        if (closed || channels.has(channel)) return;
        channels.add(channel);
        this.add(channel, deliver);
      },
      unsubscribe: (channel) => {
        if (!channels.delete(channel)) return;
        this.remove(channel, deliver);
      },
      close: () => {
        if (closed) return;
        closed = true;
        for (const channel of [...channels]) client.unsubscribe(channel);
      },
    };
    return client;
  }

  /** How many clients listen on CHANNEL (all channels when omitted). */
  subscriberCount(channel?: LiveChannel): number {
    if (channel) return this.subscribers.get(channel)?.size ?? 0;
    return LIVE_CHANNELS.reduce((n, c) => n + this.subscriberCount(c), 0);
  }

  private add(channel: LiveChannel, send: LiveSend): void {
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(send);
    if (!this.attached.has(channel)) {
      const listener = (payload: unknown) => {
        for (const s of [...(this.subscribers.get(channel) ?? [])]) s(channel, payload);
      };
      const { emitter, event } = this.sources[channel];
      emitter.on(event, listener);
      this.attached.set(channel, listener);
    }
  }

  private remove(channel: LiveChannel, send: LiveSend): void {
    const set = this.subscribers.get(channel);
    if (!set) return;
    set.delete(send);
    if (set.size > 0) return;
    this.subscribers.delete(channel);
    const listener = this.attached.get(channel);
    if (listener) {
      const { emitter, event } = this.sources[channel];
      emitter.off(event, listener);
      this.attached.delete(channel);
    }
  }
}
