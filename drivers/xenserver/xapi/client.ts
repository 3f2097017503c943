/**
 * Kiln's xapi client (JSON-RPC): login, with a redirect to the pool master when the URL names a
 * member (HOST_IS_SLAVE [master]); every call carries the session and is sent once more after one
 * shared re-login when xapi answers SESSION_INVALID (an expired session, a restarted master);
 * Async.* calls are tasks, reported (onTask) as soon as they exist, waited for on the task's own
 * event.from subscription (no polling), cancelled by task.cancel when the caller aborts, and
 * destroyed once read.
 */
import type { Readable } from 'node:stream';
import { startedOrClosed } from '../../common/shared-connections.js';
import { XapiError, XapiProtocolError, isXapiError } from './errors.js';
import type { ParamsOf, ResultOf, XapiMethod } from './methods.js';
import type { TaskRecord, XRef, XapiClass, XapiRecords } from './records.js';
import { decodeTaskResult, type XmlRpcValue } from './task-result.js';
import { JsonRpcTransport } from './transport.js';

export interface XapiClientOptions {
  url: string;
  username: string;
  password: string;
  /** The pinned SHA-256 thumbprint of the URL's host; none on first use. */
  thumbprint?: string;
  timeoutMs?: number;
  /** How long one task wait's event.from blocks (seconds). */
  taskPollSeconds?: number;
}

export interface TaskWaitOptions {
  signal?: AbortSignal;
  onTask?(taskRef: XRef): void;
  /** 0..100 */
  onProgress?(percent: number): void;
}

/** How many HOST_IS_SLAVE redirects a login follows (a pool whose master just changed may send one more). */
const MAX_REDIRECTS = 3;

/** A Location's host alone (its query holds the session, which no message repeats). */
const hostOf = (location: string): string => {
  try {
    return new URL(location).host;
  } catch {
    return 'a Location that is not a URL';
  }
};
export const ORIGINATOR = 'Kiln';

export class XapiClient {
  private session: XRef | undefined;
  private relogin: Promise<void> | undefined;
  private closed = false;
  /** Sessions the client opened (logins), for tests and logs. */
  logins = 0;
  /** Called after a re-login (the event loop restarts from its token). */
  onSessionRenewed: (() => void) | undefined;

  private constructor(
    private transport: JsonRpcTransport,
    private readonly opts: XapiClientOptions,
    /** The master's address when the URL named a pool member. */
    public redirectedTo: string | undefined,
  ) {}

  /** Logs in, following HOST_IS_SLAVE to the master. A wrong password is SESSION_AUTHENTICATION_FAILED (XapiError). */
  static async connect(opts: XapiClientOptions): Promise<XapiClient> {
    const client = new XapiClient(new JsonRpcTransport({ url: opts.url, thumbprint: opts.thumbprint, timeoutMs: opts.timeoutMs }), opts, undefined);
    // A failed login leaves no connection behind.
    await startedOrClosed(client, () => client.login());
    return client;
  }

  /** The thumbprint the connection is pinned to (the presented one on first use). */
  get thumbprint(): string | undefined {
    return this.transport.trust.thumbprint;
  }

  /** What the server presented last (for a 'host-key-changed' report). */
  get presentedThumbprint(): string | undefined {
    return this.transport.trust.presented;
  }

  /** host[:port] of the master this client talks to. */
  get host(): string {
    return this.transport.hostPort;
  }

  get baseUrl(): URL {
    return this.transport.base;
  }

  get sessionRef(): XRef | undefined {
    return this.session;
  }

  get agent() {
    return this.transport.httpsAgent;
  }

  /**
   * session.login_with_password; a pool member answers HOST_IS_SLAVE [master], and the login (a
   * first one, or a re-login after the master moved) goes on there. The master keeps the URL's
   * scheme and port unless xapi names one (host:port), and must present the certificate the member
   * was trusted by (pinned, or seen first): credentials never go to a host nobody vouched for. A
   * pool whose hosts have their own certificates is added by its master's URL (a mismatch says so,
   * as 'host-key-changed').
   */
  private async login(): Promise<void> {
    for (let hop = 0; ; hop++) {
      try {
        this.session = (await this.transport.call('session.login_with_password', [this.opts.username, this.opts.password, '1.0', ORIGINATOR])) as XRef;
        this.logins++;
        return;
      } catch (e) {
        if (!isXapiError(e, 'HOST_IS_SLAVE') || hop >= MAX_REDIRECTS || !e.params[0]) throw e;
        const master = e.params[0];
        const next = new URL(this.transport.base.toString());
        if (/^\[.*\]$|^[^:]+$/.test(master)) next.hostname = master;
        else next.host = master;
        const old = this.transport;
        this.transport = new JsonRpcTransport({ url: next.toString(), thumbprint: old.trust.thumbprint ?? this.opts.thumbprint, timeoutMs: this.opts.timeoutMs });
        old.close();
        this.redirectedTo = master;
      }
    }
  }

  /** One re-login shared by every call that saw SESSION_INVALID at the same time. */
  private renew(stale: XRef | undefined): Promise<void> {
    if (this.session !== stale) return Promise.resolve();
    this.relogin ??= this.login().then(() => this.onSessionRenewed?.()).finally(() => (this.relogin = undefined));
    return this.relogin;
  }

  /** Calls a typed xapi method with the session first; one re-login and retry on SESSION_INVALID. */
  call<M extends XapiMethod>(method: M, ...params: ParamsOf<M>): Promise<ResultOf<M>> {
    return this.raw(method, params) as Promise<ResultOf<M>>;
  }

  /** An untyped call (generic getters: <Class>.get_all_records, get_record). */
  async raw(method: string, params: readonly unknown[], opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<unknown> {
    if (this.closed) throw new Error(`the xapi client of ${this.host} is closed`);
    if (this.relogin) await this.relogin;
    const used = this.session;
    try {
      return await this.transport.call(method, [used, ...params], opts);
    } catch (e) {
      if (!isXapiError(e, 'SESSION_INVALID')) throw e;
      await this.renew(used);
      return this.transport.call(method, [this.session, ...params], opts);
    }
  }

  getAllRecords<C extends XapiClass>(cls: C): Promise<Record<XRef, XapiRecords[C]>> {
    return this.raw(`${cls}.get_all_records`, []) as Promise<Record<XRef, XapiRecords[C]>>;
  }

  getRecord<C extends XapiClass>(cls: C, ref: XRef): Promise<XapiRecords[C]> {
    return this.raw(`${cls}.get_record`, [ref]) as Promise<XapiRecords[C]>;
  }

  /**
   * Async.<method>: reports the task ref, waits for it (progress, cancel on abort) and destroys it.
   * Resolves with the decoded result ("" for void, a ref for clone/snapshot); rejects with the
   * task's XapiError, or TASK_CANCELLED when it was cancelled.
   */
  async callAsync<M extends XapiMethod>(method: M, params: ParamsOf<M>, opts: TaskWaitOptions = {}): Promise<XmlRpcValue> {
    if (opts.signal?.aborted) throw new XapiError('TASK_CANCELLED', [], `Async.${method}`);
    const task = (await this.raw(`Async.${method}`, params)) as XRef;
    opts.onTask?.(task);
    try {
      return await this.waitForTask(task, opts);
    } finally {
      await this.call('task.destroy', task).catch(() => undefined);
    }
  }

  /** Waits for a task (one started here, or one a previous process stored), without destroying it. */
  async waitForTask(task: XRef, opts: Omit<TaskWaitOptions, 'onTask'> = {}): Promise<XmlRpcValue> {
    let cancelSent = false;
    const cancel = () => {
      if (cancelSent) return;
      cancelSent = true;
      // The task ends cancelled (or, if it finished first, as it finished); the wait below reads which.
      void this.call('task.cancel', task).catch(() => undefined);
    };
    opts.signal?.addEventListener('abort', cancel, { once: true });
    if (opts.signal?.aborted) cancel();
    try {
      let token = '';
      let record: TaskRecord | undefined = (await this.call('task.get_record', task)) as TaskRecord;
      let lastProgress = -1;
      for (;;) {
        if (record) {
          const percent = Math.round((record.progress ?? 0) * 100);
          if (percent !== lastProgress) {
            lastProgress = percent;
            opts.onProgress?.(percent);
          }
          if (record.status === 'success') return decodeTaskResult(record.result ?? '');
          if (record.status === 'failure') {
            const [code, ...rest] = record.error_info ?? [];
            throw new XapiError(code ?? 'INTERNAL_ERROR', rest, record.name_label || `task ${task}`);
          }
          if (record.status === 'cancelled') throw new XapiError('TASK_CANCELLED', [task], record.name_label || `task ${task}`);
        }
        // Blocks until the task changes (its own subscription), not a poll of every task.
        const timeout = this.opts.taskPollSeconds ?? 30;
        const batch = await this.call('event.from', [`task/${task}`], token, timeout + 0.1);
        token = batch.token;
        let gone = false;
        for (const ev of batch.events) {
          if (ev.ref !== task) continue;
          if (ev.operation === 'del') gone = true;
          else if (ev.snapshot) record = ev.snapshot as unknown as TaskRecord;
        }
        if (gone) throw new XapiError('HANDLE_INVALID', ['task', task], 'waiting for the task');
      }
    } finally {
      opts.signal?.removeEventListener('abort', cancel);
    }
  }

  /**
   * PUT to an HTTP handler of xapi (/import_raw_vdi, /import), the session and a task of Kiln's own
   * in the query (xapi_http.ml takes both from it): the task is reported (onTask) before the bytes
   * go and is waited on after, so its result and error are xapi's, as for an Async call.
   * REDIRECT: where a 302 is followed, as xapi's own clients do (an /import into a pool member's
   * local SR is answered with a redirect to that member): it returns the origin to send the same
   * request to (same session and task), or throws to refuse the Location. One hop; without it a
   * 302 is an error. HEADERSFIRST: the handler answers before reading the body (transport.put).
   */
  async upload(path: string, query: Record<string, string>, body: () => Readable, length: number, opts: TaskWaitOptions & { label: string; redirect?: (location: string) => URL; headersFirst?: boolean }): Promise<XmlRpcValue> {
    const task = (await this.raw('task.create', [opts.label, ''])) as XRef;
    opts.onTask?.(task);
    try {
      const put = async (origin?: URL) => this.transport.put(`${path}?${new URLSearchParams({ ...query, session_id: this.session ?? '', task_id: task }).toString()}`, body, length, { signal: opts.signal, origin, headersFirst: opts.headersFirst });
      let origin: URL | undefined;
      let renewed = false;
      let redirected = false;
      let reply;
      for (;;) {
        reply = await put(origin);
        if (reply.status === 401 && !renewed) {
          // The session expired: log in again, once, and send the bytes again.
          renewed = true;
          await this.renew(this.session);
          continue;
        }
        if ((reply.status === 302 || reply.status === 307) && opts.redirect && !redirected) {
          redirected = true;
          origin = opts.redirect(reply.location ?? '');
          continue;
        }
        break;
      }
      if (reply.status !== 200) {
        const record = (await this.call('task.get_record', task).catch(() => undefined)) as TaskRecord | undefined;
        const [code, ...rest] = record?.status === 'failure' ? record.error_info : [];
        if (code) throw new XapiError(code, rest, opts.label);
        throw new XapiProtocolError(`${opts.label}: HTTP ${reply.status} from ${origin?.host ?? this.host} on ${path}${reply.location ? ` (a redirect to ${hostOf(reply.location)})` : ''}`, reply.status);
      }
      return await this.waitForTask(task, opts);
    } finally {
      await this.call('task.destroy', task).catch(() => undefined);
    }
  }

  async logout(): Promise<void> {
    if (!this.session || this.closed) return;
    await this.transport.call('session.logout', [this.session]).catch(() => undefined);
    this.session = undefined;
  }

  close(): void {
    this.closed = true;
    this.transport.close();
  }
}

