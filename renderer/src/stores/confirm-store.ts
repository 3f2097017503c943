/** One modal question at a time (a native <dialog>): a title, a text, and the answers to choose from. */
import { create } from 'zustand';

export interface Choice {
  value: string;
  label: string;
  danger?: boolean;
}

export interface Question {
  title: string;
  body: string;
  details?: string[];
  choices: Choice[];
}

interface ConfirmStore {
  question?: Question;
  resolve?: (value: string | undefined) => void;
  ask(question: Question): Promise<string | undefined>;
  answer(value: string | undefined): void;
}

export const useConfirm = create<ConfirmStore>((set, get) => ({
  ask(question) {
    get().resolve?.(undefined);
    return new Promise((resolve) => set({ question, resolve }));
  },
  answer(value) {
    get().resolve?.(value);
    set({ question: undefined, resolve: undefined });
  },
}));
