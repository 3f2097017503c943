/** Starts a real `kiln serve` process (the built CLI) on a free port and reads its keys. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KilnProcess {
  child: ChildProcess;
  dataDir: string;
  apiUrl: string;
  uiUrl?: string;
  apiKey: string;
  secretKey: string;
  output(): string;
  stop(): Promise<void>;
}

// KILN_TEST_BIN runs another build of the CLI (e.g. one compiled from a working tree without touching dist/).
const BIN = process.env['KILN_TEST_BIN'] ?? join(import.meta.dirname, '..', '..', 'bin', 'kiln.js');
/** The build the tests run: its bin/kiln.js (dist/ is next to it). */
export const KILN_BIN = BIN;

/**
 * `uiStandIn`: serve a one-page stand-in for the renderer (KILN_UI_DIR), so the UI paths and
 * /kiln/live exist without a renderer build; it is removed again on stop.
 */
export async function startKiln(options: { dataDir?: string; args?: string[]; env?: Record<string, string>; uiStandIn?: boolean } = {}): Promise<KilnProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kiln-serve-'));
  const uiDir = options.uiStandIn ? mkdtempSync(join(tmpdir(), 'kiln-ui-')) : undefined;
  if (uiDir) writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Kiln</title>');
  const env = { ...process.env, ...options.env, ...(uiDir ? { KILN_UI_DIR: uiDir } : {}) };
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dataDir, '--port', '0', ...(options.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 30_000;
  // Until the 'Keys:' line, which kiln serve prints last: API:, UI: and Keys: are separate writes,
  // so on a loaded machine 'API:' can be read alone and the UI's URL was then missing (ui-vsphere's
  // setup: "page.goto: url: expected string, got undefined").
  while (!/^Keys:/m.test(out)) {
    if (child.exitCode !== null) throw new Error(`kiln serve exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`kiln serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const apiUrl = /^API:\s+(\S+)/m.exec(out)![1]!;
  const uiUrl = /^UI:\s+(\S+)/m.exec(out)?.[1];
  const keys = execFileSync(process.execPath, [BIN, 'keys', '--data-dir', dataDir, '--json'], { encoding: 'utf8' });
  const { apikey, secretkey } = JSON.parse(keys) as { apikey: string; secretkey: string };
  return {
    child, dataDir, apiUrl, uiUrl, apiKey: apikey, secretKey: secretkey,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (uiDir) rmSync(uiDir, { recursive: true, force: true });
    },
  };
}
