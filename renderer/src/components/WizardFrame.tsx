/**
 * The frame the deploy and import wizards share: the list of steps (a step not reached yet is
 * disabled; a finished one says so to screen readers), the current step's heading (focused when
 * the step changes), its body, what keeps it from being complete (shown once the user tried to
 * go on), and Back / Next, or the finishing button on the last step.
 */
import { useEffect, useRef, type ReactNode } from 'react';

export function WizardFrame(props: {
  navLabel: string;
  steps: readonly string[];
  step: number;
  reached: number;
  goTo(step: number): void;
  /** True for a step that is complete (for the "(done)" screen readers hear). */
  done?(step: number): boolean;
  titleId: string;
  className?: string;
  /** The current step's problems, shown only when `showProblems`. */
  problems: string[];
  showProblems: boolean;
  finishLabel: string;
  onNext(): void;
  onFinish(): void;
  /** Shown between the problems and the buttons (e.g. why the last attempt failed). */
  footer?: ReactNode;
  /** Why Next is off, said next to it (a step that cannot be complete by what it shows yet, e.g. nothing selected). */
  nextBlocked?: string;
  children: ReactNode;
}) {
  const { steps, step, reached, goTo } = props;
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, [step]);
  const last = step === steps.length - 1;
  return (
    <div className={props.className ?? 'wizard'}>
      <nav aria-label={props.navLabel}>
        <ol className="wizard-steps">
          {steps.map((label, i) => (
            <li key={label}>
              <button type="button" className={i === step ? 'wizard-step current' : 'wizard-step'} aria-current={i === step ? 'step' : undefined} disabled={i > reached} onClick={() => goTo(i)}>
                <span className="wizard-step-number">{i + 1}</span> {label}
                {i < step && props.done?.(i) && <span className="visually-hidden"> (done)</span>}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      <form
        className="wizard-body"
        aria-labelledby={props.titleId}
        onSubmit={(e) => {
          e.preventDefault();
          if (last) props.onFinish();
          else props.onNext();
        }}
      >
        <h2 id={props.titleId} tabIndex={-1} ref={heading}>
          {step + 1}. {steps[step]}
        </h2>
        {props.children}
        {props.showProblems && props.problems.length > 0 && (
          <div role="alert" className="error">
            <ul>
              {props.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          </div>
        )}
        {props.footer}
        <div className="wizard-buttons">
          <button type="button" onClick={() => goTo(step - 1)} disabled={step === 0}>
            Back
          </button>
          {props.nextBlocked && (
            <span id={`${props.titleId}-next-blocked`} className="hint wizard-next-blocked">
              {props.nextBlocked}
            </span>
          )}
          <button type="submit" className="primary" disabled={!!props.nextBlocked} aria-describedby={props.nextBlocked ? `${props.titleId}-next-blocked` : undefined}>
            {last ? props.finishLabel : 'Next'}
          </button>
        </div>
      </form>
    </div>
  );
}
