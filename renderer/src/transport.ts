/**
 * Picks the transport: Electron's preload bridge (`window.kiln`) when present, else serve mode's
 * HTTP API (the session cookie from the token URL authenticates; X-Kiln-UI marks UI calls) plus
 * the `/kiln/live` WebSocket for subscriptions and consoles. Nothing else in the renderer knows
 * which one it has.
 */
import { unwrapEnvelope, type ApiEnvelope, type ApiParams, type KilnBridge, type KilnConsoleBridge } from '../../preload/api';
import { LiveSocket } from './live-socket';

declare global {
  interface Window {
    kiln?: KilnBridge;
  }
}

function httpBridge(): KilnBridge {
  const live = new LiveSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/kiln/live`);
  return {
    async invoke(command: string, params: ApiParams = {}) {
      const body = new URLSearchParams({ command, response: 'json' });
      for (const [key, value] of Object.entries(params)) if (value !== undefined) body.set(key, String(value));
      const res = await fetch('/client/api', { method: 'POST', headers: { 'X-Kiln-UI': '1' }, body, credentials: 'same-origin' });
      let json: Record<string, ApiEnvelope>;
      try {
        json = (await res.json()) as Record<string, ApiEnvelope>;
      } catch {
        return { errorcode: res.status, errortext: `Kiln answered ${res.status} ${res.statusText}` };
      }
      return Object.values(json)[0] ?? {};
    },
    subscribe: (channel, listener) => live.subscribe(channel, listener),
    console: live.console,
  };
}

const bridge: KilnBridge = window.kiln ?? httpBridge();

const noConsole: KilnConsoleBridge = {
  open: (id, _vmId, listener) => listener({ type: 'console-error', id, errorcode: 432, errortext: 'this Kiln has no console channel' }),
  write: () => undefined,
  resize: () => undefined,
  close: () => undefined,
};

/** What sees every answered call (stores/job-names-store.ts learns the names in list answers). */
const observers: ((command: string, response: ApiEnvelope) => void)[] = [];

/** The renderer's API: resolves with the response, or throws an Error carrying errorcode and errortext. */
export const kiln = {
  invoke: async (command: string, params?: ApiParams): Promise<ApiEnvelope> => {
    const response = unwrapEnvelope(await bridge.invoke(command, params));
    for (const observe of observers) {
      try {
        observe(command, response);
      } catch {
        // An observer's fault is not the call's.
      }
    }
    return response;
  },
  /** Calls OBSERVER with each successful answer, before its caller gets it. */
  observe: (observer: (command: string, response: ApiEnvelope) => void): void => void observers.push(observer),
  subscribe: bridge.subscribe.bind(bridge),
  console: bridge.console ?? noConsole,
  /**
   * The WebSocket URL of a createConsoleEndpoint answer (`websocket.path` and `token`), on this
   * page's own origin (so the CSP's connect-src 'self' admits it). Undefined in the Electron
   * window, which is served from disk and has no HTTP server to upgrade.
   */
  consoleSocketUrl: (endpoint: { websocket?: { path?: unknown; token?: unknown } } | undefined): string | undefined => {
    const ws = endpoint?.websocket;
    if (window.kiln || typeof ws?.path !== 'string' || typeof ws.token !== 'string') return undefined;
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ws.path}?token=${encodeURIComponent(ws.token)}`;
  },
};
