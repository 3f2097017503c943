/**
 * Volume states, CloudStack's names (com.cloud.storage.Volume.State) for what Kiln does:
 * Allocated (a row, no disk on any host yet), Creating (its disk is being made, on the way to a
 * VM), Ready (the disk exists), Attaching (a Ready disk joining a VM), Resizing, Expunging (its
 * disk is being deleted) and Expunged (gone; the row stays for usage, removed set).
 *
 * Creating, Attaching, Resizing and Expunging are held only while a command works on the volume;
 * each ends back in a settled state whether the host did its part or not.
 */
export const VOLUME_STATES = ['Allocated', 'Creating', 'Ready', 'Attaching', 'Resizing', 'Expunging', 'Expunged'] as const;
export type VolumeState = (typeof VOLUME_STATES)[number];

/** The states a volume may be acted on in (attach, detach, resize, delete). */
export const SETTLED_VOLUME_STATES: readonly VolumeState[] = ['Allocated', 'Ready'];

/** VM states in which a data disk can be attached or detached: not while the VM is on its way anywhere. */
export const VOLUME_VM_STATES = ['Created', 'Running', 'Stopped'] as const;
