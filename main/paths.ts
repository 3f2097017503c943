/**
 * Where Kiln keeps its files when run under plain Node: $KILN_DATA_DIR, else the XDG data
 * directory (~/.local/share/kiln). The desktop app passes Electron's userData path instead.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(): string {
  if (process.env['KILN_DATA_DIR']) return process.env['KILN_DATA_DIR'];
  const xdg = process.env['XDG_DATA_HOME'] || join(homedir(), '.local', 'share');
  return join(xdg, 'kiln');
}

/** Written by `kiln serve` so `kiln api` can find the running endpoint. */
export function serverInfoFile(dataDir: string): string {
  return join(dataDir, 'server.json');
}
