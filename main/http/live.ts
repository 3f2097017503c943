/**
 * The UI's live channel: job progress, events and VM state changes pushed to the renderer, and
 * console channels onto running VMs (serial, or a display's RFB bytes). Serve mode carries it over one WebSocket at
 * `/kiln/live` (only for a browser holding a UI session, and only from the page's own origin);
 * the Electron shell carries the same console messages over IPC. Both use `ConsoleChannels`, so
 * the renderer sees one protocol whatever the transport (see `preload/api.ts`).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { IpcMain, WebContents } from 'electron';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Engine } from '../engine/engine.js';
import type { RunningServer } from './server.js';
import { refuseUpgrade } from './upgrade-router.js';
import { ApiError, toApiError } from '../engine/registry/errors.js';
import type { Caller } from '../engine/registry/types.js';
import { isLiveChannel, type LiveClient } from '../engine/live-hub.js';
import { IPC, type ConsoleClientMessage, type ConsoleKind, type ConsoleServerMessage, type LiveClientMessage, type LiveServerMessage } from '../../preload/api.js';
import { openDisplay } from '../engine/vm/graphical-console.js';

export const LIVE_PATH = '/kiln/live';
/** At most this many consoles per client; each holds a host session channel. */
const MAX_CONSOLES = 16;
/** Largest client message (keystrokes, a paste). */
const MAX_MESSAGE = 256 * 1024;
/** Stop reading the guest while this much is queued towards a slow client. */
const HIGH_WATER = 1024 * 1024;

/** A serial console that can also be told a window size (an ssh2 pty channel can). */
type ResizableDuplex = Duplex & { setWindow?: (rows: number, cols: number, height: number, width: number) => void };

/**
 * The console channels of one client (a WebSocket or an Electron window). Each channel pipes
 * `engine.vms.openConsole` (or, kind graphical, the VM's display: `openDisplay`) both ways;
 * failures become `console-error` with the API's envelope.
 */
export class ConsoleChannels {
  private readonly open = new Map<string, { serial?: ResizableDuplex; closed: boolean }>();

  constructor(
    private readonly engine: Engine,
    private readonly caller: Caller,
    private readonly send: (message: ConsoleServerMessage) => void,
    /** How much is still queued towards the client (for backpressure); 0 when unknown. */
    private readonly backlog: () => number = () => 0,
  ) {}

  handle(message: ConsoleClientMessage): void {
    switch (message.type) {
      case 'console-open':
        return this.openChannel(message.id, message.vmId, message.kind ?? 'serial');
      case 'console-write': {
        const serial = this.open.get(message.id)?.serial;
        if (serial && !serial.destroyed) serial.write(Buffer.from(message.data, message.encoding === 'base64' ? 'base64' : 'utf8'));
        return;
      }
      case 'console-resize': {
        // Best effort: a serial line has no size; a pty-backed channel is told the new one.
        const serial = this.open.get(message.id)?.serial;
        if (serial?.setWindow && message.cols > 0 && message.rows > 0) serial.setWindow(message.rows, message.cols, 0, 0);
        return;
      }
      case 'console-close':
        return this.closeChannel(message.id, 'closed by the client', false);
    }
  }

  closeAll(): void {
    for (const id of [...this.open.keys()]) this.closeChannel(id, 'client went away', false);
  }

  private openChannel(id: string, vmId: string, kind: ConsoleKind): void {
    if (this.open.has(id)) return this.fail(id, ApiError.param(`console channel ${id} is already open`));
    if (this.open.size >= MAX_CONSOLES) return this.fail(id, ApiError.param(`at most ${MAX_CONSOLES} consoles may be open at once`));
    const entry: { serial?: ResizableDuplex; closed: boolean } = { closed: false };
    this.open.set(id, entry);
    // A graphical channel carries the display's RFB bytes (the connection's close ends the forward).
    const opening: Promise<ResizableDuplex> = kind === 'graphical' ? openDisplay(this.engine, this.caller, vmId).then((display) => display.socket) : this.engine.vms.openConsole(this.caller, vmId);
    opening.then(
      (serial: ResizableDuplex) => {
        if (entry.closed) {
          serial.destroy();
          return;
        }
        entry.serial = serial;
        this.send({ type: 'console-opened', id });
        serial.on('data', (chunk: Buffer) => {
          if (entry.closed) return;
          this.send({ type: 'console-data', id, data: Buffer.from(chunk).toString('base64') });
          if (this.backlog() > HIGH_WATER) {
            serial.pause();
            const wait = setInterval(() => {
              if (entry.closed || this.backlog() <= HIGH_WATER / 4) {
                clearInterval(wait);
                if (!entry.closed) serial.resume();
              }
            }, 50);
          }
        });
        serial.on('error', (error: unknown) => {
          if (entry.closed) return;
          this.fail(id, toApiError(error));
        });
        serial.on('close', () => this.closeChannel(id, 'the console closed', true));
      },
      (error: unknown) => {
        if (!entry.closed) this.fail(id, toApiError(error));
      },
    );
  }

  private fail(id: string, error: ApiError): void {
    const entry = this.open.get(id);
    if (entry) {
      entry.closed = true;
      entry.serial?.destroy();
      this.open.delete(id);
    }
    this.send({ type: 'console-error', id, errorcode: error.errorCode, cserrorcode: error.csErrorCode, errortext: error.message });
  }

  private closeChannel(id: string, reason: string, tell: boolean): void {
    const entry = this.open.get(id);
    if (!entry || entry.closed) return;
    entry.closed = true;
    this.open.delete(id);
    entry.serial?.destroy();
    if (tell) this.send({ type: 'console-close', id, reason });
  }
}

/** Checks a client message's shape; returns undefined for anything malformed. */
export function parseClientMessage(raw: unknown): LiveClientMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const id = typeof m['id'] === 'string' && m['id'].length > 0 && m['id'].length <= 64 ? m['id'] : undefined;
  switch (m['type']) {
    case 'subscribe':
      return isLiveChannel(m['channel']) ? { type: 'subscribe', channel: m['channel'] } : undefined;
    case 'unsubscribe':
      return isLiveChannel(m['channel']) ? { type: 'unsubscribe', channel: m['channel'] } : undefined;
    case 'console-open':
      if (m['kind'] !== undefined && m['kind'] !== 'serial' && m['kind'] !== 'graphical') return undefined;
      return id && typeof m['vmId'] === 'string' ? { type: 'console-open', id, vmId: m['vmId'], ...(m['kind'] === 'graphical' ? { kind: 'graphical' as const } : {}) } : undefined;
    case 'console-write':
      if (m['encoding'] !== undefined && m['encoding'] !== 'base64') return undefined;
      return id && typeof m['data'] === 'string' ? { type: 'console-write', id, data: m['data'], ...(m['encoding'] === 'base64' ? { encoding: 'base64' as const } : {}) } : undefined;
    case 'console-resize':
      return id && Number.isInteger(m['cols']) && Number.isInteger(m['rows']) ? { type: 'console-resize', id, cols: m['cols'] as number, rows: m['rows'] as number } : undefined;
    case 'console-close':
      return id ? { type: 'console-close', id } : undefined;
    default:
      return undefined;
  }
}

/** True when the browser's Origin names the host it connected to (no cross-site WebSocket hijacking). */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host;
  } catch {
    return false;
  }
}

export interface LiveServer {
  /** Ends every live socket (the HTTP server's close waits for none of them). */
  close(): void;
}

/**
 * Serves `/kiln/live` on an existing HTTP server (ws in noServer mode, on its 'upgrade' event).
 * Every call runs as the local admin, as the UI's API calls do.
 */
export function attachLiveChannel(engine: Engine, running: Pick<RunningServer, 'server' | 'isUiSession' | 'onUpgrade'>): LiveServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });

  // The server's upgrade router has checked Host and parsed the URL and cookies (request-guard.ts).
  running.onUpgrade(LIVE_PATH, (req, socket, head) => {
    if (!running.isUiSession(req)) return refuseUpgrade(socket, 401);
    if (!sameOrigin(req)) return refuseUpgrade(socket, 403);
    wss.handleUpgrade(req, socket, head, (ws) => serveClient(engine, ws));
  });
  // Live sockets would otherwise keep server.close() waiting.
  running.server.on('close', () => closeAll());
  const closeAll = () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
  };
  return { close: closeAll };
}

function serveClient(engine: Engine, ws: WebSocket): void {
  const send = (message: LiveServerMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  const consoles = new ConsoleChannels(engine, engine.accounts.localAdmin(), send, () => ws.bufferedAmount);
  // This socket's subscriptions live in the engine's one hub and end with the socket.
  const live = engine.live.connect((channel, payload) => send({ type: 'message', channel, payload }));

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    let parsed: unknown;
    try {
      parsed = isBinary ? undefined : JSON.parse(data.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const message = parseClientMessage(parsed);
    if (!message) {
      ws.close(1003, 'malformed message');
      return;
    }
    if (message.type === 'subscribe') live.subscribe(message.channel);
    else if (message.type === 'unsubscribe') live.unsubscribe(message.channel);
    else {
      consoles.handle(message);
    }
  });
  ws.on('close', () => {
    live.close();
    consoles.closeAll();
  });
  ws.on('error', () => ws.terminate());
}

/**
 * The Electron shell's side of the live subscriptions: one hub client per window (webContents),
 * closed when the window is destroyed or its page navigates (a reload is a new page that
 * subscribes afresh), and each channel ended when the page unsubscribes from it.
 */
export function attachIpcSubscriptions(ipcMain: Pick<IpcMain, 'handle'>, engine: Pick<Engine, 'live'>): void {
  const byWindow = new Map<number, LiveClient>();
  const clientOf = (sender: WebContents): LiveClient => {
    let client = byWindow.get(sender.id);
    if (!client) {
      const created = engine.live.connect((channel, payload) => {
        if (!sender.isDestroyed()) sender.send(IPC.message, { channel, payload });
      });
      client = created;
      byWindow.set(sender.id, created);
      const id = sender.id;
      const drop = () => {
        created.close();
        if (byWindow.get(id) === created) byWindow.delete(id);
        sender.off('destroyed', drop);
        sender.off('did-navigate', drop);
      };
      sender.on('destroyed', drop);
      sender.on('did-navigate', drop);
    }
    return client;
  };
  ipcMain.handle(IPC.subscribe, (event, channel: unknown) => {
    if (isLiveChannel(channel)) clientOf(event.sender).subscribe(channel);
  });
  ipcMain.handle(IPC.unsubscribe, (event, channel: unknown) => {
    if (isLiveChannel(channel)) byWindow.get(event.sender.id)?.unsubscribe(channel);
  });
}

/** The Electron shell's side of the console channel: the same messages over IPC, per window. */
export function attachIpcConsole(ipcMain: IpcMain, engine: Engine, caller: Caller): void {
  const bySender = new Map<number, ConsoleChannels>();
  const channelsOf = (sender: WebContents) => {
    let channels = bySender.get(sender.id);
    if (!channels) {
      const id = sender.id;
      const created = new ConsoleChannels(engine, caller, (message) => {
        if (!sender.isDestroyed()) sender.send(IPC.consoleMessage, message);
      });
      channels = created;
      bySender.set(id, created);
      const drop = () => {
        created.closeAll();
        bySender.delete(id);
      };
      sender.once('destroyed', drop);
      // A reload is a new page: its consoles are new ones (in-page hash routes are not navigations).
      sender.once('did-navigate', drop);
    }
    return channels;
  };
  ipcMain.on(IPC.console, (event, raw: unknown) => {
    const message = parseClientMessage(raw);
    if (message && message.type !== 'subscribe' && message.type !== 'unsubscribe') channelsOf(event.sender).handle(message);
  });
}
