/** A VM state as a badge; states in which a job is moving the VM show as busy. */
import { BUSY_STATES } from '../stores/vm-store';

export function StateBadge({ state, pendingJob }: { state: string; pendingJob?: boolean }) {
  const busy = BUSY_STATES.has(state) || pendingJob === true;
  return (
    <span className={`badge state-${state.toLowerCase()}${busy ? ' busy' : ''}`} aria-busy={busy || undefined} data-state={state}>
      {state}
    </span>
  );
}
