/**
 * P8 and P6 on the engine: `kiln serve` holding 10,000 VMs, against the same serve with the demo
 * zone's 2 VMs, in the same run.
 *
 * The data directory: a first serve creates the database and the demo zone; 100 VMs are deployed
 * and started through the API (the simulator runs them); serve stops, and 9,898 more VMs are
 * copied into the database from a stopped one (test/helpers/seeded-vms.ts: own uuid, names, MAC,
 * IP, volume and NIC; Stopped, on no host, so not in the simulator's state file).
 *
 * P8: from spawn to the `API:` line (listening), and to the first 20-row page of
 * listVirtualMachines answered over HTTP; the serve process's RSS then, and after one full list.
 *
 * P6 on the engine: the VM list in Chromium (Debian's chromium, playwright-core) served by the
 * engine, not synthetic rows: first paint after the first page arrives (the same marks as
 * bench/ui-list.ts), the frame rate while scrolling the full 10,000 once loaded, and a bulk stop
 * of the 100 running VMs from the UI, counting the page's listVirtualMachines requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { cloneVms } from '../test/helpers/seeded-vms.js';
import { combine, firstPaint, INSTRUMENT, scrollGesture } from './ui-list.js';
import { median, type BenchResult } from './stats.js';

// KILN_TEST_BIN runs another build of the CLI (one compiled outside dist/).
const BIN = process.env['KILN_TEST_BIN'] ?? fileURLToPath(new URL('../../bin/kiln.js', import.meta.url));
const TOTAL = 10_000;
const RUNNING = 100;

interface Serve {
  child: ChildProcess;
  uiUrl: string;
  origin: string;
  listeningMs: number;
  /** Calls the API with the UI session (the one-time token traded for the cookie). */
  api(command: string, params?: Record<string, string>): Promise<Record<string, unknown>>;
  rssMb(): number;
  stop(): Promise<void>;
}

async function serve(dataDir: string): Promise<Serve> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', dataDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  while (!/^UI:\s+(\S+)/m.test(out)) {
    if (child.exitCode !== null || performance.now() - started > 60_000) throw new Error(`kiln serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const listeningMs = performance.now() - started;
  const uiUrl = /^UI:\s+(\S+)/m.exec(out)![1]!;
  const origin = new URL(uiUrl).origin;
  let cookie: string | undefined;
  const api = async (command: string, params: Record<string, string> = {}) => {
    if (!cookie) cookie = (await fetch(uiUrl, { redirect: 'manual' })).headers.get('set-cookie')!.split(';')[0]!;
    const res = await fetch(`${origin}/client/api`, { method: 'POST', headers: { Cookie: cookie, 'X-Kiln-UI': '1', Origin: origin }, body: new URLSearchParams({ command, response: 'json', ...params }) });
    const body = (await res.json()) as Record<string, Record<string, unknown>>;
    return Object.values(body)[0] ?? {};
  };
  return {
    child, uiUrl, origin, listeningMs, api,
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

/** Waits for the job; a failed one throws with its error, so that the setup cannot go on short of VMs. */
async function waitJob(s: Serve, jobid: string): Promise<void> {
  for (;;) {
    const job = await s.api('queryAsyncJobResult', { jobid });
    if (job['jobstatus'] === 2) throw new Error(`job ${jobid} failed: ${JSON.stringify(job['jobresult'])}`);
    if (job['jobstatus'] !== 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A data directory with TOTAL VMs, RUNNING of them running in the simulator. */
async function prepare(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-p8-'));
  const s = await serve(dir);
  try {
    const one = async (command: string, key: string, params: Record<string, string>) => ((await s.api(command, params))[key] as { id: string }[])[0]!.id;
    const zoneid = await one('listZones', 'zone', { name: 'Demo' });
    const templateid = await one('listTemplates', 'template', { templatefilter: 'executable', name: 'Debian 12' });
    const serviceofferingid = await one('listServiceOfferings', 'serviceoffering', { name: 'Small Instance' });
    // The demo zone's hosts hold about 30 small VMs. Overcommitting them (overprovisioning factors) is
    // not enough: the engine then places the VMs, but a simulated host refuses to start one past its
    // memory (533), and ~9 of the 100 were left in Error while the bench went on; the UI's bulk stop
    // then counted the engine's refusals to stop those as failures. A host with room for them all:
    const cluster = ((await s.api('listClusters', { name: 'Demo Cluster' }))['cluster'] as { id: string; podid: string }[])[0]!;
    const added = await s.api('addHost', { zoneid, podid: cluster.podid, clusterid: cluster.id, hypervisor: 'Simulator', url: 'simulator://scale-host?cpus=128&memory=131072' });
    if (typeof (added['host'] as { id?: unknown } | undefined)?.id !== 'string') throw new Error(`addHost refused: ${JSON.stringify(added)}`);
    for (let i = 0; i < RUNNING; i += 10) {
      const jobs = await Promise.all(Array.from({ length: 10 }, (_, k) => s.api('deployVirtualMachine', { zoneid, templateid, serviceofferingid, name: `run-${String(i + k).padStart(3, '0')}` })));
      for (const job of jobs) if (typeof job['jobid'] !== 'string') throw new Error(`deploy refused: ${JSON.stringify(job)}`);
      await Promise.all(jobs.map((j) => waitJob(s, String(j['jobid']))));
    }
    const stopped = await s.api('deployVirtualMachine', { zoneid, templateid, serviceofferingid, name: 'copy-source', startvm: 'false' });
    if (typeof stopped['jobid'] !== 'string') throw new Error(`deploy refused: ${JSON.stringify(stopped)}`);
    await waitJob(s, String(stopped['jobid']));
  } finally {
    await s.stop();
  }
  const db = new Database(join(dir, 'kiln.db'));
  try {
    const source = db.prepare(`SELECT uuid FROM vm_instances WHERE hostname='copy-source'`).get() as { uuid: string };
    const have = (db.prepare(`SELECT COUNT(*) AS n FROM vm_instances WHERE state<>'Expunged'`).get() as { n: number }).n;
    cloneVms(db, source.uuid, TOTAL - have, 'scale');
  } finally {
    db.close();
  }
  return dir;
}

/** P8 for one data directory: listening, first page answered, RSS then and after a full list. */
async function readiness(dir: string) {
  const s = await serve(dir);
  try {
    const start = performance.now() - s.listeningMs;
    const page = await s.api('listVirtualMachines', { listall: 'true', page: '1', pagesize: '20' });
    const readyMs = performance.now() - start;
    const rss = s.rssMb();
    const all = await s.api('listVirtualMachines', { listall: 'true', pagesize: '-1' });
    return { listeningMs: s.listeningMs, readyMs, rss, rssAfterAll: s.rssMb(), count: Number(page['count']), all: Number(all['count']) };
  } finally {
    await s.stop();
  }
}

export async function benchServeScale(): Promise<BenchResult[]> {
  const base = mkdtempSync(join(tmpdir(), 'kiln-bench-p8-demo-'));
  const dir = await prepare();
  let browser: Browser | undefined;
  try {
    // The demo data directory is made by its first serve; measure its second, as for the large one.
    await (await serve(base)).stop();
    const small = [await readiness(base), await readiness(base)].at(-1)!;
    const large = [await readiness(dir), await readiness(dir)].at(-1)!;
    if (large.count !== TOTAL) throw new Error(`the serve lists ${large.count} VMs, not ${TOTAL}`);
    const results: BenchResult[] = [
      {
        name: 'P8 serve ready (first listVirtualMachines page answered) at 10,000 VMs',
        value: large.readyMs,
        unit: 'ms',
        baseline: small.readyMs,
        baselineName: 'the demo zone (2 VMs)',
        goal: '≤2,000 ms',
        met: large.readyMs <= 2000,
        note: `listening after ${large.listeningMs.toFixed(0)} ms (demo ${small.listeningMs.toFixed(0)} ms)`,
      },
      {
        name: 'P8 serve RSS when ready at 10,000 VMs',
        value: large.rss,
        unit: 'MB',
        baseline: small.rss,
        baselineName: 'the demo zone (2 VMs)',
        goal: '≤200 MB',
        met: large.rss <= 200,
        note: `after one listVirtualMachines pagesize=-1 of all ${large.all}: ${large.rssAfterAll.toFixed(0)} MB (demo ${small.rssAfterAll.toFixed(0)} MB)`,
      },
    ];

    const s = await serve(dir);
    try {
      browser = await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
      await context.addInitScript(INSTRUMENT);
      const page = await context.newPage();
      const lists: URLSearchParams[] = [];
      page.on('request', (request) => {
        const params = new URLSearchParams(request.postData() ?? '');
        if (params.get('command') === 'listVirtualMachines') lists.push(params);
      });
      await page.goto(s.uiUrl);
      await page.getByRole('table', { name: 'Virtual machines' }).waitFor();
      await page.goto(`${s.origin}/#/vms`);
      const paints: number[] = [];
      const loads: number[] = [];
      for (let round = -1; round < 5; round++) {
        const t0 = performance.now();
        const paint = await firstPaint(page);
        await page.locator('.count', { hasText: `${TOTAL} VMs` }).waitFor({ timeout: 60_000 });
        if (round >= 0) {
          paints.push(paint.ms);
          loads.push(performance.now() - t0);
        }
      }
      // The ceiling, in the same run: the same gesture over a blank scroller (a tall empty div, nothing
      // to render) in a page of the same browser, taken in turn with the list's gestures so that
      // both see the same load. What this headless Chromium delivers on this machine at all.
      const blank = await context.newPage();
      await blank.setContent('<div class="p6-blank" style="height:700px;overflow:auto"><div style="height:400000px"></div></div>');
      const listRuns = [];
      const blankRuns = [];
      for (let i = 0; i < 2; i++) {
        await blank.bringToFront();
        blankRuns.push(await scrollGesture(blank, '.p6-blank'));
        await page.bringToFront();
        listRuns.push(await scrollGesture(page, '.vt-scroll'));
      }
      await blank.close();
      const scroll = combine(listRuns);
      const ceiling = combine(blankRuns);

      // Filter typing on the cached rows: the search box narrows 10,000 rows in the renderer.
      const search = page.getByRole('searchbox').first();
      const f0 = performance.now();
      await search.fill('run-');
      await page.locator('.count', { hasText: `${RUNNING} of ${TOTAL} VMs` }).waitFor();
      const filterMs = performance.now() - f0;

      lists.length = 0;
      await page.getByRole('checkbox', { name: 'Select all shown VMs' }).check();
      const bar = page.getByRole('toolbar', { name: 'Bulk actions' });
      await bar.getByText(`${RUNNING} selected`).waitFor();
      const b0 = performance.now();
      await bar.getByRole('button', { name: 'Stop', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: `Stop all ${RUNNING}` }).click();
      const summary = page.getByRole('region', { name: 'Bulk Stop' }).locator('.bulk-summary');
      await summary.filter({ hasText: 'Done:' }).waitFor({ timeout: 300_000 });
      const summaryText = await summary.innerText();
      // A failed stop is shown per row with its code and text; the note carries them, so none is silent.
      const errors = await page.getByRole('region', { name: 'Bulk Stop' }).locator('.bulk-item-error').allInnerTexts();
      const bulkMs = performance.now() - b0;
      await page.waitForTimeout(1500);
      const stoppedShown = await page.locator('.vt-body [data-state="Stopped"]').count();
      const full = lists.filter((p) => !p.has('id')).length;
      results.push(
        {
          name: 'P6 on the engine: first paint after the first page arrives, 10,000 VMs',
          value: median(paints),
          unit: 'ms median',
          goal: '≤300 ms',
          met: median(paints) <= 300,
          note: `5 reloads: ${paints.map((m) => m.toFixed(1)).join(', ')} ms; the whole list in pages of 500 loaded ${median(loads).toFixed(0)} ms after the reload; search 'run-' narrowed 10,000 cached rows to 100 in ${filterMs.toFixed(0)} ms (typing to count shown, renderer-side)`,
        },
        {
          name: 'P6 on the engine: frame rate scrolling the loaded 10,000 VMs',
          value: scroll.fps,
          unit: 'fps',
          baseline: ceiling.fps,
          baselineName: "a blank page's scroller, the same gestures in turn (this browser's ceiling on this machine)",
          // The ratio to the blank scroller is the goal, not a tolerance under 60: on a loaded machine the
          // ceiling itself drops below 60, and a fixed 57 passed a list that missed 4 % of the frames.
          goal: "60 fps: ≥0.99× the blank page's scroller in the same run, no blank rows",
          met: scroll.fps >= 0.99 * ceiling.fps && scroll.blank === 0,
          note: `60 fps ${scroll.fps >= 59.5 ? 'reached' : 'not reached'} (≥59.5 measured counts as 60; ${(scroll.fps / ceiling.fps).toFixed(3)}× the ceiling); 2 gestures of 16,000 px: ${scroll.each.map((f: number) => f.toFixed(1)).join(', ')} fps (a blank page's scroller in turn with them, the ceiling: ${ceiling.each.map((f: number) => f.toFixed(1)).join(', ')} fps, ${ceiling.dropped} missed); ${scroll.dropped} missed frames, ${scroll.blank} with blank rows; main thread per frame ${(scroll.taskMs ?? 0).toFixed(1)} ms (script ${(scroll.scriptMs ?? 0).toFixed(1)}, style ${(scroll.styleMs ?? 0).toFixed(1)}, layout ${(scroll.layoutMs ?? 0).toFixed(1)}); CPU per frame (the work, whatever the load): main thread ${(scroll.mainCpuMs ?? 0).toFixed(2)} ms, renderer process ${(scroll.processCpuMs ?? 0).toFixed(2)} ms (the blank scroller: ${(ceiling.mainCpuMs ?? 0).toFixed(2)}, ${(ceiling.processCpuMs ?? 0).toFixed(2)} ms); load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`,
        },
        {
          name: 'P6 on the engine: listVirtualMachines requests during a UI bulk stop of 100 VMs',
          value: lists.length,
          unit: 'requests',
          goal: '≤2',
          met: lists.length <= 2,
          note: `${full} of them for the whole list; the bulk stop took ${(bulkMs / 1000).toFixed(1)} s (${summaryText}); ${stoppedShown} rows shown Stopped afterwards${errors.length > 0 ? `; failures: ${[...new Set(errors)].slice(0, 3).join(' | ')}` : ''}`,
        },
      );
    } finally {
      await s.stop();
    }
    return results;
  } finally {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
}
