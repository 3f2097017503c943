/**
 * CSV bulk import of 100 VMware VMs (vcsim, one cluster of 4 hosts), issue 13's "Bulk import of
 * 100 VMs from CSV on vcsim: report the per-VM cost, and what bounds it".
 *
 * The VMs are made over SOAP as an admin's vCenter holds them (makeVms, with manual MACs):
 * two thin disks on one PVSCSI controller, two Vmxnet3 NICs on PG-VLAN101 (standard) and
 * DVPG-VLAN201 (distributed), every other one powered on. Each round is a fresh Kiln engine (a new
 * database) that adds the cluster, exports the unmanaged list (exportUnmanagedInstances), fills in
 * the added columns as a spreadsheet user would (account, serviceoffering, nicN.network per NIC,
 * datadiskN.diskoffering per data disk, all by name) and runs importUnmanagedInstances as one
 * parent job, at concurrency 1, at the default cap, and at the highest cap. adopt() changes
 * nothing in vCenter, so every round finds the same 100 VMs unmanaged.
 *
 * Measured in each round, no timed assertion: the bulk job's wall time; the SOAP methods sent
 * meanwhile (recordSoapMethods, the change stream's WaitForUpdatesEx aside); the time in the
 * hosts' adopt(); the database's statements and transactions (engine.db's prepare and
 * transaction wrapped); and each row's timeline from the job updates: planning in the parent (the
 * previous row's result to the child job's start), the child job itself (adopt + writes), and the
 * lag from the child's end to the parent's seeing it. Baselines in the same run, on the same
 * vcsim: one no-op SOAP call (CurrentTime) and one RetrievePropertiesEx of a single VM's import
 * properties, which is the least a per-VM adopt that reads the VM back would cost. The wrapped
 * prepare/run add a little to each statement; the figures are of instrumented rounds.
 *
 * Runs in about 1–1.5 minutes (10 rounds of 100 VMs). From a private build:
 * `KILN_VCSIM_SH=$PWD/test/vcsim/vcsim.sh KILN_BENCH_BUILD=out/NAME node bench/run.js csv-bulk`
 * (the helper finds vcsim.sh next to itself, which a build does not copy); KILN_BENCH_SQL=1 also
 * prints the default cap's statements by count.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { VsphereDriver } from '../drivers/vsphere/index.js';
import { MoRef, asMoRef, asString, getProperties, retrieveInventory, retrieveProperties, typed, waitForTask, type SoapObject, type VimClient } from '../drivers/vsphere/soap/index.js';
import type { Db } from '../main/engine/db/database.js';
import type { JobUpdate } from '../main/engine/jobs.js';
import { testEngine, type TestEngine } from '../test/helpers/engine.js';
import { recordSoapMethods } from '../test/helpers/soap-methods.js';
import { defaultPlacement, type Placement } from '../test/helpers/vcsim-fixtures.js';
import { Vcsim, vcsimOrSkip } from '../test/helpers/vcsim.js';
import { median, type BenchResult } from './stats.js';

const now = () => performance.now();
const VMS = 100;
/** Rounds per cap. */
const REPS = 3;
/** importUnmanagedInstances' default concurrency and its highest (commands/import/importUnmanagedInstances.ts). */
const DEFAULT_CAP = 4;
const MAX_CAP = 16;
/** The properties vm-import.ts reads per VM (VM_PATHS): what one VM read back at adopt would ask. */
const VM_PATHS = ['config.hardware.device', 'config.guestFullName', 'config.guestId', 'config.hardware.numCoresPerSocket', 'config.cpuAllocation.reservation', 'guest.net', 'guest.toolsRunningStatus'];

interface DbTally {
  /** db.prepare calls (each compiles its SQL: Kiln keeps no statement cache) and their time. */
  prepares: number;
  prepareMs: number;
  statements: number;
  statementMs: number;
  /** Statements run inside a transaction (counted in transactionMs too). */
  inTx: number;
  /** INSERT/UPDATE/DELETE run outside a transaction: each its own commit. */
  autocommits: number;
  autocommitMs: number;
  transactions: number;
  transactionMs: number;
  bySql: Map<string, { n: number; ms: number }>;
}

/** Wraps DB's prepare and transaction so every statement run and transaction is counted and timed; returns the tally and an undo. */
function instrumentDb(db: Db): { tally: DbTally; stop(): void } {
  const tally: DbTally = { prepares: 0, prepareMs: 0, statements: 0, statementMs: 0, inTx: 0, autocommits: 0, autocommitMs: 0, transactions: 0, transactionMs: 0, bySql: new Map() };
  let depth = 0;
  const prepare = db.prepare;
  const transaction = db.transaction;
  const key = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 70);
  (db as { prepare: unknown }).prepare = function (this: Db, sql: string) {
    const p0 = now();
    const stmt = prepare.call(db, sql) as unknown as Record<string, (...a: unknown[]) => unknown>;
    tally.prepares++;
    tally.prepareMs += now() - p0;
    const write = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql);
    for (const m of ['run', 'get', 'all']) {
      const f = stmt[m]!;
      stmt[m] = (...a: unknown[]) => {
        const t0 = now();
        try {
          return f.apply(stmt, a);
        } finally {
          const ms = now() - t0;
          tally.statements++;
          tally.statementMs += ms;
          if (depth > 0) tally.inTx++;
          else if (write) {
            tally.autocommits++;
            tally.autocommitMs += ms;
          }
          const k = key(sql);
          const e = tally.bySql.get(k) ?? { n: 0, ms: 0 };
          e.n++;
          e.ms += ms;
          tally.bySql.set(k, e);
        }
      };
    }
    return stmt;
  };
  (db as { transaction: unknown }).transaction = function (fn: (...a: unknown[]) => unknown) {
    const tx = transaction.call(db, fn as never) as unknown as (...a: unknown[]) => unknown;
    return (...a: unknown[]) => {
      const outer = depth === 0;
      const t0 = now();
      depth++;
      try {
        return tx(...a);
      } finally {
        depth--;
        if (outer) {
          tally.transactions++;
          tally.transactionMs += now() - t0;
        }
      }
    };
  };
  return {
    tally,
    stop() {
      (db as { prepare: unknown }).prepare = prepare;
      (db as { transaction: unknown }).transaction = transaction;
    },
  };
}

interface Round {
  /** The concurrency parameter sent (undefined: the default). */
  param: number | undefined;
  cap: number;
  capLabel: string;
  wallMs: number;
  exportMs: number;
  listMs: number;
  listCalls: number;
  bulkCalls: string[];
  adoptMs: number;
  adopts: number;
  db: DbTally;
  /** Per row at this cap: parent planning, the child job, the lag until the parent saw it (medians and sums). */
  planMs: number[];
  childMs: number[];
  lagMs: number[];
  imported: number;
  /** CPU time during the bulk job: this process (Kiln, and the bench around it) and vcsim's. */
  kilnCpuMs: number;
  vcsimCpuMs: number;
}

/** A process's user + system CPU time in ms, from /proc (clock ticks of 10 ms); NaN where there is no /proc. */
function procCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * The VMs as test/helpers/vcsim-fixtures.ts's createVmWithDevices makes them (two disks on one
 * PVSCSI controller, Vmxnet3 NICs on PG-VLAN101 and DVPG-VLAN201), but with manual MACs: vcsim's
 * generated ones repeat within a hundred VMs, and Kiln refuses a second VM with a MAC it manages.
 * Four at a time; setup, not measured.
 */
async function makeVms(client: VimClient, where: Placement): Promise<void> {
  const nets = await retrieveInventory(client, [
    { type: 'Network', pathSet: ['name'] },
    { type: 'DistributedVirtualPortgroup', pathSet: ['name', 'key', 'config.distributedVirtualSwitch'] },
  ]);
  const std = nets.find((n) => n.obj.type === 'Network' && n.props['name'] === 'PG-VLAN101')!;
  const dvpg = nets.find((n) => n.obj.type === 'DistributedVirtualPortgroup' && n.props['name'] === 'DVPG-VLAN201')!;
  const switchUuid = asString((await getProperties(client, asMoRef(dvpg.props['config.distributedVirtualSwitch'])!, ['uuid']))['uuid'])!;
  const backings = [
    typed('VirtualEthernetCardNetworkBackingInfo', { deviceName: 'PG-VLAN101', network: std.obj }),
    typed('VirtualEthernetCardDistributedVirtualPortBackingInfo', { port: { switchUuid, portgroupKey: String(dvpg.props['key']) } }),
  ];
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < VMS) {
      const i = next++;
      const deviceChange: SoapObject[] = [{ operation: 'add', device: typed('ParaVirtualSCSIController', { key: -100, busNumber: 0, sharedBus: 'noSharing' }) }];
      [1, 2].forEach((gib, d) => deviceChange.push({
        operation: 'add', fileOperation: 'create',
        device: typed('VirtualDisk', {
          key: -200 - d, backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: `[${where.datastoreName}]`, diskMode: 'persistent', thinProvisioned: true }),
          controllerKey: -100, unitNumber: d, capacityInKB: gib * 1024 * 1024,
        }),
      }));
      backings.forEach((backing, n) => deviceChange.push({
        operation: 'add',
        device: typed('VirtualVmxnet3', { key: -300 - n, backing, addressType: 'manual', macAddress: `00:50:56:0${n}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }),
      }));
      const task = asMoRef(await client.call('CreateVM_Task', where.folder, {
        config: { name: `bulk-${String(i + 1).padStart(3, '0')}`, guestId: 'otherGuest64', files: { vmPathName: `[${where.datastoreName}]` }, numCPUs: 1, memoryMB: 64, deviceChange },
        pool: where.pool,
      }))!;
      const ref = asMoRef(await waitForTask(client, task))!;
      if (i % 2 === 1) await waitForTask(client, asMoRef(await client.call('PowerOnVM_Task', ref))!);
    }
  }));
}

async function setup(t: TestEngine, sim: Vcsim): Promise<string> {
  const zoneid = ((await t.ok('createZone', { name: 'Bulk' }))['zone'] as { id: string }).id;
  const podid = ((await t.ok('createPod', { name: 'Bulk', zoneid }))['pod'] as { id: string }).id;
  const clusterid = ((await t.ok('addCluster', {
    zoneid, podid, clustername: 'C0', hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`,
    username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
  }))['cluster'] as { id: string }).id;
  await t.ok('createNetwork', { name: 'net-101', zoneid, guestiptype: 'L2', vlan: '101' });
  await t.ok('createNetwork', { name: 'net-201', zoneid, guestiptype: 'L2', vlan: '201' });
  await t.ok('createServiceOffering', { name: 'bulk-1x64', cpunumber: '1', cpuspeed: '500', memory: '64' });
  await t.ok('createDiskOffering', { name: 'bulk-data', customized: 'true' });
  await t.ok('createAccount', { username: 'tenant1', password: 'pw-tenant-1', email: 't1@example.org', firstname: 'T', lastname: 'One', accounttype: '0' });
  return clusterid;
}

async function round(sim: Vcsim, cap: number | undefined, methods: string[]): Promise<Round> {
  const t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1, pageSize: 100 })] });
  try {
    const clusterid = await setup(t, sim);
    const soap = () => methods.filter((m) => m !== 'WaitForUpdatesEx').length;

    let start = now();
    const exported = (await t.ok('exportUnmanagedInstances', { clusterid }))['unmanagedinstancescsv'] as { csv: string; count: number };
    const exportMs = now() - start;
    if (exported.count !== VMS) throw new Error(`exportUnmanagedInstances listed ${exported.count} VMs, not ${VMS}`);
    const fromList = soap();
    start = now();
    await t.ok('listUnmanagedInstances', { clusterid });
    const listMs = now() - start;
    const listCalls = soap() - fromList;

    const rows = parse(exported.csv, { bom: true, columns: true }) as Record<string, string>[];
    for (const r of rows) {
      if (r['importable'] !== 'true') throw new Error(`${r['name']} is not importable: ${r['notimportablereason']}`);
      Object.assign(r, { account: 'tenant1', serviceoffering: 'bulk-1x64', 'nic0.network': 'net-101', 'nic1.network': 'net-201', 'datadisk0.diskoffering': 'bulk-data' });
    }
    const csv = stringify(rows, { header: true, bom: true });

    // adopt() on every host of the cluster, timed (the facet is the session's own object).
    let adoptMs = 0;
    let adopts = 0;
    const undo: (() => void)[] = [];
    for (const { id } of t.engine.db.prepare('SELECT id FROM hosts WHERE removed IS NULL').all() as { id: number }[]) {
      const facet = (await t.engine.hosts.session(id)).import!;
      const adopt = facet.adopt;
      facet.adopt = async (...a) => {
        const t0 = now();
        try {
          return await adopt.apply(facet, a);
        } finally {
          adoptMs += now() - t0;
          adopts++;
        }
      };
      undo.push(() => void (facet.adopt = adopt));
    }
    // Each row's timeline from the job updates: the child's start and end, the parent's progress naming the row.
    const childStart = new Map<string, number>();
    const childEnd = new Map<string, number>();
    const parentSaw = new Map<string, number>();
    const onJob = (u: JobUpdate) => {
      if (u.cmd === 'importUnmanagedInstance') (u.status === 0 ? childStart : childEnd).set(u.jobid, now());
      else if (u.cmd === 'importUnmanagedInstances' && u.message) {
        const m = /^\d+\/\d+: (.*) (imported|skipped|failed)/.exec(u.message);
        if (m) parentSaw.set(m[1]!, now());
      }
    };
    t.engine.jobs.updates.on('job', onJob);
    const db = instrumentDb(t.engine.db);
    const from = methods.length;
    const cpu0 = process.cpuUsage();
    const vcsim0 = procCpuMs(sim.info.pid);
    start = now();
    const done = await t.run('importUnmanagedInstances', { clusterid, csv, ...(cap ? { concurrency: String(cap) } : {}) });
    const wallMs = now() - start;
    const cpu = process.cpuUsage(cpu0);
    const vcsimCpuMs = procCpuMs(sim.info.pid) - vcsim0;
    const bulkCalls = methods.slice(from).filter((m) => m !== 'WaitForUpdatesEx');
    db.stop();
    t.engine.jobs.updates.off('job', onJob);
    for (const u of undo) u();

    const result = (done['jobresult'] as { bulkimport?: { imported: number; failed: number; row: { name: string; jobid?: string; status: string; errortext?: string }[] } } | undefined)?.bulkimport;
    if (!result || result.imported !== VMS) throw new Error(`the bulk import did not import ${VMS} VMs: ${result ? JSON.stringify(result.row.filter((r) => r.status !== 'imported').slice(0, 5)) : JSON.stringify(done['jobresult']).slice(0, 600)}`);
    // Rows in the order the parent saw them: a row's planning starts when the worker's previous row ended (cap 1: the previous row).
    const ordered = result.row.filter((r) => r.jobid).sort((a, b) => parentSaw.get(a.name)! - parentSaw.get(b.name)!);
    const planMs: number[] = [];
    const childMs: number[] = [];
    const lagMs: number[] = [];
    const effective = cap ?? DEFAULT_CAP;
    ordered.forEach((r, i) => {
      const s = childStart.get(r.jobid!)!;
      const e = childEnd.get(r.jobid!)!;
      childMs.push(e - s);
      lagMs.push(parentSaw.get(r.name)! - e);
      // With one worker, the previous row's end is when this row's planning began; with more, the worker's own previous row is not known, so only cap 1 has it.
      if (effective === 1 && i > 0) planMs.push(s - parentSaw.get(ordered[i - 1]!.name)!);
    });
    return { param: cap, cap: effective, capLabel: cap ? `cap ${cap}` : `default cap (${DEFAULT_CAP})`, wallMs, exportMs, listMs, listCalls, bulkCalls, adoptMs, adopts, db: db.tally, planMs, childMs, lagMs, imported: result.imported, kilnCpuMs: (cpu.user + cpu.system) / 1000, vcsimCpuMs };
  } finally {
    await t.close();
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

function tallyOf(calls: string[]): string {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(c, (counts.get(c) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m}×${n}`).join(' ') || 'none';
}

export async function benchCsvBulk(): Promise<BenchResult[]> {
  if (!vcsimOrSkip()) {
    console.log('bench csv-bulk: vcsim is not built (test/vcsim/vcsim.sh build); skipped');
    return [];
  }
  const load = loadavg().map((l) => l.toFixed(2)).join(', ');
  const sim = Vcsim.start(['-cluster', '1', '-host', '4', '-standalone-host', '0', '-vm', '0', '-pg-std', '1', '-pg-dv', '1', '-autostart=false']);
  const recording = recordSoapMethods();
  try {
    const tSetup = now();
    const admin = await sim.connect();
    const where = await defaultPlacement(admin);
    await makeVms(admin, where);
    console.log(`bench csv-bulk: ${VMS} VMs made in vcsim in ${((now() - tSetup) / 1000).toFixed(1)} s; load ${load}`);

    // A warm-up round (not reported: the first runs of each path), then the caps in turn REPS times,
    // so that the machine's load falls on each alike; each cap's figures are its median round's.
    await round(sim, MAX_CAP, recording.methods);
    const byCap = new Map<number | undefined, Round[]>([[1, []], [undefined, []], [MAX_CAP, []]]);
    for (let rep = 0; rep < REPS; rep++) for (const [cap, rounds] of byCap) rounds.push(await round(sim, cap, recording.methods));
    const middle = (rounds: Round[]) => [...rounds].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(rounds.length / 2)]!;
    const spread = (rounds: Round[]) => rounds.map((r) => f1(r.wallMs / VMS)).join(', ');
    const one = middle(byCap.get(1)!);
    const dflt = middle(byCap.get(undefined)!);
    const max = middle(byCap.get(MAX_CAP)!);

    // Baselines: vcsim's own per-call latency, on one session, as the driver's client sends.
    const vm = (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).find((o) => o.props['name'] === 'bulk-050')!.obj;
    const noop: number[] = [];
    const read: number[] = [];
    for (let i = 0; i < 30; i++) {
      let s = now();
      await admin.call('CurrentTime', new MoRef('ServiceInstance', 'ServiceInstance'));
      noop.push(now() - s);
      s = now();
      await retrieveProperties(admin, { objects: [vm], propSet: [{ type: 'VirtualMachine', pathSet: VM_PATHS }] });
      read.push(now() - s);
    }
    admin.close();
    const noopMs = median(noop);
    const readMs = median(read);
    const loadEnd = loadavg().map((l) => l.toFixed(2)).join(', ');

    const perVm = (r: Round) => r.wallMs / VMS;
    const describe = (r: Round) => {
      const top = [...r.db.bySql].sort((a, b) => b[1].ms - a[1].ms).slice(0, 3).map(([sql, e]) => `${e.n}× ${f1(e.ms)} ms "${sql}…"`).join('; ');
      return `${r.capLabel}: ${f1(r.wallMs)} ms wall, ${f1(perVm(r))} ms/VM (the ${REPS} rounds: ${spread(byCap.get(r.param)!)}); CPU per VM: Kiln's process ${f2(r.kilnCpuMs / VMS)} ms, vcsim ${f2(r.vcsimCpuMs / VMS)} ms; ` +
        `each child job median ${f1(median(r.childMs))} ms, its end to the parent's report median ${f2(median(r.lagMs))} ms; adopt ${f2(r.adoptMs / VMS)} ms/VM; ` +
        `DB ${f1(r.db.statements / VMS)} statements/VM run (${f2(r.db.statementMs / VMS)} ms/VM) and ${f1(r.db.prepares / VMS)} compiled (db.prepare, ${f2(r.db.prepareMs / VMS)} ms/VM), 1 write transaction/VM (${f2(r.db.transactionMs / r.db.transactions)} ms each with its commit) and ${f1(r.db.autocommits / VMS)} writes/VM committed on their own (the jobs' rows; ${f2(r.db.autocommitMs / VMS)} ms/VM); ` +
        `costliest statements: ${top}`;
    };
    for (const r of [one, dflt, max]) console.log(`bench csv-bulk ${describe(r)}`);
    if (process.env['KILN_BENCH_SQL']) for (const [sql, e] of [...dflt.db.bySql].sort((a, b) => b[1].n - a[1].n)) console.log(`  ${e.n}× ${f1(e.ms)} ms ${sql}`);
    // Cap 1 runs one row at a time, so its parts add up to its wall time.
    const plan = sum(one.planMs) / (VMS - 1);
    const child = sum(one.childMs) / VMS;
    const lag = sum(one.lagMs) / VMS;
    const parts = `a row at cap 1 (one at a time, so the parts add up): planning in the parent (rowParams, planImport) ${f2(plan)} ms, the import job ${f2(child)} ms (adopt ${f2(one.adoptMs / VMS)}, ` +
      `the write transaction ${f2(one.db.transactionMs / VMS)}), its end to the parent's report ${f2(lag)} ms, the rest ${f2(perVm(one) - plan - child - lag)} ms (the run's one listing, ${f1(one.listMs)} ms when timed alone, spread over ${VMS} rows, and each job's turn to start)`;

    const soapPerVm = dflt.bulkCalls.length / VMS;
    const common = `load average ${load} at start, ${loadEnd} at end (2 shared cores); vcsim: one CurrentTime ${f2(noopMs)} ms, one single-VM RetrievePropertiesEx ${f2(readMs)} ms (medians of 30)`;
    const bound = 10;
    return [
      {
        name: `CSV bulk import of ${VMS} VMware VMs (vcsim, 4 hosts, 2 disks + 2 NICs each, from exportUnmanagedInstances' CSV filled in), per VM at the default cap (${DEFAULT_CAP})`,
        value: perVm(dflt), unit: 'ms/VM', baseline: readMs, baselineName: "one RetrievePropertiesEx of a single VM's import properties (what an adopt that read the VM back would cost)",
        goal: `reported (the issue sets none); bound ≤ ${bound}× that one SOAP read per VM`, met: perVm(dflt) <= bound * readMs,
        note: `${f1(dflt.wallMs)} ms for ${VMS} VMs in one parent job. The run sends the SOAP calls of one listing (${dflt.bulkCalls.length}, ${f2(soapPerVm)}/VM) and none per VM, so vCenter's latency bounds only that listing; ` +
          `the per-VM cost is the engine's own work in one thread, CPU and SQLite: ${parts}. ${describe(dflt)}. The bound: an import that read each VM back, or its host's networks and datastores, would pay a few such round trips per VM on top of the same bookkeeping; ${bound} is the budget set here for Kiln's per-VM bookkeeping alone. ${common}`,
      },
      {
        name: `CSV bulk import of ${VMS} VMware VMs, per VM at cap 1 against the default cap`,
        value: perVm(one), unit: 'ms/VM', baseline: perVm(dflt), baselineName: `ms/VM at the default cap (${DEFAULT_CAP})`,
        goal: 'reported: with no per-VM SOAP call a row is CPU and SQLite work in one thread, so a higher cap overlaps little', met: true,
        note: `${describe(one)}. At cap ${MAX_CAP}: ${f1(perVm(max))} ms/VM (${f2(perVm(max) / perVm(dflt))}× the default cap; ${describe(max)}). ${common}`,
      },
      {
        name: `CSV bulk import of ${VMS} VMware VMs, SOAP calls per VM`,
        value: soapPerVm, unit: 'calls/VM', baseline: dflt.listCalls / VMS, baselineName: 'one listUnmanagedInstances of the cluster, per VM',
        goal: 'no SOAP call per VM beyond the one listing a run makes', met: [...byCap.values()].flat().every((r) => r.bulkCalls.length <= r.listCalls),
        note: `one listing: ${dflt.listCalls} calls (4 hosts); the runs: cap 1 ${tallyOf(one.bulkCalls)}; default ${tallyOf(dflt.bulkCalls)}; cap ${MAX_CAP} ${tallyOf(max.bulkCalls)} (WaitForUpdatesEx, the change stream's long poll, left out); exportUnmanagedInstances of the ${VMS} VMs ${f1(dflt.exportMs)} ms`,
      },
    ];
  } finally {
    recording.stop();
    sim.stop();
  }
}
