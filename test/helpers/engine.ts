/** A throwaway engine in a temporary data dir, and a way to call commands as a given caller. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, silentLogger } from '../../main/engine/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';
import type { HypervisorDriver } from '../../drivers/types.js';

export interface TestEngine {
  engine: Engine;
  dataDir: string;
  admin: Caller;
  call(command: string, params?: Record<string, string>, caller?: Caller): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Calls an async command and waits for its job; returns the job record. */
  run(command: string, params?: Record<string, string>, caller?: Caller): Promise<Record<string, unknown>>;
  /** call(), and the body of a 200; anything else throws with the body. */
  ok(command: string, params?: Record<string, string>, caller?: Caller): Promise<Record<string, unknown>>;
  /** run(), and the job's result when it succeeded; a failed job throws with its result. */
  job(command: string, params?: Record<string, string>, caller?: Caller): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function testEngine(options: { dataDir?: string; keep?: boolean; drivers?: HypervisorDriver[]; background?: boolean } = {}): Promise<TestEngine> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kiln-test-'));
  // Without the background tasks unless asked (a test of what Kiln does at start on its own).
  const engine = await Engine.open({ dataDir, background: options.background ?? false, log: silentLogger, drivers: options.drivers });
  const admin = engine.accounts.localAdmin();
  const call = async (command: string, params: Record<string, string> = {}, caller: Caller = admin) => {
    const result = await engine.registry.execute(command, params, caller);
    return { status: result.status, body: result.body };
  };
  const run = async (command: string, params: Record<string, string> = {}, caller: Caller = admin) => {
    const res = await call(command, params, caller);
    const jobId = res.body['jobid'];
    if (typeof jobId !== 'string') throw new Error(`${command} did not start a job: ${JSON.stringify(res.body)}`);
    return engine.jobs.wait(jobId);
  };
  return {
    engine,
    dataDir,
    admin,
    call,
    run,
    async ok(command, params = {}, caller = admin) {
      const res = await call(command, params, caller);
      if (res.status !== 200) throw new Error(`${command}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async job(command, params = {}, caller = admin) {
      const done = await run(command, params, caller);
      if (done['jobstatus'] !== 1) throw new Error(`${command}: ${JSON.stringify(done['jobresult'])}`);
      return done['jobresult'] as Record<string, unknown>;
    },
    async close() {
      await engine.close();
      if (!options.keep) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Ids of the demo zone's catalogue, looked up by name. */
export function demoIds(engine: Engine): { zoneid: string; templateid: string; isoid: string; small: string; large: string; custom: string; constrained: string; network: string; diskSmall: string } {
  const one = (sql: string) => (engine.db.prepare(sql).get() as { uuid: string }).uuid;
  return {
    zoneid: one(`SELECT uuid FROM zones WHERE name='Demo'`),
    templateid: one(`SELECT uuid FROM templates WHERE name='Debian 12'`),
    isoid: one(`SELECT uuid FROM templates WHERE is_iso=1`),
    small: one(`SELECT uuid FROM service_offerings WHERE name='Small Instance'`),
    large: one(`SELECT uuid FROM service_offerings WHERE name='Large Instance'`),
    custom: one(`SELECT uuid FROM service_offerings WHERE name='Custom'`),
    constrained: one(`SELECT uuid FROM service_offerings WHERE name='Custom Constrained'`),
    network: one(`SELECT uuid FROM networks LIMIT 1`),
    diskSmall: one(`SELECT uuid FROM disk_offerings WHERE name='Small'`),
  };
}

/** A snapshot of every table's rows but sessions, to prove a refused call wrote nothing. */
export function dbFingerprint(engine: Engine): string {
  return tablesFingerprint(engine.db);
}

/**
 * The same snapshot of any open Kiln database (a `kiln serve` process's file, opened read-only).
 * Rows are compared as a sorted set: a WITHOUT ROWID table (vm_instance_counts) has no rowid to order by.
 */
export function tablesFingerprint(db: { prepare(sql: string): { all(): unknown[] } }): string {
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type='table' ORDER BY name`).all() as { name: string }[]).map((t) => t.name);
  return tables
    .filter((t) => t !== 'sessions')
    .map((t) => `${t}:${JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all().map((row) => JSON.stringify(row)).sort())}`)
    .join('\n');
}

/** Deploys a VM from the demo template (Small Instance unless PARAMS say otherwise) and waits for it. */
export async function deployDemo(t: TestEngine, params: Record<string, string> = {}, caller: Caller = t.admin): Promise<Record<string, string>> {
  const ids = demoIds(t.engine);
  const job = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, ...params }, caller);
  if (job['jobstatus'] !== 1) throw new Error(JSON.stringify(job['jobresult']));
  return (job['jobresult'] as { virtualmachine: Record<string, string> }).virtualmachine;
}

/** The simulated domain of a VM, on the host it runs on or last ran on. */
export function simDomain(t: TestEngine, vmId: string) {
  const row = t.engine.db.prepare('SELECT v.internal_name, h.name AS host FROM vm_instances v JOIN hosts h ON h.id=coalesce(v.host_id, v.last_host_id) WHERE v.uuid=?').get(vmId) as { internal_name: string; host: string };
  return { ...row, domain: t.engine.simulator.world.find(row.host)!.domains[row.internal_name]! };
}

/** Types one command on a simulated VM's serial console and returns what came back. */
export async function consoleRun(t: TestEngine, vmId: string, command: string): Promise<string> {
  const stream = await t.engine.vms.openConsole(t.admin, vmId);
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => setImmediate(r));
  stream.write(`${command}\r`);
  await new Promise((r) => setImmediate(r));
  stream.destroy();
  return out;
}
