/**
 * The VM state machine: one table holds every legal transition. Moving a VM anywhere else is a
 * 431 that names its current state. Each transition writes an event, and the ones that matter
 * for billing write the matching usage event.
 *
 * The states are the seed's (R5) plus Migrating, Error and Unknown. The API returns them as
 * they are, Created included (the guide's names, not CloudStack's enum).
 */
export const VM_STATES = [
  'Creating', 'Created', 'Starting', 'Running', 'Stopping', 'Stopped',
  'Destroying', 'Destroyed', 'Expunging', 'Expunged', 'Migrating', 'Error', 'Unknown',
] as const;
export type VmState = (typeof VM_STATES)[number];

export const TRANSITIONS: Record<VmState, readonly VmState[]> = {
  Creating: ['Created', 'Starting', 'Error'],
  Created: ['Starting', 'Destroying', 'Expunging', 'Error'],
  Starting: ['Running', 'Stopped', 'Created', 'Error'],
  Running: ['Stopping', 'Migrating', 'Stopped', 'Unknown', 'Error'],
  Stopping: ['Stopped', 'Running', 'Error'],
  Stopped: ['Starting', 'Destroying', 'Migrating', 'Expunging', 'Running', 'Error'],
  Destroying: ['Destroyed', 'Error'],
  Destroyed: ['Stopped', 'Created', 'Expunging'],
  Expunging: ['Expunged', 'Error'],
  Expunged: [],
  Migrating: ['Running', 'Stopped', 'Unknown', 'Error'],
  Error: ['Starting', 'Stopped', 'Destroying', 'Expunging'],
  Unknown: ['Running', 'Stopped', 'Stopping', 'Error'],
};

export function canTransition(from: VmState, to: VmState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States in which a VM occupies capacity on its host. */
export const HOLDS_CAPACITY: readonly VmState[] = ['Starting', 'Running', 'Stopping', 'Migrating', 'Unknown'];

/** In-progress states; the UI shows them as busy badges. */
export const TRANSIENT_STATES: readonly VmState[] = ['Creating', 'Starting', 'Stopping', 'Destroying', 'Expunging', 'Migrating'];

/** The event written when a VM enters a state, and the usage event that goes with it. */
export const STATE_EVENTS: Partial<Record<VmState, { event: string; state: 'Started' | 'Completed'; usage?: string }>> = {
  Creating: { event: 'VM.CREATE', state: 'Started' },
  Created: { event: 'VM.CREATE', state: 'Completed', usage: 'VM.CREATE' },
  Starting: { event: 'VM.START', state: 'Started' },
  Running: { event: 'VM.START', state: 'Completed', usage: 'VM.START' },
  Stopping: { event: 'VM.STOP', state: 'Started' },
  Stopped: { event: 'VM.STOP', state: 'Completed', usage: 'VM.STOP' },
  Destroying: { event: 'VM.DESTROY', state: 'Started' },
  Destroyed: { event: 'VM.DESTROY', state: 'Completed', usage: 'VM.DESTROY' },
  Expunging: { event: 'VM.EXPUNGE', state: 'Started' },
  Expunged: { event: 'VM.EXPUNGE', state: 'Completed' },
  Migrating: { event: 'VM.MIGRATE', state: 'Started' },
  Error: { event: 'VM.ERROR', state: 'Completed' },
  Unknown: { event: 'VM.UNKNOWN', state: 'Completed' },
};
