/**
 * The live serial console of a VM (xterm.js): connects over whichever transport the renderer
 * has, reconnects with backoff, sends key combinations and pasted text as keystrokes, follows
 * the pane's size, and says plainly why it cannot connect (VM not running, host unreachable).
 */
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import type { ConsoleServerMessage } from '../../../preload/api';
import type { Vm } from '../api/model';
import { kiln } from '../transport';
import { useTheme } from '../stores/theme-store';
import { KEY_COMBOS } from './KeyComboMenu';
import { ConsoleFrame } from './ConsoleFrame';
import { explain, scheduleRetry, type ConsoleStatus } from './console-status';


const THEMES = {
  dark: { background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3', selectionBackground: '#264f78' },
  light: { background: '#ffffff', foreground: '#1f2328', cursor: '#1f2328', selectionBackground: '#b6d7ff' },
};

let nextChannel = 1;

/** The serial console of a running VM (the Console tab decides when it applies). */
export function SerialConsole({ vm }: { vm: Vm }) {
  const container = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | undefined>(undefined);
  const channel = useRef<string | undefined>(undefined);
  const [status, setStatus] = useState<ConsoleStatus>({ kind: 'connecting', attempt: 1 });
  const [generation, setGeneration] = useState(0);
  const theme = useTheme((s) => s.theme);

  useEffect(() => {
    const terminal = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      // At 1.0 the cell clips underscores (mem_kb showed as "mem kb"); a little leading keeps them.
      lineHeight: 1.15,
      scrollback: 5000,
      theme: THEMES[useTheme.getState().theme],
    });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(container.current!);
    term.current = terminal;
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // not laid out yet
      }
    };
    refit();
    const observer = new ResizeObserver(refit);
    observer.observe(container.current!);
    const typed = terminal.onData((data) => channel.current && kiln.console.write(channel.current, data));
    const resized = terminal.onResize(({ cols, rows }) => channel.current && kiln.console.resize(channel.current, cols, rows));
    terminal.focus();
    return () => {
      observer.disconnect();
      typed.dispose();
      resized.dispose();
      terminal.dispose();
      term.current = undefined;
    };
  }, []);

  useEffect(() => {
    if (term.current) term.current.options.theme = THEMES[theme];
  }, [theme]);

  // One connection per generation; a failure schedules the next with backoff (1 s, 2 s, … 30 s).
  useEffect(() => {
    let disposed = false;
    let attempt = 0;
    let cancelRetry: (() => void) | undefined;

    const connect = () => {
      attempt++;
      const id = `console-${nextChannel++}`;
      channel.current = id;
      setStatus({ kind: 'connecting', attempt });
      kiln.console.open(id, vm.id, (message: ConsoleServerMessage) => {
        if (disposed || channel.current !== id) return;
        switch (message.type) {
          case 'console-opened': {
            attempt = 0;
            setStatus({ kind: 'connected' });
            const t = term.current;
            if (t) kiln.console.resize(id, t.cols, t.rows);
            return;
          }
          case 'console-data':
            term.current?.write(Uint8Array.from(atob(message.data), (c) => c.charCodeAt(0)));
            return;
          case 'console-error':
            channel.current = undefined;
            // 431: the VM is not in a state with a console; retrying will not help until it is.
            if (message.errorcode === 431) setStatus({ kind: 'refused', reason: message.errortext });
            else schedule(explain(message.errorcode, message.errortext));
            return;
          case 'console-close':
            channel.current = undefined;
            schedule(message.reason ?? 'the console closed');
            return;
        }
      });
    };

    const schedule = (reason: string) => {
      cancelRetry = scheduleRetry(attempt, reason, setStatus, () => !disposed && connect());
    };

    connect();
    return () => {
      disposed = true;
      cancelRetry?.();
      if (channel.current) kiln.console.close(channel.current);
      channel.current = undefined;
    };
  }, [vm.id, generation]);

  const send = (data: string) => {
    if (channel.current && status.kind === 'connected') kiln.console.write(channel.current, data);
    term.current?.focus();
  };

  return (
    <ConsoleFrame
      label="Console"
      status={status}
      combos={KEY_COMBOS}
      onCombo={(combo) => send(combo.bytes)}
      onType={send}
      onReconnect={() => setGeneration((g) => g + 1)}
      onPasteClosed={() => term.current?.focus()}
      refusedTitle="The console cannot open."
    >
      <div ref={container} className="console-terminal" aria-label={`Serial console of ${vm.displayname || vm.name}`} data-console-state={status.kind} />
    </ConsoleFrame>
  );
}
