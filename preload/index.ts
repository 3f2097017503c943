/**
 * The preload bridge: exposes one typed `window.kiln` through contextBridge. The page never
 * sees ipcRenderer itself (contextIsolation and sandbox are on).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC, type ApiEnvelope, type ApiParams, type KilnBridge } from './api';

const bridge: KilnBridge = {
  // The envelope crosses the bridge as plain data (an Error would lose its fields there).
  invoke: async (command: string, params?: ApiParams) => (await ipcRenderer.invoke(IPC.invoke, command, params ?? {})) as ApiEnvelope,
  subscribe(channel, listener) {
    const handler = (_event: IpcRendererEvent, message: { channel: string; payload: unknown }) => {
      if (message.channel === channel) listener(message.payload);
    };
    ipcRenderer.on(IPC.message, handler);
    void ipcRenderer.invoke(IPC.subscribe, channel);
    return () => ipcRenderer.off(IPC.message, handler);
  },
};

contextBridge.exposeInMainWorld('kiln', bridge);
