/**
 * createSSHKeyPair's RSA generation (generateRsaKeyPair) never hangs the process. Node 20's
 * KeyObject.export holds the key's mutex while it allocates; a scavenge then may run the
 * destructor of the finished generateKeyPairSync job, which shares that mutex and waits on it
 * forever. CI's test worker stopped that way in ssh-keys.test.ts (gdb: ~KeyGenJob ->
 * uv_mutex_lock under ExportJWK), and a Kiln serving createSSHKeyPair would stop the same way.
 *
 * A child process runs the built generateRsaKeyPair (512-bit: only the exports matter) with a
 * 1 MB new space that it fills to within 0.5-13 KiB before each call (a sweep), so a scavenge
 * lands inside the exports. With the old code the child stopped on a futex in every run here
 * (3 of 3, after calls 163, 180 and 568 of 600; the new one: 2 of 2 done, about 3 s each). The
 * parent takes 15 s without a line from the child for a hang.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { KILN_BIN } from '../helpers/server.js';

const MODULE = pathToFileURL(join(KILN_BIN, '..', '..', 'dist', 'main', 'engine', 'ssh-keys', 'public-key.js')).href;
const CALLS = 600;
const SILENT_MS = 15_000;

const CHILD = `
const { generateRsaKeyPair } = await import(process.argv[1]);
const { getHeapSpaceStatistics } = await import('node:v8');
const left = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_available_size;
let keep = [];
for (let i = 0; i < Number(process.argv[2]); i++) {
  keep = [];
  // Which fill puts the scavenge inside an export depends on Node's allocations: sweep 0.5-13 KiB.
  const slack = 512 + 64 * (i % 200);
  for (let n = 0, free = left(); free > slack && n < 200000; n++) { keep.push({ n }); if (n % 16 === 0) free = left(); }
  const pair = generateRsaKeyPair(512);
  if (!pair.publicKey.line.startsWith('ssh-rsa ') || !pair.privateKey.includes('BEGIN RSA PRIVATE KEY')) throw new Error('bad pair ' + i);
  process.stdout.write(i + '\\n');
}
process.stdout.write('done\\n');
`;

it(`generates ${CALLS} RSA pairs with collections landing inside the exports, and never hangs`, { timeout: 300_000 }, async () => {
  const child = spawn(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', CHILD, MODULE, String(CALLS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const outcome = await new Promise<string>((resolve) => {
    let silent = setTimeout(() => hang(), SILENT_MS);
    const hang = () => {
      child.kill('SIGKILL');
      resolve(`hung after call ${out.trim().split('\n').at(-1) ?? 'none'} (no line for ${SILENT_MS / 1000} s)`);
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      clearTimeout(silent);
      silent = setTimeout(() => hang(), SILENT_MS);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(silent);
      resolve(`exit ${code}${err ? `: ${err.trim()}` : ''}`);
    });
  });
  expect(outcome, out.slice(-200)).toBe('exit 0');
  expect(out.trim().split('\n').at(-1)).toBe('done');
});
