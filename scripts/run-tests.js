#!/usr/bin/env node
// Runs every suite and ends with the one line CI reads: "N passed, N failed, N skipped".
// First the real components come up (cs, Chromium, KVM hosts; --no-env skips that). Then the
// suites that do not touch the KVM hosts run in parallel, and the *.real.test.ts files, which
// share (and sometimes stop or rekey) those hosts, run one file at a time.
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, rmSync } from 'node:fs';

mkdirSync('test-results', { recursive: true });
const args = process.argv.slice(2);
const noEnv = args.includes('--no-env');
const extra = args.filter((a) => a !== '--no-env');

if (!noEnv) {
  const env = spawnSync('bash', ['scripts/test-env.sh'], { stdio: 'inherit' });
  if (env.status !== 0) {
    console.log('0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
  // With the environment up, suites that need a real component fail rather than skip without it.
  process.env.KILN_REQUIRE_REAL = '1';
}

function vitest(name, vitestArgs) {
  const report = `test-results/vitest-${name}.json`;
  rmSync(report, { force: true });
  const run = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs], { stdio: 'inherit' });
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    const crashed = (r.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
    const failed = r.numFailedTests + crashed;
    // Skipped: it.skip / skipIf (vitest counts them as pending) and it.todo.
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    return { passed: r.numPassedTests, failed: failed === 0 && run.status !== 0 ? 1 : failed, skipped };
  } catch {
    return { passed: 0, failed: 1, skipped: 0 };
  }
}

const results = extra.length
  ? [vitest('selected', extra)]
  : [vitest('parallel', ['--exclude', '**/*.real.test.ts']), vitest('real', ['--no-file-parallelism', 'real.test.ts'])];
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed === 0 ? 0 : 1;
