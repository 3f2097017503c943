/**
 * The contract between the renderer and whatever carries its calls: Electron IPC through the
 * preload bridge, or HTTP in serve mode. The renderer codes against `KilnBridge` only.
 */
export type ApiParams = Record<string, string | number | boolean | undefined>;

/** Every failure crosses the bridge in this one envelope, as CloudStack's error response. */
export interface KilnError {
  errorcode: number;
  cserrorcode?: number;
  errortext: string;
}

export type ApiEnvelope = Record<string, unknown>;

export interface KilnBridge {
  /** Calls one registry command; resolves with the inside of the `<command>response` envelope, error or not. */
  invoke(command: string, params?: ApiParams): Promise<ApiEnvelope>;
  /** Job progress and events; returns an unsubscribe function. */
  subscribe(channel: 'jobs' | 'events' | 'vms', listener: (message: unknown) => void): () => void;
}

/** IPC channel names, one map for main and preload (Rancher Desktop's typed channel idea). */
export const IPC = {
  invoke: 'kiln:invoke',
  subscribe: 'kiln:subscribe',
  message: 'kiln:message',
} as const;

/**
 * Turns a registry answer (the inside of `<command>response`) into a value or a thrown error,
 * the same way for IPC and HTTP, so the renderer sees one error shape whatever the transport.
 */
export function unwrapEnvelope(inner: ApiEnvelope): ApiEnvelope {
  if (typeof inner['errorcode'] === 'number') {
    const error = new Error(String(inner['errortext'] ?? 'request failed')) as Error & KilnError;
    error.errorcode = inner['errorcode'] as number;
    error.cserrorcode = inner['cserrorcode'] as number | undefined;
    error.errortext = error.message;
    throw error;
  }
  return inner;
}
