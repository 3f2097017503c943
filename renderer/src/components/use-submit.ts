/**
 * The life of a form's submit: busy while the work runs, the engine's error kept for the form
 * (code and errortext), a success notice with the message the work returns, then onDone.
 */
import { useState } from 'react';
import { shownError, type ShownError } from '../api/model';
import { useJobs } from '../stores/jobs-store';

export function useSubmit(onDone?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError>();
  const run = async (work: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    try {
      const message = await work();
      useJobs.getState().notify('success', message);
      onDone?.();
    } catch (e) {
      setError(shownError(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
