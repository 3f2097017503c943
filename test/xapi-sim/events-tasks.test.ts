/**
 * §1.6/§1.7, §6.4 and §6.5 of xenapi.md: event.from (tokens, classes, add/mod/del, snapshots,
 * blocking, valid_ref_counts, EVENTS_LOST, event.inject) and Async tasks (the task record while
 * pending and when done, result encoding, failures, cancel).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf, Session } from './rpc-client.js';
import { startSimulator, type RunningSim } from './simulator.js';

interface Batch {
  events: Array<{ id: string; timestamp: string; class: string; operation: string; ref: string; snapshot?: Record<string, unknown> }>;
  valid_ref_counts: Record<string, number>;
  token: string;
}

let sim: RunningSim;
let s: Session;
beforeAll(async () => {
  sim = await startSimulator({ http: true, password: 'pw', taskDelayMs: 40 });
  s = await Session.login(sim.info().url, 'root', 'pw');
});
afterAll(() => sim.stop());

const from = (classes: string[], token: string, timeout = 0.05): Promise<Batch> => s.call<Batch>('event.from', classes, token, timeout);
const template = (): string => sim.sim.store.all('VM').find((r) => r.rec['name_label'] === 'Other install media')!.ref;

describe('event.from (§1.7, §6.4)', () => {
  it('from the empty token gives an add per object, lowercase class, full snapshot, %020d,%020d token and counts for every class', async () => {
    const b = await from(['pool', 'VM'], '');
    expect(b.token).toMatch(/^\d{20},\d{20}$/);
    const pool = b.events.find((e) => e.class === 'pool')!;
    expect(pool).toMatchObject({ operation: 'add', ref: sim.sim.pool, snapshot: { master: sim.sim.master } });
    expect(b.events.filter((e) => e.class === 'vm')).toHaveLength(sim.sim.store.count('VM'));
    expect(b.events.every((e) => ['pool', 'vm'].includes(e.class))).toBe(true);
    expect(b.valid_ref_counts).toMatchObject({ vm: sim.sim.store.count('VM'), host: 2, task: sim.sim.store.count('task'), gpu_group: 0, vgpu_type: expect.any(Number) as number, pool: 1 });
  });

  it('after its token: nothing until a change, then one mod with the record as it is now', async () => {
    const { token } = await from(['vm'], '');
    const started = Date.now();
    const empty = await from(['vm'], token, 0.2);
    expect(empty.events).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await s.call('VM.set_name_description', template(), 'one');
    await s.call('VM.set_name_description', template(), 'two');
    const b = await from(['VM'], empty.token);
    expect(b.events).toHaveLength(1);
    expect(b.events[0]).toMatchObject({ class: 'vm', operation: 'mod', ref: template(), snapshot: { name_description: 'two' } });
  });

  it('blocks until a matching change arrives, well before its timeout', async () => {
    const { token } = await from(['vm'], '');
    const started = Date.now();
    setTimeout(() => void s.call('VM.set_name_description', template(), 'woken'), 100);
    const b = await from(['vm'], token, 10);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(b.events.map((e) => e.snapshot?.['name_description'])).toEqual(['woken']);
  });

  it('a class/ref subscription sees that object only; "*" sees all', async () => {
    const { token } = await from(['*'], '');
    const other = sim.sim.store.all('VM').find((r) => r.rec['name_label'] === 'Debian Bookworm 12')!.ref;
    await s.call('VM.set_name_description', other, 'x');
    await s.call('VM.set_name_description', template(), 'y');
    const one = await from([`VM/${template()}`], token);
    expect(one.events.map((e) => e.ref)).toEqual([template()]);
    const all = await from(['*'], token);
    expect(all.events.map((e) => e.ref).sort()).toEqual([other, template()].sort());
  });

  it('creation is add, destruction is del without snapshot', async () => {
    const { token } = await from(['task'], '');
    const task = await s.call<string>('task.create', 'mine', 'a task');
    const added = await from(['task'], token);
    expect(added.events).toEqual([expect.objectContaining({ class: 'task', operation: 'add', ref: task })]);
    await s.call('task.destroy', task);
    const gone = await from(['task'], added.token);
    expect(gone.events).toHaveLength(1);
    expect(gone.events[0]).toMatchObject({ operation: 'del', ref: task });
    expect(gone.events[0]).not.toHaveProperty('snapshot');
    expect(gone.valid_ref_counts['task']).toBe(added.valid_ref_counts['task']! - 1);
  });

  it('a malformed token is EVENT_FROM_TOKEN_PARSE_FAILURE [token]; an armed fault gives EVENTS_LOST []', async () => {
    expect(await failureOf(from(['vm'], 'garbage'))).toEqual(['EVENT_FROM_TOKEN_PARSE_FAILURE', 'garbage']);
    await fetch(`${sim.controlUrl}/_sim/events-lost`, { method: 'POST' });
    expect(await failureOf(from(['vm'], ''))).toEqual(['EVENTS_LOST']);
    expect((await from(['vm'], '')).events.length).toBeGreaterThan(0);
  });

  it('save-state/restore-state go back as ordinary events: del for what was made, mod for what changed, add for what was destroyed', async () => {
    const ctl = (a: string, b: Record<string, unknown>): Promise<Response> => fetch(`${sim.controlUrl}/_sim/${a}`, { method: 'POST', body: JSON.stringify(b) });
    const doomed = await s.call<string>('task.create', 'kept', '');
    expect((await ctl('save-state', { name: 'before' })).status).toBe(200);
    const { token } = await from(['*'], '');
    const made = await s.call<string>('task.create', 'made later', '');
    await s.call('VM.set_name_description', template(), 'changed later');
    await s.call('task.destroy', doomed);
    expect((await ctl('restore-state', { name: 'before' })).status).toBe(200);
    const b = await from(['*'], token);
    const op = (ref: string): string | undefined => b.events.find((e) => e.ref === ref)?.operation;
    expect([op(made), op(template()), op(doomed)]).toEqual(['del', 'mod', 'add']);
    expect(await s.call('VM.get_name_description', template())).not.toBe('changed later');
    expect(await s.call('task.get_name_label', doomed)).toBe('kept');
    expect(await failureOf(s.call('task.get_record', made))).toEqual(['HANDLE_INVALID', 'task', made]);
    // The session survives a restore.
    expect(await s.call('pool.get_all')).toEqual([sim.sim.pool]);
    await s.call('task.destroy', doomed);
  });

  it('event.inject makes a mod of that object and returns a token that covers it', async () => {
    const { token } = await from(['pool'], '');
    const injected = await s.call<string>('event.inject', 'pool', sim.sim.pool);
    expect(injected).toMatch(/^\d{20},\d{20}$/);
    expect((await from(['pool'], token)).events).toEqual([expect.objectContaining({ operation: 'mod', ref: sim.sim.pool })]);
    expect((await from(['pool'], injected)).events).toEqual([]);
    expect(await failureOf(s.call('event.inject', 'VM', 'OpaqueRef:nope'))).toEqual(['HANDLE_INVALID', 'VM', 'OpaqueRef:nope']);
  });
});

describe('Async calls and tasks (§1.6, §6.5)', () => {
  it('returns a pending task at once, which ends success with progress 1 and an XML-RPC result fragment', async () => {
    const host = sim.sim.master;
    // Long enough that the first read sees it pending on a loaded machine (40 ms was not, under CI load).
    sim.sim.options.taskDelayMs = 1_000;
    const task = await s.call<string>('Async.host.compute_free_memory', host);
    sim.sim.options.taskDelayMs = 40;
    const pending = await s.call<Record<string, unknown>>('task.get_record', task);
    expect(pending).toMatchObject({ status: 'pending', progress: 0, name_label: 'Async.host.compute_free_memory', resident_on: host, allowed_operations: ['cancel'], finished: '19700101T00:00:00Z' });
    expect(pending['created']).toMatch(/^\d{8}T\d\d:\d\d:\d\dZ$/);
    let rec = pending;
    while (rec['status'] === 'pending') rec = await s.call<Record<string, unknown>>('task.get_record', task);
    const free = await s.call<number>('host.compute_free_memory', host);
    expect(rec).toMatchObject({ status: 'success', progress: 1, allowed_operations: [], result: `<value>${free}</value>`, error_info: [] });
    expect(await s.call('task.get_status', task)).toBe('success');
    expect(await s.call('task.get_result', task)).toBe(`<value>${free}</value>`);
    await s.call('task.destroy', task);
    expect(await failureOf(s.call('task.get_record', task))).toEqual(['HANDLE_INVALID', 'task', task]);
  });

  it('a void call gives result ""; a ref result decodes through the helper; a failure fills error_info', async () => {
    const h = sim.sim.store.all('host')[1]!.ref;
    expect(await s.callAsync('host.disable', h)).toBe('');
    expect(await s.callAsync('host.enable', h)).toBe('');
    const task = await s.call<string>('Async.host.compute_free_memory', 'OpaqueRef:bad');
    let rec: Record<string, unknown>;
    do rec = await s.call<Record<string, unknown>>('task.get_record', task);
    while (rec['status'] === 'pending');
    expect(rec).toMatchObject({ status: 'failure', error_info: ['HANDLE_INVALID', 'host', 'OpaqueRef:bad'] });
    await s.call('task.destroy', task);
  });

  it('session.*, task.* and field accessors have no Async twin; a dead session fails synchronously', async () => {
    expect(await failureOf(s.call('Async.session.logout'))).toEqual(['MESSAGE_METHOD_UNKNOWN', 'Async.session.logout']);
    expect(await failureOf(s.call('Async.VM.get_name_label', template()))).toEqual(['MESSAGE_METHOD_UNKNOWN', 'Async.VM.get_name_label']);
    const dead = await Session.login(sim.info().url, 'root', 'pw');
    await dead.call('session.logout');
    expect(await failureOf(dead.call('Async.host.enable', sim.sim.master))).toEqual(['SESSION_INVALID', dead.ref]);
  });

  it('task.cancel of a finished task is OPERATION_NOT_ALLOWED; of a pending one it is cancelling', async () => {
    const t = await s.call<string>('task.create', 'external', '');
    await s.call('task.cancel', t);
    expect(await s.call('task.get_status', t)).toBe('cancelling');
    expect((await failureOf(s.call('task.cancel', t)))[0]).toBe('OPERATION_NOT_ALLOWED');
    await s.call('task.destroy', t);
  });
});
