/** Which VM's affinity groups are being changed (the dialog is rendered once, in the frame). */
import { create } from 'zustand';
import type { Vm } from '../api/model';

export const useAffinityDialog = create<{ vm?: Vm; open(vm: Vm): void; close(): void }>((set) => ({
  open: (vm) => set({ vm }),
  close: () => set({ vm: undefined }),
}));
