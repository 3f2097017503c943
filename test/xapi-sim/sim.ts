/**
 * One simulated pool: its database, sessions, method table, faults, and the dispatch every
 * transport calls (§6.1 item 5: method lookup, arity, session, then the call or its Async task).
 */
import { randomUUID } from 'node:crypto';
import { Api, bindArgs, registerGeneric, type Ctx, type Method } from './api.js';
import { Store } from './store.js';
import { XapiFailure } from './wire.js';

export interface Session {
  ref: string;
  uuid: string;
  user: string;
  originator: string;
  host: string;
  lastActive: Date;
}

export interface SimOptions {
  username: string;
  password: string;
  /** How long an Async task stays pending before its work runs (ms). */
  taskDelayMs: number;
  /** Upper bound on event.from's wait, whatever timeout the client passes (s). */
  eventTimeoutClampS: number;
}

/** One fault armed by the test-control API: the next `count` calls of `method` fail or wait. */
export interface Fault {
  method: string;
  count: number;
  error?: string[];
  delayMs?: number;
  /** Close the connection without an answer. */
  drop?: boolean;
  /**
   * A wire method (e.g. Async.VM.migrate_send): the fault waits until that method has been
   * called, so a test can cut the connection while that call's task runs, not before it.
   */
  after?: string;
  /** For an HTTP handler (method "PUT /import"): answer 302 with this origin (scheme://host:port) and the request's path. */
  redirect?: string;
}

export class CallDropped extends Error {}

export class Sim {
  readonly store = new Store();
  readonly api = new Api();
  readonly sessions = new Map<string, Session>();
  readonly faults: Fault[] = [];
  /** Calls seen, for tests that assert what a client asked (method names only). */
  readonly calls: string[] = [];
  /** Hooks run after a generic setter changed an object (a VM's allowed_operations follow its fields). */
  readonly setHooks: Array<(cls: string, ref: string) => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  stopped = false;
  /** The URL a client reaches a host's address at (set by RunningSim): migrate_receive's `master`. */
  urlOf: (address: string) => string = (address) => `https://${address}`;

  constructor(readonly options: SimOptions) {
    registerGeneric(this.api, this.store, { afterSet: (cls, ref) => this.setHooks.forEach((h) => h(cls, ref)) });
    this.api.def('system.listMethods', '', () => this.listMethods(), { session: false });
    this.api.def('system.methodHelp', 'method:string', () => '', { session: false });
  }

  /** The pool's one row. */
  get pool(): string {
    return this.store.all('pool')[0]!.ref;
  }
  get master(): string {
    return this.store.rec('pool', this.pool)['master'] as string;
  }

  listMethods(): string[] {
    const out: string[] = [];
    for (const m of this.api.methods.values()) {
      out.push(m.name);
      if (m.async) out.push(`Async.${m.name}`);
    }
    return out.sort();
  }

  session(ref: unknown): Session {
    const s = typeof ref === 'string' ? this.sessions.get(ref) : undefined;
    if (!s) throw new XapiFailure('SESSION_INVALID', [String(ref)]);
    s.lastActive = new Date();
    return s;
  }

  openSession(user: string, originator: string, host: string): string {
    const ref = `OpaqueRef:${randomUUID()}`;
    this.sessions.set(ref, { ref, uuid: randomUUID(), user, originator, host, lastActive: new Date() });
    return ref;
  }

  /** A timer the simulator owns (cleared on stop). */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => (ms <= 0 ? setImmediate(resolve) : this.later(ms, resolve)));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** The armed fault for METHOD (a wire method, or an HTTP handler as "PUT /import", which "*" does not match), counted down. */
  takeFault(method: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.after === undefined && (f.method === method || (f.method === '*' && !method.includes(' '))));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (--f.count <= 0) this.faults.splice(i, 1);
    return f;
  }

  /** Runs one call as it came off the wire; `host` is the host whose address it reached. */
  async dispatch(wireName: string, params: unknown[], host: string): Promise<unknown> {
    this.calls.push(wireName);
    const isAsync = wireName.startsWith('Async.');
    const name = isAsync ? wireName.slice('Async.'.length) : wireName;
    const m = this.api.methods.get(name);
    if (!m || (isAsync && !m.async)) throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', [wireName]);
    const args = bindArgs(m, wireName, params);
    const ctx: Ctx = { host, work: () => Promise.resolve() };
    if (m.session) {
      ctx.session = params[0] as string;
      this.session(params[0]);
    }
    const fault = this.takeFault(wireName);
    // Faults waiting for this call are armed for the calls after it (not for this one).
    for (const f of this.faults) if (f.after === wireName) f.after = undefined;
    if (fault?.delayMs) await this.sleep(fault.delayMs);
    if (fault?.drop) throw new CallDropped();
    if (fault?.error) throw new XapiFailure(fault.error[0]!, fault.error.slice(1));
    if (isAsync) return this.startAsync(m, ctx, args);
    return m.run(ctx, args);
  }

  /** Set by tasks.ts: creates the task of an Async call, runs the call in it, returns its ref. */
  startAsync: (m: Method, ctx: Ctx, args: unknown[]) => string = () => {
    throw new XapiFailure('MESSAGE_METHOD_UNKNOWN', ['Async']);
  };

  /** Armed by the control API: the next event.from fails with EVENTS_LOST. */
  eventsLost = false;
}
