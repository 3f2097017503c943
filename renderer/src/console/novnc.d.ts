/** The part of noVNC's RFB client (@novnc/novnc, which ships no types) that Kiln uses. */
declare module '@novnc/novnc' {
  export interface RawChannel {
    binaryType: string;
    protocol: string;
    readyState: number;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: { data: ArrayBuffer }) => void) | null;
    onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
    onerror: ((event: unknown) => void) | null;
    send(data: ArrayBuffer | Uint8Array): void;
    close(): void;
  }
  export default class RFB extends EventTarget {
    /** A channel need not be a WebSocket: noVNC takes any object with these members (display-channel.ts). */
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket | RawChannel, options?: { shared?: boolean; credentials?: { password?: string }; wsProtocols?: string[] });
    scaleViewport: boolean;
    resizeSession: boolean;
    clipViewport: boolean;
    focusOnClick: boolean;
    viewOnly: boolean;
    background: string;
    disconnect(): void;
    focus(): void;
    sendCtrlAltDel(): void;
    sendKey(keysym: number, code: string | null, down?: boolean): void;
  }
}
