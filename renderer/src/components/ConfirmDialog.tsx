/** The one modal question (a native <dialog>: focus is trapped, Escape cancels). */
import { useEffect, useRef } from 'react';
import { useConfirm } from '../stores/confirm-store';

export function ConfirmDialog() {
  const { question, answer } = useConfirm();
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current!;
    if (question && !el.open) el.showModal();
    if (!question && el.open) el.close();
  }, [question]);
  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="confirm-title" onCancel={() => answer(undefined)}>
      {question && (
        <form method="dialog" onSubmit={(event) => event.preventDefault()}>
          <h2 id="confirm-title">{question.title}</h2>
          <p>{question.body}</p>
          {question.details && question.details.length > 0 && (
            <ul className="dialog-details">
              {question.details.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
          )}
          <div className="dialog-buttons">
            {question.choices.map((choice, i) => (
              <button key={choice.value} type="button" className={choice.danger ? 'danger' : i === question.choices.length - 1 ? 'primary' : undefined} onClick={() => answer(choice.value)}>
                {choice.label}
              </button>
            ))}
          </div>
        </form>
      )}
    </dialog>
  );
}
