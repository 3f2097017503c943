#!/usr/bin/env node
// The long fuzz run: the CI fuzz suite (test/integration/fuzz.test.ts) with 10,000 requests
// instead of 2,000, against a freshly built `kiln serve`.
//   node scripts/fuzz.js [--requests N] [--seed S]
// It prints every finding with the request that reproduces it; the same seed replays the run.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const value = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const requests = value('requests', '10000');
const seed = value('seed', '20261201');
if (!/^\d+$/.test(requests) || !/^\d+$/.test(seed)) {
  console.error('usage: node scripts/fuzz.js [--requests N] [--seed S]');
  process.exit(2);
}
// bin/kiln.js runs the compiled CLI; build it so the run fuzzes the code in the tree.
const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) console.warn('fuzz: tsc reported errors; fuzzing what it emitted');
const run = spawnSync('npx', ['vitest', 'run', 'test/integration/fuzz.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, KILN_FUZZ_REQUESTS: requests, KILN_FUZZ_SEED: seed },
});
process.exit(run.status ?? 1);
