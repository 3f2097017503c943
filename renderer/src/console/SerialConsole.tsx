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
import { appliesInState, useApiCatalog } from '../stores/api-catalog-store';
import { useTheme } from '../stores/theme-store';
import { KeyComboMenu } from './KeyComboMenu';
import { PasteDialog } from './PasteDialog';

type Status =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected' }
  | { kind: 'waiting'; seconds: number; attempt: number; reason: string }
  | { kind: 'refused'; reason: string };

const THEMES = {
  dark: { background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3', selectionBackground: '#264f78' },
  light: { background: '#ffffff', foreground: '#1f2328', cursor: '#1f2328', selectionBackground: '#b6d7ff' },
};

let nextChannel = 1;

export function SerialConsole({ vm }: { vm: Vm }) {
  const apis = useApiCatalog((s) => s.apis);
  // The console applies in the states the engine declares for it (createConsoleEndpoint's vmstates).
  const available = appliesInState(apis, 'createConsoleEndpoint', vm.state);
  if (!available) {
    return (
      <div className="console-message" role="status">
        <strong>The console is not available: {vm.displayname || vm.name} is {vm.state}.</strong>
        <p>The serial console opens while the VM is running. Start it, then come back here.</p>
      </div>
    );
  }
  return <TerminalPane key={vm.id} vm={vm} />;
}

function TerminalPane({ vm }: { vm: Vm }) {
  const container = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | undefined>(undefined);
  const channel = useRef<string | undefined>(undefined);
  const [status, setStatus] = useState<Status>({ kind: 'connecting', attempt: 1 });
  const [pasting, setPasting] = useState(false);
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
    let retry: ReturnType<typeof setTimeout> | undefined;
    let countdown: ReturnType<typeof setInterval> | undefined;

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
      const delay = Math.min(30, 2 ** Math.max(0, attempt - 1));
      let seconds = delay;
      setStatus({ kind: 'waiting', seconds, attempt, reason });
      countdown = setInterval(() => {
        seconds--;
        if (seconds > 0) setStatus({ kind: 'waiting', seconds, attempt, reason });
      }, 1000);
      retry = setTimeout(() => {
        clearInterval(countdown);
        if (!disposed) connect();
      }, delay * 1000);
    };

    connect();
    return () => {
      disposed = true;
      clearTimeout(retry);
      clearInterval(countdown);
      if (channel.current) kiln.console.close(channel.current);
      channel.current = undefined;
    };
  }, [vm.id, generation]);

  const send = (data: string) => {
    if (channel.current && status.kind === 'connected') kiln.console.write(channel.current, data);
    term.current?.focus();
  };

  return (
    <div className="console">
      <div className="toolbar console-toolbar" role="toolbar" aria-label="Console">
        <span className={`console-status console-${status.kind}`} role="status" aria-live="polite">
          {statusText(status)}
        </span>
        <KeyComboMenu disabled={status.kind !== 'connected'} onSend={send} />
        <button type="button" disabled={status.kind !== 'connected'} onClick={() => setPasting(true)}>
          Paste as keystrokes…
        </button>
        <button type="button" onClick={() => setGeneration((g) => g + 1)} disabled={status.kind === 'connecting'}>
          Reconnect
        </button>
      </div>
      {status.kind === 'refused' && (
        <div className="console-message" role="alert">
          <strong>The console cannot open.</strong> {status.reason}
        </div>
      )}
      <div ref={container} className="console-terminal" aria-label={`Serial console of ${vm.displayname || vm.name}`} data-console-state={status.kind} />
      {pasting && (
        <PasteDialog
          onClose={() => {
            setPasting(false);
            term.current?.focus();
          }}
          onType={send}
        />
      )}
    </div>
  );
}

function explain(code: number, text: string): string {
  if (code === 534) return `the host is unreachable (${text})`;
  return text;
}

function statusText(status: Status): string {
  switch (status.kind) {
    case 'connecting':
      return status.attempt > 1 ? `Connecting (attempt ${status.attempt})…` : 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'waiting':
      return `Disconnected: ${status.reason}. Retrying in ${status.seconds} s.`;
    case 'refused':
      return 'Not available';
  }
}
