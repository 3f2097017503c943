/** Light or dark: follows prefers-color-scheme until the user picks one, which is remembered. */
import { create } from 'zustand';

export type Theme = 'light' | 'dark';
const KEY = 'kiln.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');

function stored(): Theme | undefined {
  try {
    const value = localStorage.getItem(KEY);
    return value === 'light' || value === 'dark' ? value : undefined;
  } catch {
    return undefined;
  }
}

function apply(theme: Theme): void {
  document.documentElement.dataset['theme'] = theme;
}

interface ThemeStore {
  theme: Theme;
  /** True once the user chose; until then the OS setting decides. */
  chosen: boolean;
  toggle(): void;
}

export const useTheme = create<ThemeStore>((set, get) => {
  const initial = stored();
  const theme = initial ?? (media.matches ? 'dark' : 'light');
  apply(theme);
  media.addEventListener('change', (event) => {
    if (get().chosen) return;
    const next = event.matches ? 'dark' : 'light';
    apply(next);
    set({ theme: next });
  });
  return {
    theme,
    chosen: initial !== undefined,
    toggle() {
      const next = get().theme === 'dark' ? 'light' : 'dark';
      apply(next);
      try {
        localStorage.setItem(KEY, next);
      } catch {
        // private mode: the choice lasts for this page only
      }
      set({ theme: next, chosen: true });
    },
  };
});
