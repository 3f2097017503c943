/**
 * `npm run bench`: every benchmark, each as a ratio against a baseline measured in the same run.
 * Results go to stdout and bench/results/latest.json. Benchmarks that need the KVM test hosts
 * run only when hosts.json is there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { benchPlacement } from './placement.js';
import { benchHeadroom } from './headroom.js';
import { benchKvm } from './kvm.js';
import { benchUiList } from './ui-list.js';
import { benchListPages } from './list-pages.js';
import { benchServeScale } from './serve-scale.js';
import { benchSimState } from './sim-state.js';
import { benchVsphere } from './vsphere.js';
import { benchXenserver } from './xenserver.js';
import { benchUnmanaged } from './unmanaged.js';
import { benchCsvBulk } from './csv-bulk.js';
import { benchBackup } from './backup.js';
import { benchManyHosts } from './many-hosts.js';
import { benchConsoleEcho } from './console-echo.js';
import type { BenchResult } from './stats.js';

const suites: [string, () => Promise<BenchResult[] | BenchResult>][] = [
  ['placement', benchPlacement],
  ['headroom', benchHeadroom],
  ['kvm', benchKvm],
  ['ui-list', benchUiList],
  ['list-pages', benchListPages],
  ['serve-scale', benchServeScale],
  ['sim-state', async () => benchSimState()],
  ['vsphere', benchVsphere],
  ['xenserver', benchXenserver],
  ['unmanaged', benchUnmanaged],
  ['csv-bulk', benchCsvBulk],
  ['backup', benchBackup],
  ['many-hosts', benchManyHosts],
  ['console-echo', benchConsoleEcho],
];
/** The issue's benchmark names for the suites that measure them (`npm run bench -- p10`). */
const ALIASES: Record<string, string> = { p10: 'many-hosts' };
/** `npm run bench -- list-pages ui-list` runs only the suites named; flags (`--short`) go to the suites. */
const only = process.argv.slice(2).filter((a) => !a.startsWith('--')).map((a) => ALIASES[a.toLowerCase()] ?? a);

const results: BenchResult[] = [];
for (const [name, run] of suites) {
  if (only.length > 0 && !only.includes(name)) continue;
  try {
    const out = await run();
    results.push(...(Array.isArray(out) ? out : [out]));
  } catch (error) {
    console.error(`bench ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
for (const r of results) {
  const ratio = r.baseline ? ` (${(r.value / r.baseline).toFixed(2)}× ${r.baselineName}: ${r.baseline.toFixed(3)})` : '';
  console.log(`${r.met ? 'MET ' : 'MISS'} ${r.name}: ${r.value.toFixed(3)} ${r.unit}${ratio}; goal ${r.goal}${r.note ? `; ${r.note}` : ''}`);
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latest.json', JSON.stringify(results, null, 2));
