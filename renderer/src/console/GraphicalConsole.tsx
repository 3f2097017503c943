/**
 * The graphical console of a VM (noVNC): createConsoleEndpoint type=graphical hands out a
 * one-time token, and noVNC speaks RFB over the `/kiln/console` WebSocket it opens, which the
 * engine carries to the VM's display (KVM: VNC forwarded through the host's SSH connection). In
 * the Electron window, which has no HTTP server, the same bytes go over the console bridge.
 * Key combinations and pasted text go in as key events; the screen scales to fit the pane unless
 * the user asks for its real size. Reconnects with the serial console's backoff.
 */
import { useEffect, useRef, useState } from 'react';
import RFB from '@novnc/novnc';
import type { Vm } from '../api/model';
import { kiln } from '../transport';
import type { KilnApiError } from '../../../preload/api';
import { ConsoleFrame } from './ConsoleFrame';
import { displayChannel } from './display-channel';
import { GRAPHICAL_COMBOS, typedKeys, type KeyEvent } from './graphical-keys';
import { explain, scheduleRetry, type ConsoleStatus } from './console-status';

/** The pace of pasted text: one key every 40 ms, about 25 characters a second. */
const TYPING_INTERVAL_MS = 40;

export function GraphicalConsole({ vm }: { vm: Vm }) {
  const screen = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | undefined>(undefined);
  const [status, setStatus] = useState<ConsoleStatus>({ kind: 'connecting', attempt: 1 });
  const [scaled, setScaled] = useState(true);
  const scaledRef = useRef(scaled);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    scaledRef.current = scaled;
    if (rfb.current) rfb.current.scaleViewport = scaled;
  }, [scaled]);

  useEffect(() => {
    let disposed = false;
    let attempt = 0;
    let cancelRetry: (() => void) | undefined;
    const schedule = (reason: string) => {
      cancelRetry = scheduleRetry(attempt, reason, setStatus, () => !disposed && void connect());
    };

    const connect = async () => {
      attempt++;
      setStatus({ kind: 'connecting', attempt });
      let url: string | undefined;
      try {
        const answer = await kiln.invoke('createConsoleEndpoint', { virtualmachineid: vm.id, type: 'graphical' });
        url = kiln.consoleSocketUrl(answer['consoleendpoint'] as Parameters<typeof kiln.consoleSocketUrl>[0]);
      } catch (error) {
        if (disposed) return;
        const e = error as KilnApiError;
        // 431: no display, or the VM is not running; trying again will not help until that changes.
        if (e.errorcode === 431) setStatus({ kind: 'refused', reason: e.errortext });
        else schedule(explain(e.errorcode ?? 0, e.errortext ?? String(error)));
        return;
      }
      if (disposed) return;
      // The Electron window has no HTTP server: its RFB bytes go over the console bridge (IPC).
      const channel = url ?? displayChannel(kiln.console, vm.id);
      if (!channel) {
        setStatus({ kind: 'refused', reason: 'this window has no way to carry a display' });
        return;
      }
      const client = new RFB(screen.current!, channel);
      client.scaleViewport = scaledRef.current;
      client.resizeSession = false;
      client.background = 'rgb(13, 17, 23)';
      client.addEventListener('connect', () => {
        if (disposed) return;
        attempt = 0;
        setStatus({ kind: 'connected' });
        client.focus();
      });
      client.addEventListener('disconnect', (event) => {
        if (rfb.current === client) rfb.current = undefined;
        if (disposed) return;
        const clean = (event as CustomEvent<{ clean: boolean }>).detail?.clean;
        schedule(clean ? 'the display closed' : 'the connection to the display was lost');
      });
      client.addEventListener('credentialsrequired', () => {
        client.disconnect();
        if (!disposed) setStatus({ kind: 'refused', reason: 'the display asks for a password, which Kiln does not have' });
      });
      rfb.current = client;
    };

    void connect();
    return () => {
      disposed = true;
      cancelRetry?.();
      rfb.current?.disconnect();
      rfb.current = undefined;
    };
  }, [vm.id, generation]);

  const press = (events: KeyEvent[]) => {
    const client = rfb.current;
    if (!client || status.kind !== 'connected') return;
    for (const [keysym, code, down] of events) client.sendKey(keysym, code, down);
    client.focus();
  };

  // Pasted text goes in one character at a time: a guest's PS/2 keyboard buffer is small, and a
  // busy guest that drops key events (a lost Ctrl release) would type something else. The paste
  // dialog waits for each chunk, so it shows "Typing…" until the last key is in.
  const type = async (text: string) => {
    for (const key of typedKeys(text)) {
      if (!rfb.current) return;
      press(key);
      await new Promise((resolve) => setTimeout(resolve, TYPING_INTERVAL_MS));
    }
  };

  return (
    <ConsoleFrame
      label="Graphical console"
      status={status}
      combos={GRAPHICAL_COMBOS}
      onCombo={(combo) => press(combo.events)}
      onType={type}
      onReconnect={() => setGeneration((g) => g + 1)}
      onPasteClosed={() => rfb.current?.focus()}
      refusedTitle="The graphical console cannot open."
      options={
        <label className="console-option">
          <input type="checkbox" checked={scaled} onChange={(e) => setScaled(e.target.checked)} /> Scale to fit
        </label>
      }
    >
      <div ref={screen} className={scaled ? 'console-screen scaled' : 'console-screen'} aria-label={`Graphical console of ${vm.displayname || vm.name}`} data-console-state={status.kind} />
    </ConsoleFrame>
  );
}
