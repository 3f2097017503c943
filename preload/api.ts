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
  /** Calls one registry command; resolves with the inside of the `<command>response` envelope. */
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
