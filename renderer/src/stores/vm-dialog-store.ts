/**
 * Which VM change dialog is open, for which VM (rendered once, in the frame, like the affinity
 * dialog): change offering or scale, migrate, restore, start on a chosen pod/cluster/host.
 */
import { create } from 'zustand';
import type { Vm } from '../api/model';

export type VmDialogKind = 'offering' | 'scale' | 'migrate' | 'restore' | 'start-on' | 'reset-ssh-key' | 'attach-iso' | 'move-storage';

export const useVmDialog = create<{ vm?: Vm; kind?: VmDialogKind; open(kind: VmDialogKind, vm: Vm): void; close(): void }>((set) => ({
  open: (kind, vm) => set({ kind, vm }),
  close: () => set({ kind: undefined, vm: undefined }),
}));
