/**
 * P3 and P3b: a list page costs what the page holds, not what the inventory holds.
 *
 * One engine (in-process, simulator zone) answers listVirtualMachines through the registry, as
 * every transport calls it, and each answer is serialised with JSON.stringify as the HTTP
 * transport does. The inventory is first 500 VMs, then 10,000 in the same run: the first VM is
 * deployed through the API (startvm=false) and copied with its volume and NIC
 * (test/helpers/seeded-vms.ts), which is what the list reads either way.
 *
 * P3: median of ROUNDS calls per page shape, at 10,000 against 500 (the baseline): a 20-row
 * page, a 500-row page, and page=10 of 20-row pages. Also the bare SQLite query of the same
 * 20-row page (the floor) and the JSON bytes per row (details=all and details=min).
 *
 * P3b: CLIENTS concurrent clients for P3B_SECONDS (60 s; `--short` makes it 8 s), each looping
 * over a mix of reads (listVirtualMachines pages, listVolumes) and writes (updateVirtualMachine
 * of a random VM, which writes the row and an event and reaches the live feed), at 32 VMs and at
 * 5,000: the list's p99 at 5,000 against 32.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { testEngine, deployDemo, type TestEngine } from '../test/helpers/engine.js';
import { cloneVms } from '../test/helpers/seeded-vms.js';
import { median, type BenchResult } from './stats.js';

const ROUNDS = 31;
const CLIENTS = 16;

async function timed(t: TestEngine, params: Record<string, string>): Promise<{ ms: number; bytes: number; rows: number }> {
  const start = performance.now();
  const res = await t.engine.registry.execute('listVirtualMachines', params, t.admin);
  const text = JSON.stringify({ [res.responseName]: res.body });
  const ms = performance.now() - start;
  if (res.status !== 200) throw new Error(`listVirtualMachines ${JSON.stringify(params)}: ${text}`);
  const rows = ((res.body['virtualmachine'] as unknown[] | undefined) ?? []).length;
  return { ms, bytes: text.length, rows };
}

async function medianOf(t: TestEngine, params: Record<string, string>) {
  const samples: number[] = [];
  let last = { ms: 0, bytes: 0, rows: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    last = await timed(t, params);
    samples.push(last.ms);
  }
  return { ms: median(samples.slice(3)), bytes: last.bytes, rows: last.rows };
}

function bareQuery(t: TestEngine, offset: number, limit: number): number {
  const stmt = t.engine.db.prepare(
    `SELECT v.* FROM vm_instances v JOIN zones z ON z.id=v.zone_id JOIN accounts a ON a.id=v.account_id JOIN domains d ON d.id=v.domain_id
     WHERE v.state<>'Expunged' ORDER BY v.id LIMIT ? OFFSET ?`,
  );
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    stmt.all(limit, offset);
    samples.push(performance.now() - start);
  }
  return median(samples.slice(3));
}

const SHAPES: [string, Record<string, string>][] = [
  ['20-row page', { listall: 'true', page: '1', pagesize: '20' }],
  ['500-row page', { listall: 'true', page: '1', pagesize: '500' }],
  ['page=10 of 20 rows', { listall: 'true', page: '10', pagesize: '20' }],
];

async function engineWith(count: number): Promise<{ t: TestEngine; dir: string; grow(to: number): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-p3-'));
  const t = await testEngine({ dataDir: dir, keep: true });
  const first = await deployDemo(t, { name: 'bench-0', startvm: 'false' });
  let have = (t.engine.db.prepare(`SELECT COUNT(*) AS n FROM vm_instances WHERE state<>'Expunged'`).get() as { n: number }).n;
  const grow = (to: number) => {
    if (to > have) cloneVms(t.engine.db, first['id']!, to - have, `bench-${have}`);
    have = Math.max(have, to);
  };
  grow(count);
  return { t, dir, grow };
}

export async function benchListPages(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const { t, dir, grow } = await engineWith(500);
  try {
    const small: Record<string, { ms: number; bytes: number; rows: number }> = {};
    for (const [name, params] of SHAPES) small[name] = await medianOf(t, params);
    const bareSmall = bareQuery(t, 0, 20);
    grow(10_000);
    const large: Record<string, { ms: number; bytes: number; rows: number }> = {};
    for (const [name, params] of SHAPES) large[name] = await medianOf(t, params);
    const bareLarge = bareQuery(t, 0, 20);
    const min500 = await medianOf(t, { listall: 'true', page: '1', pagesize: '500', details: 'min,nics' });
    const deep = await medianOf(t, { listall: 'true', page: '10', pagesize: '500' });
    const all = await timed(t, { listall: 'true', pagesize: '-1' });
    for (const [name] of SHAPES) {
      const ratio = large[name]!.ms / small[name]!.ms;
      results.push({
        name: `P3 listVirtualMachines ${name}: 10,000 VMs against 500`,
        value: large[name]!.ms,
        unit: 'ms (median)',
        baseline: small[name]!.ms,
        baselineName: 'the same page at 500 VMs',
        goal: '≤1.5× the 500-VM figure',
        met: ratio <= 1.5,
        note: `${large[name]!.rows} rows, ${(large[name]!.bytes / Math.max(1, large[name]!.rows)).toFixed(0)} JSON bytes per row`,
      });
    }
    const twenty = large['20-row page']!;
    results.push({
      name: 'P3 listVirtualMachines 20-row page at 10,000 VMs',
      value: twenty.ms,
      unit: 'ms (median)',
      baseline: bareLarge,
      baselineName: 'the bare SQLite SELECT of the same 20 rows',
      goal: '≤10 ms',
      met: twenty.ms <= 10,
      note: `bare SELECT at 500 VMs ${bareSmall.toFixed(3)} ms; 500 rows with details=min,nics ${min500.ms.toFixed(1)} ms and ${(min500.bytes / min500.rows).toFixed(0)} B/row against details=all ${large['500-row page']!.ms.toFixed(1)} ms and ${(large['500-row page']!.bytes / 500).toFixed(0)} B/row; page=10 of 500 rows ${deep.ms.toFixed(1)} ms; all 10,000 (pagesize=-1) ${all.ms.toFixed(0)} ms, ${(all.bytes / 1e6).toFixed(1)} MB`,
    });
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
  results.push(...(await benchMixedLoad()));
  return results;
}

/** P3b: the list's p99 under CLIENTS concurrent clients with writes, at 5,000 VMs against 32. */
async function benchMixedLoad(): Promise<BenchResult[]> {
  const seconds = process.argv.includes('--short') ? 8 : 60;
  const p99At = async (count: number) => {
    const { t, dir } = await engineWith(count);
    try {
      const ids = (t.engine.db.prepare(`SELECT uuid FROM vm_instances WHERE state<>'Expunged'`).all() as { uuid: string }[]).map((r) => r.uuid);
      const pages = Math.max(1, Math.floor(ids.length / 20));
      const lists: number[] = [];
      let writes = 0;
      const end = performance.now() + seconds * 1000;
      const client = async (n: number) => {
        for (let i = 0; performance.now() < end; i++) {
          const pick = (i * 7 + n * 13) % 10;
          if (pick < 6) {
            lists.push((await timed(t, { listall: 'true', page: String(1 + ((i + n) % pages)), pagesize: '20' })).ms);
          } else if (pick < 8) {
            await t.engine.registry.execute('listVolumes', { listall: 'true', page: '1', pagesize: '20' }, t.admin);
          } else {
            const id = ids[(i * 31 + n) % ids.length]!;
            await t.engine.registry.execute('updateVirtualMachine', { id, displayname: `renamed-${n}-${i}` }, t.admin);
            writes++;
          }
          // Let the other clients' calls in between, as separate requests would be.
          await new Promise((r) => setImmediate(r));
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
      const sorted = [...lists].sort((a, b) => a - b);
      return { p99: sorted[Math.floor(sorted.length * 0.99)]!, calls: lists.length, writes };
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const small = await p99At(32);
  const large = await p99At(5_000);
  return [
    {
      name: `P3b listVirtualMachines p99 under ${CLIENTS} clients with writes (${seconds} s): 5,000 VMs against 32`,
      value: large.p99,
      unit: 'ms (p99)',
      baseline: small.p99,
      baselineName: 'the same load at 32 VMs',
      goal: '≤2× the 32-VM figure',
      met: large.p99 <= 2 * small.p99,
      note: `${large.calls} list calls and ${large.writes} writes at 5,000; ${small.calls} and ${small.writes} at 32`,
    },
  ];
}
