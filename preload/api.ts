/**
 * The contract between the renderer and whatever carries its calls: Electron IPC through the
 * preload bridge, or HTTP plus the `/kiln/live` WebSocket in serve mode. The renderer codes
 * against `KilnBridge` only.
 */
export type ApiParams = Record<string, string | number | boolean | undefined>;

/** Every failure crosses the bridge in this one envelope, as CloudStack's error response. */
export interface KilnError {
  errorcode: number;
  cserrorcode?: number;
  errortext: string;
}

export type ApiEnvelope = Record<string, unknown>;

/** images: a template or ISO was registered, changed its download state or was deleted (the payload says which row; lists read it again). */
export type LiveChannel = 'jobs' | 'events' | 'vms' | 'hosts' | 'images' | 'zones' | 'pods' | 'clusters';

/**
 * The console channel's messages, the same over IPC and over the live WebSocket: a VM's serial
 * console, or (kind `graphical`) its display's RFB bytes, for the Electron window, which has no
 * HTTP server for createConsoleEndpoint's WebSocket. Guest bytes travel base64-encoded
 * (`console-data`); keystrokes travel as UTF-8 text (`console-write`), RFB bytes as base64
 * (`console-write` with encoding base64). A failure is `console-error` with the API's error envelope.
 */
export type ConsoleKind = 'serial' | 'graphical';

export type ConsoleServerMessage =
  | { type: 'console-opened'; id: string }
  | { type: 'console-data'; id: string; data: string }
  | { type: 'console-close'; id: string; reason?: string }
  | ({ type: 'console-error'; id: string } & KilnError);

export type ConsoleClientMessage =
  | { type: 'console-open'; id: string; vmId: string; kind?: ConsoleKind }
  | { type: 'console-write'; id: string; data: string; encoding?: 'base64' }
  | { type: 'console-resize'; id: string; cols: number; rows: number }
  | { type: 'console-close'; id: string };

/** Live-channel messages that are not console traffic (serve mode's WebSocket). */
export type LiveClientMessage = ConsoleClientMessage | { type: 'subscribe'; channel: LiveChannel } | { type: 'unsubscribe'; channel: LiveChannel };
export type LiveServerMessage = ConsoleServerMessage | { type: 'message'; channel: LiveChannel; payload: unknown };

export interface KilnConsoleBridge {
  /** Opens the serial console of a VM on channel `id` (chosen by the caller, unique per page); messages for it go to `listener`. */
  open(id: string, vmId: string, listener: (message: ConsoleServerMessage) => void, kind?: ConsoleKind): void;
  /** Sends keystrokes (UTF-8 text) to the guest. */
  write(id: string, data: string): void;
  /** Sends raw bytes (base64) on a graphical channel (absent on bridges that have none). */
  writeBytes?(id: string, base64: string): void;
  /** Best effort: a serial line has no window size unless the transport can carry one. */
  resize(id: string, cols: number, rows: number): void;
  close(id: string): void;
}

export interface KilnBridge {
  /** Calls one registry command; resolves with the inside of the `<command>response` envelope, error or not. */
  invoke(command: string, params?: ApiParams): Promise<ApiEnvelope>;
  /** Job progress and events; returns an unsubscribe function. */
  subscribe(channel: LiveChannel, listener: (message: unknown) => void): () => void;
  /** Serial-console channels (optional so that older bridges still satisfy the contract). */
  console?: KilnConsoleBridge;
}

/**
 * What the 'vms' subscription delivers (main/engine/vm/vm-feed.ts): the full records of VMs added
 * or changed since the last message, as listVirtualMachines answers them, and the ids of VMs gone.
 */
export interface VmsUpdate {
  changed: Record<string, unknown>[];
  removed: string[];
}

/** What the 'hosts' subscription delivers (main/engine/hosts/host-feed.ts): host records as listHosts answers them, and the ids of hosts gone. */
export type HostsUpdate = VmsUpdate;

/** What the 'events' subscription delivers (main/engine/live/event-feed.ts): new event records as listEvents answers them, newest first; `removed` is always empty. */
export type EventsUpdate = VmsUpdate;

/** What the 'zones', 'pods' and 'clusters' subscriptions deliver (main/engine/live/infra-feed.ts): records as listZones, listPods and listClusters answer them, and the ids of those gone. */
export type InfraUpdate = VmsUpdate;

/** One job's change as engine.jobs.updates emits it; the 'jobs' subscription delivers them in batches (JobsUpdate). */
export interface JobUpdate {
  jobid: string;
  cmd: string;
  status: number;
  progress: number;
  message?: string;
  instanceType?: string;
  instanceId?: string;
  accountId?: number;
}

/**
 * What the 'jobs' subscription delivers, over IPC and the live WebSocket alike
 * (main/engine/live/job-feed.ts): the latest update of each job changed since the last message;
 * `removed` stays empty (jobs are not removed while the UI runs).
 */
export interface JobsUpdate {
  changed: JobUpdate[];
  removed: string[];
}

/** IPC channel names, one map for main and preload (Rancher Desktop's typed channel idea). */
export const IPC = {
  invoke: 'kiln:invoke',
  subscribe: 'kiln:subscribe',
  /** renderer → main: the page's last listener on a channel is gone. */
  unsubscribe: 'kiln:unsubscribe',
  message: 'kiln:message',
  /** renderer → main, `ConsoleClientMessage` (fire and forget). */
  console: 'kiln:console',
  /** main → renderer, `ConsoleServerMessage`. */
  consoleMessage: 'kiln:console-message',
} as const;

/** The error the renderer catches: an Error carrying the API's envelope fields, and the whole envelope in `details`. */
export type KilnApiError = Error & KilnError & { details: ApiEnvelope };

/**
 * Turns a registry answer (the inside of `<command>response`) into a value or a thrown error,
 * the same way for IPC and HTTP, so the renderer sees one error shape whatever the transport.
 * Extra envelope fields (a 533's `placement` list for admins) stay reachable as `details`.
 */
export function unwrapEnvelope(inner: ApiEnvelope): ApiEnvelope {
  if (typeof inner['errorcode'] === 'number') {
    const error = new Error(String(inner['errortext'] ?? 'request failed')) as KilnApiError;
    error.errorcode = inner['errorcode'] as number;
    error.cserrorcode = inner['cserrorcode'] as number | undefined;
    error.errortext = error.message;
    error.details = inner;
    throw error;
  }
  return inner;
}
