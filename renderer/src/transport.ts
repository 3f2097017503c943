/**
 * Picks the transport: Electron's preload bridge when present, else HTTP to the serve-mode
 * server (the session cookie from the token URL authenticates; X-Kiln-UI marks UI calls).
 */
import { unwrapEnvelope, type ApiEnvelope, type ApiParams, type KilnBridge } from '../../preload/api';

declare global {
  interface Window {
    kiln?: KilnBridge;
  }
}

const httpBridge: KilnBridge = {
  async invoke(command: string, params: ApiParams = {}) {
    const body = new URLSearchParams({ command, response: 'json' });
    for (const [key, value] of Object.entries(params)) if (value !== undefined) body.set(key, String(value));
    const res = await fetch('/client/api', { method: 'POST', headers: { 'X-Kiln-UI': '1' }, body, credentials: 'same-origin' });
    const json = (await res.json()) as Record<string, ApiEnvelope>;
    return Object.values(json)[0] ?? {};
  },
  subscribe() {
    return () => undefined;
  },
};

const bridge: KilnBridge = window.kiln ?? httpBridge;

/** The renderer's API: resolves with the response, or throws an Error carrying errorcode and errortext. */
export const kiln = {
  invoke: async (command: string, params?: ApiParams): Promise<ApiEnvelope> => unwrapEnvelope(await bridge.invoke(command, params)),
  subscribe: bridge.subscribe.bind(bridge),
};
