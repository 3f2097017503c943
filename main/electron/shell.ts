/**
 * The Electron main process, kept thin: one instance, one window with the renderer sandboxed,
 * the engine in-process, and the registry exposed over typed IPC. Everything else lives in the
 * engine, which also runs without Electron (`kiln serve`).
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, safeStorage, session, shell } from 'electron';
import Store from 'electron-store';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/engine.js';
import { CONTENT_SECURITY_POLICY } from '../http/server.js';
import { availableDrivers } from '../drivers.js';
import { IPC, type ApiParams } from '../../preload/api.js';
import { FileMasterKey, SafeStorageMasterKey } from './master-key.js';
import { attachIpcConsole, attachIpcSubscriptions } from '../http/live.js';
import { mainWindowOptions, type WindowState } from './window-options.js';

const here = dirname(fileURLToPath(import.meta.url));
const preloadPath = join(here, '..', '..', 'preload-bundle', 'preload.cjs');
const rendererIndex = join(here, '..', '..', 'renderer', 'index.html');

const store = new Store<{ window: WindowState; allowPlainKeyFile: boolean }>({
  defaults: { window: { width: 1280, height: 800 }, allowPlainKeyFile: false },
  migrations: {
    // Settings migrations run on upgrade, as Rancher Desktop's do; 0.1.0 is the first schema.
    '0.1.0': (s) => {
      if (!s.has('window')) s.set('window', { width: 1280, height: 800 });
    },
  },
});

async function masterKey(dataDir: string) {
  if (SafeStorageMasterKey.usable(safeStorage)) return new SafeStorageMasterKey(safeStorage, join(dataDir, 'master.key.safe'));
  if (!store.get('allowPlainKeyFile')) {
    const answer = await dialog.showMessageBox({
      type: 'warning',
      buttons: ['Keep secrets in a local key file', 'Quit'],
      defaultId: 1,
      message: 'No OS keychain is available to protect Kiln\'s secrets.',
      detail: 'Host passwords, private keys and API secrets would be sealed with a key kept in a file readable only by you (mode 0600). Continue?',
    });
    if (answer.response !== 0) app.exit(1);
    store.set('allowPlainKeyFile', true);
  }
  return new FileMasterKey(join(dataDir, 'master.key'));
}

function createWindow(): BrowserWindow {
  const state = store.get('window');
  const win = new BrowserWindow(mainWindowOptions(state, preloadPath));
  if (state.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  win.on('close', () => store.set('window', { ...win.getNormalBounds(), maximized: win.isMaximized() }));
  // Links open in the user's browser, never inside the app; the app never navigates away.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:/.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  void win.loadFile(rendererIndex);
  return win;
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  await app.whenReady();
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  const dataDir = app.getPath('userData');
  const engine = await Engine.open({ dataDir, masterKey: await masterKey(dataDir), drivers: await availableDrivers(dataDir) });
  const caller = engine.accounts.localAdmin();

  ipcMain.handle(IPC.invoke, async (_event, command: unknown, params: unknown) => {
    const raw: Record<string, string> = {};
    for (const [key, value] of Object.entries((params ?? {}) as ApiParams)) if (value !== undefined) raw[key] = String(value);
    const result = await engine.registry.execute(typeof command === 'string' ? command : undefined, raw, caller);
    return result.body;
  });
  attachIpcSubscriptions(ipcMain, engine); // live channels per window, through the engine's one hub

  attachIpcConsole(ipcMain, engine, caller); // console channels over IPC (open, write, resize, close)

  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      { role: 'fileMenu' },
      { role: 'editMenu' },
      { role: 'viewMenu' },
      { role: 'windowMenu' },
      { role: 'help', submenu: [{ label: 'CloudStack API endpoint: kiln serve', enabled: false }] },
    ]),
  );
  let win = createWindow();
  app.on('second-instance', () => {
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) win = createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('before-quit', () => void engine.close());
}

void start();
