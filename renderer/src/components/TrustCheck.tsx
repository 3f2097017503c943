/**
 * The trust step of an add dialog (SSH host key or TLS certificate): read what the endpoint
 * presents before any credential is sent, show its fingerprint, and have the admin confirm it;
 * the dialog then pins exactly that one. One piece for the add-host and add-cluster dialogs.
 */
import type { ReactNode } from 'react';
import type { ShownError } from '../api/model';
import { ApiErrorText } from './Modal';

export interface TrustWords {
  /** "SSH host key", "TLS certificate": the section's name. */
  title: string;
  intro: ReactNode;
  check: string;
  again: string;
  reading: string;
  errorPrefix: string;
  /** After the URL: "presents this SSH host key:". */
  presents: string;
  compare: ReactNode;
  confirm: ReactNode;
}

export function TrustCheck({
  words, probe, probing, error, disabled, onCheck, confirmed, onConfirm,
}: {
  words: TrustWords; probe?: { url: string; fingerprint: string }; probing: boolean; error?: ShownError; disabled: boolean; onCheck(): void; confirmed: boolean; onConfirm(v: boolean): void;
}) {
  return (
    <section className="key-check" aria-label={words.title}>
      <h3>{words.title}</h3>
      {!probe && <p className="hint">{words.intro}</p>}
      <button type="button" onClick={onCheck} disabled={probing || disabled}>
        {probing ? words.reading : probe ? words.again : words.check}
      </button>
      <ApiErrorText error={error} prefix={words.errorPrefix} />
      {probe && (
        <div className="key-probe" role="status">
          <p>
            <span className="mono">{probe.url}</span> {words.presents}
          </p>
          <p className="fingerprint mono" data-fingerprint={probe.fingerprint}>
            {probe.fingerprint}
          </p>
          <p className="hint">{words.compare}</p>
          <label className="check">
            <input type="checkbox" checked={confirmed} onChange={(e) => onConfirm(e.target.checked)} /> {words.confirm}
          </label>
        </div>
      )}
    </section>
  );
}
