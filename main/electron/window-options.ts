/**
 * The main window's options, apart from the shell so that a plain-Node test can hold them to
 * the rules: context isolation and the sandbox on, no Node in the renderer, web security on.
 * (Electron 41 has no API to read a window's preferences back, so this is where they are checked.)
 */
export interface WindowState {
  width: number;
  height: number;
  x?: number;
  y?: number;
  maximized?: boolean;
}

export const RENDERER_WEB_PREFERENCES = { contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true } as const;

export function mainWindowOptions(state: WindowState, preloadPath: string) {
  const { maximized: _maximized, ...bounds } = state;
  return {
    ...bounds,
    minWidth: 1024,
    minHeight: 640,
    show: false,
    title: 'Kiln',
    webPreferences: { preload: preloadPath, ...RENDERER_WEB_PREFERENCES },
  };
}
