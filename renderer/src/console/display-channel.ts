/**
 * A VM's display as a channel noVNC can speak RFB over, carried by the console bridge instead of
 * a WebSocket: the Electron window has no HTTP server for createConsoleEndpoint's WebSocket, so
 * its RFB bytes go over IPC (console-open kind graphical; base64 both ways), the same
 * ConsoleChannels the serial console uses. noVNC only needs these members of a WebSocket.
 */
import type { RawChannel } from '@novnc/novnc';
import type { ConsoleServerMessage, KilnConsoleBridge } from '../../../preload/api';

const OPEN = 1;
const CLOSED = 3;

let nextDisplay = 1;

function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** A channel onto VM's display, or undefined when BRIDGE cannot carry bytes. */
export function displayChannel(bridge: KilnConsoleBridge, vmId: string): RawChannel | undefined {
  const writeBytes = bridge.writeBytes?.bind(bridge);
  if (!writeBytes) return undefined;
  const id = `display-${nextDisplay++}`;
  const end = (code: number, reason: string) => {
    if (channel.readyState === CLOSED) return;
    channel.readyState = CLOSED;
    channel.onclose?.({ code, reason, wasClean: code === 1000 });
  };
  const channel: RawChannel = {
    binaryType: 'arraybuffer',
    protocol: '',
    readyState: 0,
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
    send(data) {
      if (channel.readyState === OPEN) writeBytes(id, toBase64(data instanceof Uint8Array ? data : new Uint8Array(data)));
    },
    close() {
      bridge.close(id);
      end(1000, 'closed');
    },
  };
  bridge.open(
    id,
    vmId,
    (message: ConsoleServerMessage) => {
      switch (message.type) {
        case 'console-opened':
          channel.readyState = OPEN;
          channel.onopen?.({});
          return;
        case 'console-data':
          channel.onmessage?.({ data: Uint8Array.from(atob(message.data), (c) => c.charCodeAt(0)).buffer });
          return;
        case 'console-close':
          return end(1000, message.reason ?? 'the display closed');
        case 'console-error':
          return end(1011, message.errortext);
      }
    },
    'graphical',
  );
  return channel;
}
