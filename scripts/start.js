#!/usr/bin/env node
// `npm start`: the Electron window where Electron can run; elsewhere the same UI and API served
// on 127.0.0.1 with the URL printed. Electron needs its downloaded binary and, on Linux, a display.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function electronBinary() {
  try {
    const path = require('electron'); // the electron package exports the binary's path
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const binary = electronBinary();
const hasDisplay = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const forceServe = process.argv.includes('--serve') || process.env.KILN_SERVE === '1';

if (binary && hasDisplay && !forceServe) {
  const child = spawn(binary, ['.'], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const why = !binary
    ? "Electron's binary is not installed here (where downloads work: node node_modules/electron/install.js)"
    : 'no display is available';
  console.log(`${why}; serving Kiln's UI and API in the browser instead.`);
  const args = ['bin/kiln.js', 'serve', ...process.argv.slice(2).filter((a) => a !== '--serve')];
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code) => process.exit(code ?? 0));
}
