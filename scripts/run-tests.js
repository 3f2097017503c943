#!/usr/bin/env node
// Runs every suite with vitest and ends with the one line CI reads: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';

mkdirSync('test-results', { recursive: true });
// Real components first (cs, Chromium, KVM hosts); --no-env skips this for quick local runs.
const noEnv = process.argv.includes('--no-env');
if (!noEnv) {
  const env = spawnSync('bash', ['scripts/test-env.sh'], { stdio: 'inherit' });
  if (env.status !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  // With the environment up, suites that need a real component fail rather than skip without it.
  process.env.KILN_REQUIRE_REAL = '1';
}
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=test-results/vitest.json', ...process.argv.slice(2).filter((a) => a !== '--no-env')];
const run = spawnSync('npx', args, { stdio: 'inherit' });
let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync('test-results/vitest.json', 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0) + (report.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} catch {
  failed = Math.max(1, failed);
}
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
