/**
 * Picks the transport: Electron's preload bridge when present, else HTTP to the serve-mode
 * server (the session cookie from the token URL authenticates; X-Kiln-UI marks UI calls).
 */
import type { ApiEnvelope, ApiParams, KilnBridge, KilnError } from '../../preload/api';

declare global {
  interface Window {
    kiln?: KilnBridge;
  }
}

export class ApiCallError extends Error {
  constructor(readonly error: KilnError) {
    super(error.errortext);
  }
}

const httpBridge: KilnBridge = {
  async invoke(command: string, params: ApiParams = {}) {
    const body = new URLSearchParams({ command, response: 'json' });
    for (const [key, value] of Object.entries(params)) if (value !== undefined) body.set(key, String(value));
    const res = await fetch('/client/api', { method: 'POST', headers: { 'X-Kiln-UI': '1' }, body, credentials: 'same-origin' });
    const json = (await res.json()) as Record<string, ApiEnvelope>;
    const inner = Object.values(json)[0] ?? {};
    if (typeof inner['errorcode'] === 'number') throw new ApiCallError(inner as unknown as KilnError);
    return inner;
  },
  subscribe() {
    return () => undefined;
  },
};

export const kiln: KilnBridge = window.kiln ?? httpBridge;
