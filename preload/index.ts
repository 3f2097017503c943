/**
 * The preload bridge: exposes one typed `window.kiln` through contextBridge. The page never
 * sees ipcRenderer itself (contextIsolation and sandbox are on).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC, type ApiEnvelope, type ApiParams, type ConsoleClientMessage, type ConsoleServerMessage, type KilnBridge, type LiveChannel } from './api';

/** Console listeners by channel id; one IPC listener fans out to them. */
const consoles = new Map<string, (message: ConsoleServerMessage) => void>();
ipcRenderer.on(IPC.consoleMessage, (_event: IpcRendererEvent, message: ConsoleServerMessage) => {
  consoles.get(message.id)?.(message);
  if (message.type === 'console-close' || message.type === 'console-error') consoles.delete(message.id);
});
const toMain = (message: ConsoleClientMessage) => ipcRenderer.send(IPC.console, message);

/** Live-channel listeners of this page; main holds one subscription per channel for the window. */
const listeners = new Map<LiveChannel, Set<(payload: unknown) => void>>();
ipcRenderer.on(IPC.message, (_event: IpcRendererEvent, message: { channel: LiveChannel; payload: unknown }) => {
  for (const listener of [...(listeners.get(message.channel) ?? [])]) listener(message.payload);
});

const bridge: KilnBridge = {
  // The envelope crosses the bridge as plain data (an Error would lose its fields there).
  invoke: async (command: string, params?: ApiParams) => (await ipcRenderer.invoke(IPC.invoke, command, params ?? {})) as ApiEnvelope,
  subscribe(channel, listener) {
    let set = listeners.get(channel);
    if (!set) {
      listeners.set(channel, (set = new Set()));
      void ipcRenderer.invoke(IPC.subscribe, channel);
    }
    const own = set;
    own.add(listener);
    return () => {
      own.delete(listener);
      // The page's last listener on the channel: main drops this window's subscription too.
      if (own.size === 0 && listeners.get(channel) === own) {
        listeners.delete(channel);
        void ipcRenderer.invoke(IPC.unsubscribe, channel);
      }
    };
  },
  console: {
    open(id, vmId, listener, kind) {
      consoles.set(String(id), listener);
      toMain({ type: 'console-open', id: String(id), vmId: String(vmId), ...(kind === 'graphical' ? { kind: 'graphical' as const } : {}) });
    },
    write: (id, data) => toMain({ type: 'console-write', id: String(id), data: String(data) }),
    writeBytes: (id, data) => toMain({ type: 'console-write', id: String(id), data: String(data), encoding: 'base64' }),
    resize: (id, cols, rows) => toMain({ type: 'console-resize', id: String(id), cols: Number(cols), rows: Number(rows) }),
    close(id) {
      consoles.delete(String(id));
      toMain({ type: 'console-close', id: String(id) });
    },
  },
};

contextBridge.exposeInMainWorld('kiln', bridge);
