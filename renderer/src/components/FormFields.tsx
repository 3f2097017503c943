/** Labelled form controls for dialogs and editors (ids from useId, so two forms never clash). */
import { useId, type ReactNode } from 'react';

interface Option {
  id: string;
  name: string;
}

export function SelectField({
  label, value, onChange, options, placeholder = 'Choose…', hint, disabled, required,
}: { label: string; value: string; onChange(v: string): void; options: Option[]; placeholder?: string; hint?: ReactNode; disabled?: boolean; required?: boolean }) {
  const id = useId();
  return (
    <div className="form-row">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled} required={required} aria-describedby={hint ? `${id}-hint` : undefined}>
        <option value="">{placeholder}</option>
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}

export function TextField({
  label, value, onChange, hint, problem, placeholder, type = 'text', disabled, autoComplete, spellCheck, mono, required,
}: {
  label: string; value: string; onChange(v: string): void; hint?: ReactNode; problem?: string; placeholder?: string; type?: 'text' | 'password';
  disabled?: boolean; autoComplete?: string; spellCheck?: boolean; mono?: boolean; required?: boolean;
}) {
  const id = useId();
  return (
    <div className="form-row">
      <label htmlFor={id}>{label}</label>
      <input
        id={id} type={type} value={value} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} disabled={disabled} autoComplete={autoComplete}
        spellCheck={spellCheck} className={mono ? 'mono' : undefined} required={required}
        aria-invalid={problem ? true : undefined} aria-describedby={hint || problem ? `${id}-hint` : undefined}
      />
      {(hint || problem) && (
        <span id={`${id}-hint`} className={problem ? 'hint error' : 'hint'}>
          {problem ?? hint}
        </span>
      )}
    </div>
  );
}

export function TextAreaField({ label, value, onChange, hint, placeholder, rows = 6 }: { label: string; value: string; onChange(v: string): void; hint?: ReactNode; placeholder?: string; rows?: number }) {
  const id = useId();
  return (
    <div className="form-row">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} value={value} rows={rows} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} spellCheck={false} className="mono" aria-describedby={hint ? `${id}-hint` : undefined} />
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}
