/**
 * Crash-consistency rounds against a real `kiln serve` process (issue 10, "Tests that stay in
 * CI"): fire many concurrent lifecycle calls over signed HTTP, `kill -9` the process at a seeded
 * random moment, check the database file, restart on the same data dir, let one sync pass run, and
 * compare what Kiln says with what the hosts say. The hosts are given by a callback, so the same
 * rounds run on the simulator (simulator.json) and on real KVM hosts (virsh list --all).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { signRequest } from '../../main/engine/auth/signing.js';
import { seededRandom } from './seeded-random.js';
import { startKiln, type KilnProcess } from './server.js';

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** A signed CloudStack API call (HMAC-SHA256, POST) to a running kiln serve. */
export async function api(kiln: KilnProcess, command: string, params: Record<string, string> = {}): Promise<ApiAnswer> {
  const body = new URLSearchParams(signRequest({ apiKey: kiln.apiKey, response: 'json', command, ...params }, kiln.secretKey));
  const res = await fetch(kiln.apiUrl, { method: 'POST', body });
  const json = (await res.json()) as Record<string, Record<string, unknown>>;
  return { status: res.status, body: Object.values(json)[0] ?? {} };
}

/** Like api, but throws unless the answer is 200. */
export async function ok(kiln: KilnProcess, command: string, params: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await api(kiln, command, params);
  if (res.status !== 200) throw new Error(`${command}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls an async job until it is done; returns its queryAsyncJobResult answer. */
export async function waitJob(kiln: KilnProcess, jobid: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await ok(kiln, 'queryAsyncJobResult', { jobid });
    if (res['jobstatus'] !== 0) return res;
    if (Date.now() > deadline) throw new Error(`job ${jobid} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Calls the async COMMAND and waits for its job; returns its queryAsyncJobResult answer. */
export async function okJob(kiln: KilnProcess, command: string, params: Record<string, string> = {}, timeoutMs?: number): Promise<Record<string, unknown>> {
  return waitJob(kiln, String((await ok(kiln, command, params))['jobid']), timeoutMs);
}

/** VM ID as listVirtualMachines gives it. */
export async function listedVm(kiln: KilnProcess, id: string): Promise<{ state: string; instancename: string; hostid?: string } & Record<string, unknown>> {
  return ((await ok(kiln, 'listVirtualMachines', { id }))['virtualmachine'] as ({ state: string; instancename: string; hostid?: string } & Record<string, unknown>)[])[0]!;
}

/** A domain as a host reports it. */
export interface HostDomain {
  host: string;
  name: string;
  running: boolean;
}

export interface CrashOptions {
  seed: number;
  rounds: number;
  /** Concurrent lifecycle calls per round. */
  operations: number;
  /** The kill comes at a random moment in [50, 50 + killWindowMs) ms after the first call is sent. */
  killWindowMs: number;
  /** Parameters of deployVirtualMachine (zone, template, offering, network, ...). */
  deploy: Record<string, string>;
  /** Upper bound for VMs that are not expunged, so the hosts' capacity is never the story. */
  maxVms: number;
  /** Every domain on every host, named as Kiln's hosts.name does. */
  hostDomains(): Promise<HostDomain[]>;
  /** How long a restarted Kiln may take to settle every VM (one reconcile and HA pass). */
  settleMs: number;
  /** Extra kiln serve arguments and environment. */
  args?: string[];
  env?: Record<string, string>;
}

export interface RoundReport {
  round: number;
  killAfterMs: number;
  answeredBeforeKill: number;
  operations: Record<string, number>;
  atKill: { jobsInProgress: number; transientVms: Record<string, number> };
  interruptedJobs: number;
  settledAfterMs: number;
  vms: Record<string, number>;
}

export interface Findings {
  integrity: string[];
  transient: string[];
  unfinishedJobs: string[];
  jobsWithoutMessage: string[];
  orphanDomains: string[];
  lostVms: string[];
  runningTwiceOrElsewhere: string[];
}

interface VmView {
  uuid: string;
  internal_name: string;
  state: string;
  host: string | null;
}

const TRANSIENT = ['Creating', 'Starting', 'Stopping', 'Migrating', 'Destroying', 'Expunging'];
const OPERATIONS = ['deploy', 'start', 'stop', 'reboot', 'destroy', 'expunge'] as const;
type Operation = (typeof OPERATIONS)[number];

function readDb<T>(dataDir: string, read: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, 'kiln.db'), { timeout: 10_000 });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function vmViews(db: Database.Database): VmView[] {
  return db.prepare(`SELECT v.uuid, v.internal_name, v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id`).all() as VmView[];
}

/** The calls one round fires, each against a VM picked at random (or a new one for deploy). */
function plan(random: () => number, vms: VmView[], options: CrashOptions, round: number): { op: Operation; vm?: VmView; name?: string }[] {
  const live = vms.filter((vm) => vm.state !== 'Expunged');
  let room = options.maxVms - live.length;
  const calls: { op: Operation; vm?: VmView; name?: string }[] = [];
  for (let i = 0; i < options.operations; i++) {
    let op = OPERATIONS[Math.floor(random() * OPERATIONS.length)]!;
    if (op === 'deploy' && room <= 0) op = 'expunge';
    if (op !== 'deploy' && live.length === 0) op = 'deploy';
    // With no VM yet and no room for one, there is nothing to call (the first round on an empty zone).
    if (op === 'deploy' && room <= 0) continue;
    if (op === 'deploy') {
      room--;
      calls.push({ op, name: `crash-r${round}-${i}` });
    } else {
      calls.push({ op, vm: live[Math.floor(random() * live.length)]! });
    }
  }
  return calls;
}

async function fire(kiln: KilnProcess, call: { op: Operation; vm?: VmView; name?: string }, deploy: Record<string, string>): Promise<ApiAnswer> {
  const id = call.vm?.uuid ?? '';
  switch (call.op) {
    case 'deploy':
      return api(kiln, 'deployVirtualMachine', { ...deploy, name: call.name! });
    case 'start':
      return api(kiln, 'startVirtualMachine', { id });
    case 'stop':
      return api(kiln, 'stopVirtualMachine', { id, forced: 'true' });
    case 'reboot':
      return api(kiln, 'rebootVirtualMachine', { id });
    case 'destroy':
      return api(kiln, 'destroyVirtualMachine', { id });
    case 'expunge':
      return call.vm?.state === 'Destroyed' ? api(kiln, 'expungeVirtualMachine', { id }) : api(kiln, 'destroyVirtualMachine', { id, expunge: 'true' });
  }
}

/** SIGKILLs a kiln serve (kill -9) and resolves once it has exited. */
export function killHard(kiln: KilnProcess): Promise<void> {
  return new Promise((resolve) => {
    if (kiln.child.exitCode !== null || kiln.child.signalCode !== null) return resolve();
    kiln.child.once('exit', () => resolve());
    kiln.child.kill('SIGKILL');
  });
}

/**
 * Reads backup ID through listBackups every 200 ms, at most TRIES times, until DONE holds for it
 * (what a restarted Kiln's recovery is waited for with); gives the last read either way.
 */
export async function pollBackup(kiln: KilnProcess, id: string, done: (backup: Record<string, unknown> | undefined) => boolean, tries: number): Promise<Record<string, unknown> | undefined> {
  let backup: Record<string, unknown> | undefined;
  for (let i = 0; i < tries; i++) {
    backup = ((await ok(kiln, 'listBackups', { id }))['backup'] as Record<string, unknown>[] | undefined)?.[0];
    if (done(backup)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return backup;
}

/** Compares the database with the hosts once Kiln has settled. */
export async function consistency(dataDir: string, hostDomains: () => Promise<HostDomain[]>): Promise<Omit<Findings, 'integrity' | 'transient'>> {
  const { vms, jobs } = readDb(dataDir, (db) => ({
    vms: vmViews(db),
    jobs: db.prepare('SELECT uuid, cmd, status, result FROM async_jobs').all() as { uuid: string; cmd: string; status: number; result: string | null }[],
  }));
  const domains = await hostDomains();
  const byName = new Map(vms.map((vm) => [vm.internal_name, vm]));
  const findings = { unfinishedJobs: [] as string[], jobsWithoutMessage: [] as string[], orphanDomains: [] as string[], lostVms: [] as string[], runningTwiceOrElsewhere: [] as string[] };
  for (const job of jobs) {
    if (job.status === 0) findings.unfinishedJobs.push(`${job.cmd} ${job.uuid}`);
    if (job.status === 2) {
      const text = job.result ? (JSON.parse(job.result) as { errortext?: string }).errortext : undefined;
      if (!text) findings.jobsWithoutMessage.push(`${job.cmd} ${job.uuid}`);
    }
  }
  for (const domain of domains) {
    const vm = byName.get(domain.name);
    if (!vm || vm.state === 'Expunged') {
      findings.orphanDomains.push(`${domain.name} on ${domain.host} (${domain.running ? 'running' : 'shut off'}; Kiln: ${vm?.state ?? 'no such VM'})`);
    } else if (domain.running && !(vm.state === 'Running' && vm.host === domain.host)) {
      findings.runningTwiceOrElsewhere.push(`${domain.name} runs on ${domain.host}; Kiln: ${vm.state} on ${vm.host ?? 'no host'}`);
    }
  }
  for (const vm of vms.filter((v) => v.state === 'Running')) {
    if (!domains.some((d) => d.name === vm.internal_name && d.host === vm.host && d.running)) {
      findings.lostVms.push(`${vm.internal_name} is Running on ${vm.host ?? '?'} in Kiln but not on the host`);
    }
  }
  return findings;
}

async function settle(dataDir: string, settleMs: number): Promise<{ afterMs: number; transient: VmView[] }> {
  const start = Date.now();
  for (;;) {
    const transient = readDb(dataDir, (db) => vmViews(db).filter((vm) => TRANSIENT.includes(vm.state)));
    const busyJobs = readDb(dataDir, (db) => db.prepare('SELECT COUNT(*) FROM async_jobs WHERE status=0').pluck().get() as number);
    if ((transient.length === 0 && busyJobs === 0) || Date.now() - start > settleMs) return { afterMs: Date.now() - start, transient };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the rounds; returns what each round did and every inconsistency found. */
export async function crashRounds(dataDir: string, options: CrashOptions): Promise<{ reports: RoundReport[]; findings: Findings; kiln: KilnProcess }> {
  const random = seededRandom(options.seed);
  const findings: Findings = { integrity: [], transient: [], unfinishedJobs: [], jobsWithoutMessage: [], orphanDomains: [], lostVms: [], runningTwiceOrElsewhere: [] };
  const reports: RoundReport[] = [];
  const start = () => startKiln({ dataDir, args: ['--no-ui', ...(options.args ?? [])], env: options.env });
  let kiln = await start();
  let interruptedBefore = 0;
  for (let round = 1; round <= options.rounds; round++) {
    const calls = plan(random, readDb(dataDir, vmViews), options, round);
    const operations: Record<string, number> = {};
    for (const call of calls) operations[call.op] = (operations[call.op] ?? 0) + 1;
    const killAfterMs = 50 + Math.floor(random() * options.killWindowMs);
    let answered = 0;
    let killed = false;
    const inFlight = calls.map((call) =>
      fire(kiln, call, options.deploy).then(
        () => {
          if (!killed) answered++;
        },
        () => undefined, // the connection died with the process
      ),
    );
    await new Promise((r) => setTimeout(r, killAfterMs));
    killed = true;
    await killHard(kiln);
    await Promise.all(inFlight);

    // The file the next process opens must be sound (SQLite replays its WAL here, as Kiln would).
    const integrity = readDb(dataDir, (db) => db.pragma('integrity_check', { simple: true }) as string);
    if (integrity !== 'ok') findings.integrity.push(`round ${round}: ${integrity}`);
    // Where the kill landed: jobs under way and VMs half-way through a change at that moment.
    const atKill = readDb(dataDir, (db) => ({
      jobsInProgress: db.prepare('SELECT COUNT(*) FROM async_jobs WHERE status=0').pluck().get() as number,
      transientVms: Object.fromEntries((db.prepare(`SELECT state, COUNT(*) AS n FROM vm_instances WHERE state IN (${TRANSIENT.map(() => '?').join(',')}) GROUP BY state`).all(...TRANSIENT) as { state: string; n: number }[]).map((r) => [r.state, r.n])),
    }));

    kiln = await start();
    const settled = await settle(dataDir, options.settleMs);
    for (const vm of settled.transient) findings.transient.push(`round ${round}: ${vm.internal_name} ${vm.state}`);
    const found = await consistency(dataDir, options.hostDomains);
    for (const [key, list] of Object.entries(found) as [keyof typeof found, string[]][]) findings[key].push(...list.map((f) => `round ${round}: ${f}`));
    const { interrupted, vms } = readDb(dataDir, (db) => ({
      interrupted: db.prepare(`SELECT COUNT(*) FROM async_jobs WHERE result LIKE '%Job interrupted%'`).pluck().get() as number,
      vms: Object.fromEntries((db.prepare(`SELECT state, COUNT(*) AS n FROM vm_instances GROUP BY state`).all() as { state: string; n: number }[]).map((r) => [r.state, r.n])),
    }));
    const interruptedJobs = interrupted - interruptedBefore;
    interruptedBefore = interrupted;
    reports.push({ round, killAfterMs, answeredBeforeKill: answered, operations, atKill, interruptedJobs, settledAfterMs: settled.afterMs, vms });
  }
  const integrity = readDb(dataDir, (db) => db.pragma('integrity_check', { simple: true }) as string);
  if (integrity !== 'ok') findings.integrity.push(`end: ${integrity}`);
  return { reports, findings, kiln };
}
