/**
 * What the serial and the graphical console share around their pane: the toolbar (status, the
 * "Send keys" menu, paste as keystrokes, the console's own options, reconnect), the reason when it
 * cannot open, and the paste dialog.
 */
import { useState, type ReactNode } from 'react';
import { KeyComboMenu } from './KeyComboMenu';
import { PasteDialog } from './PasteDialog';
import { statusText, type ConsoleStatus } from './console-status';

export function ConsoleFrame<Combo extends { label: string }>(props: {
  label: string;
  status: ConsoleStatus;
  combos: readonly Combo[];
  onCombo(combo: Combo): void;
  onType(text: string): void | Promise<void>;
  onReconnect(): void;
  /** Where the keyboard goes back to after the paste dialog. */
  onPasteClosed(): void;
  refusedTitle: string;
  options?: ReactNode;
  children: ReactNode;
}) {
  const { status } = props;
  const [pasting, setPasting] = useState(false);
  const connected = status.kind === 'connected';
  return (
    <div className="console">
      <div className="toolbar console-toolbar" role="toolbar" aria-label={props.label}>
        <span className={`console-status console-${status.kind}`} role="status" aria-live="polite">
          {statusText(status)}
        </span>
        <KeyComboMenu combos={props.combos} disabled={!connected} onSend={props.onCombo} />
        <button type="button" disabled={!connected} onClick={() => setPasting(true)}>
          Paste as keystrokes…
        </button>
        {props.options}
        <button type="button" onClick={props.onReconnect} disabled={status.kind === 'connecting'}>
          Reconnect
        </button>
      </div>
      {status.kind === 'refused' && (
        <div className="console-message" role="alert">
          <strong>{props.refusedTitle}</strong> {status.reason}
        </div>
      )}
      {props.children}
      {pasting && (
        <PasteDialog
          onClose={() => {
            setPasting(false);
            props.onPasteClosed();
          }}
          onType={props.onType}
        />
      )}
    </div>
  );
}
