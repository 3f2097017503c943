#!/usr/bin/env node
// Runs every suite and ends with the one line CI reads: "N passed, N failed, N skipped".
// First the real components come up (cs, Chromium, KVM hosts; --no-env skips that). Then the
// suites that do not touch the KVM hosts run in parallel, and the *.real.test.ts files, which
// share (and sometimes stop, rekey or cut) their hosts, run one file at a time per KVM host set:
// they are split into shards, each with its own set of hosts (its own netns, bridge, subnet and
// storage), and the shards run side by side. --real runs only the real shards.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

mkdirSync('test-results', { recursive: true });
const args = process.argv.slice(2);
const noEnv = args.includes('--no-env');
const realOnly = args.includes('--real'); // only the real shards
const extra = args.filter((a) => a !== '--no-env' && a !== '--real');

// The KVM host sets of the real shards, one shard per set: WORK:NET:BRIDGE:NS_PREFIX
// (test/kvm-hosts/README.md). The first is the set the environment names (by default CI's
// /tmp/kiln-kvm); the second, third and fourth are CI's own sets, each on a subnet, bridge and netns
// prefix no other set on this machine uses. Four shards, because the real files mostly wait on guests
// booting under TCG and on hosts answering, not on the two cores: two shards took ~1000 s each of
// CI's 30-minute budget, and with this session's files three took 905-1100 s (29.8 minutes in all). KILN_KVM_SHARD_SETS overrides the whole list (space-separated), e.g. to
// run the shards on sets of one's own.
const envSet = [process.env['KILN_KVM_WORK'] ?? '/tmp/kiln-kvm', process.env['KILN_KVM_NET'] ?? '10.99.0', process.env['KILN_KVM_BRIDGE'] ?? 'kilnbr0', process.env['KILN_KVM_NS_PREFIX'] ?? ''].join(':');
const shardSets = (process.env['KILN_KVM_SHARD_SETS'] ?? `${envSet} /tmp/kiln-kvm-ci2:10.91.0:kilnbr9:ci2- /tmp/kiln-kvm-ci3:10.90.0:kilnbr8:ci3- /tmp/kiln-kvm-ci4:10.89.0:kilnbr10:ci4-`).split(/\s+/).filter(Boolean);
const setEnv = (set) => {
  const [work, net, bridge, prefix = ''] = set.split(':');
  return { KILN_KVM_WORK: work, KILN_KVM_NET: net, KILN_KVM_BRIDGE: bridge, KILN_KVM_NS_PREFIX: prefix };
};
// Shards run at once, so no two may share a set, nor a set's subnet, bridge or netns prefix (the
// netns, veths and addresses hosts.sh makes are named by them): e.g. an environment naming one of
// CI's own sets would have put two shards on it, and KILN_KVM_WORK alone the first on the default's.
// (Files named on the command line run in one vitest, on no shard: any environment goes.)
if (!extra.length) {
  const named = ['KILN_KVM_NET', 'KILN_KVM_BRIDGE', 'KILN_KVM_NS_PREFIX'].filter((v) => process.env[v] === undefined);
  if (!process.env['KILN_KVM_SHARD_SETS'] && process.env['KILN_KVM_WORK'] && path.resolve(process.env['KILN_KVM_WORK']) !== '/tmp/kiln-kvm' && named.length) {
    // The defaults of the rest are the default set's (/tmp/kiln-kvm): its netns, bridge and addresses.
    console.error(`run-tests: KILN_KVM_WORK=${process.env['KILN_KVM_WORK']} without ${named.join(', ')}, whose defaults are /tmp/kiln-kvm's; export all four (test/kvm-hosts/README.md)`);
    console.log('0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
  const seen = new Map();
  for (const set of shardSets) {
    const e = setEnv(set);
    for (const [what, value] of [['KILN_KVM_WORK', path.resolve(e.KILN_KVM_WORK ?? '')], ['KILN_KVM_NET', e.KILN_KVM_NET], ['KILN_KVM_BRIDGE', e.KILN_KVM_BRIDGE], ['KILN_KVM_NS_PREFIX', e.KILN_KVM_NS_PREFIX]]) {
      const other = seen.get(`${what}=${value}`);
      if (other !== undefined) {
        console.error(`run-tests: the KVM host sets ${other} and ${set} have the same ${what} (${value || 'empty'}); each shard needs its own (KILN_KVM_SHARD_SETS, or the KILN_KVM_* environment for the first)`);
        console.log('0 passed, 1 failed, 0 skipped');
        process.exit(1);
      }
      seen.set(`${what}=${value}`, set);
    }
  }
}

if (!noEnv) {
  // test-env.sh brings up every set in the list (hosts.sh setup, idempotent).
  const env = spawnSync('bash', ['scripts/test-env.sh'], { stdio: 'inherit', env: { ...process.env, KILN_KVM_SHARD_SETS: shardSets.join(' ') } });
  if (env.status !== 0) {
    console.log('0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
  // With the environment up, suites that need a real component fail rather than skip without it.
  process.env.KILN_REQUIRE_REAL = '1';
}

/** Runs one vitest; its output goes to ours line by line, behind PREFIX when several run at once. */
function vitest(name, vitestArgs, { env = {}, prefix = '' } = {}) {
  const report = `test-results/vitest-${name}.json`;
  rmSync(report, { force: true });
  return new Promise((resolve) => {
    const child = spawn('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs], {
      stdio: prefix ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: { ...process.env, ...env },
    });
    if (prefix) for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => console.log(`${prefix}${line}`));
    child.on('close', (status) => {
      try {
        const r = JSON.parse(readFileSync(report, 'utf8'));
        const crashed = (r.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
        const failed = r.numFailedTests + crashed;
        // Skipped: it.skip / skipIf (vitest counts them as pending) and it.todo.
        const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
        resolve({ passed: r.numPassedTests, failed: failed === 0 && status !== 0 ? 1 : failed, skipped });
      } catch {
        resolve({ passed: 0, failed: 1, skipped: 0 });
      }
    });
  });
}

const TIMINGS = 'scripts/real-timings.json';

/** The *.real.test.ts files, as paths relative to the repository (vitest's include is test/**). */
function realFiles() {
  return readdirSync('test', { recursive: true })
    .map((f) => path.posix.join('test', f.split(path.sep).join('/')))
    .filter((f) => f.endsWith('.real.test.ts'))
    .sort();
}

/**
 * Splits FILES into N shards of about equal time: longest first, each onto the shard with the least
 * so far, by the seconds each took in a measured run (scripts/real-timings.json); a file not in the
 * table counts as the table's median.
 */
function shard(files, n) {
  const table = existsSync(TIMINGS) ? JSON.parse(readFileSync(TIMINGS, 'utf8')).seconds : {};
  const known = Object.values(table).sort((a, b) => a - b);
  const fallback = known.length ? known[Math.floor(known.length / 2)] : 30;
  const weight = (f) => table[f] ?? fallback;
  const shards = Array.from({ length: n }, () => ({ files: [], seconds: 0 }));
  for (const f of [...files].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b))) {
    const target = shards.reduce((best, s) => (s.seconds < best.seconds ? s : best));
    target.files.push(f);
    target.seconds += weight(f);
  }
  return shards.filter((s) => s.files.length);
}

async function main() {
  if (extra.length) return [await vitest('selected', extra)];
  const results = realOnly ? [] : [await vitest('parallel', ['--exclude', '**/*.real.test.ts'])];
  const shards = shard(realFiles(), shardSets.length);
  shards.forEach((s, i) => console.log(`real shard ${i + 1}/${shards.length} on ${shardSets[i]}: ${s.files.length} files, ~${Math.round(s.seconds)} s by ${TIMINGS}`));
  shards.forEach((_, i) => rmSync(`test-results/times-real-${i + 1}.json`, { force: true }));
  const started = Date.now();
  const real = await Promise.all(shards.map(async (s, i) => {
    const r = await vitest(`real-${i + 1}`, ['--no-file-parallelism', '--reporter=./scripts/file-times-reporter.js', ...s.files.map((f) => path.resolve(f))], {
      env: { ...setEnv(shardSets[i]), KILN_FILE_TIMES: `test-results/times-real-${i + 1}.json` },
      prefix: shards.length > 1 ? `[real ${i + 1}] ` : '',
    });
    console.log(`real shard ${i + 1}/${shards.length} done after ${Math.round((Date.now() - started) / 1000)} s`);
    return r;
  }));
  // This run's time per file, the table's format: copy it over scripts/real-timings.json to rebalance.
  const measured = {};
  shards.forEach((_, i) => {
    const file = `test-results/times-real-${i + 1}.json`;
    if (existsSync(file)) Object.assign(measured, JSON.parse(readFileSync(file, 'utf8')).seconds);
  });
  writeFileSync('test-results/real-timings.json', `${JSON.stringify({ seconds: Object.fromEntries(Object.entries(measured).sort()) }, null, 2)}\n`);
  return [...results, ...real];
}

const results = await main();
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed === 0 ? 0 : 1;
