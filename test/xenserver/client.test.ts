/**
 * The xapi client's transport and error handling against a tiny local JSON-RPC stub (HTTP, for
 * the wire shapes only; sessions, tasks and events against the real simulator are in
 * driver-*.test.ts): error shapes of both JSON-RPC versions, a 500 with HTML, a host that speaks
 * XML, one re-login on SESSION_INVALID, the HOST_IS_SLAVE redirect, Async tasks with result
 * decoding and cancel, and untrusted text reaching xapi as one JSON string.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { XapiClient } from '../../drivers/xenserver/xapi/client.js';
import { XapiError, XapiProtocolError } from '../../drivers/xenserver/xapi/errors.js';
import { decodeTaskResult } from '../../drivers/xenserver/xapi/task-result.js';

interface Rpc { method: string; params: unknown[]; id: unknown; jsonrpc?: string }
type Handler = (rpc: Rpc, raw: string) => { status?: number; type?: string; body: unknown } | undefined;

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A stub that logs in (root/secret) and hands every other call to HANDLER. */
async function stub(handler: Handler, seen: Rpc[] = []): Promise<{ url: string; seen: Rpc[] }> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const rpc = JSON.parse(raw) as Rpc;
      seen.push(rpc);
      let out = handler(rpc, raw);
      if (!out && rpc.method === 'session.login_with_password') {
        out = rpc.params[1] === 'secret' ? { body: { jsonrpc: '2.0', result: `OpaqueRef:s${seen.filter((r) => r.method === rpc.method).length}`, id: rpc.id } } : { body: { jsonrpc: '2.0', error: { code: 1, message: 'SESSION_AUTHENTICATION_FAILED', data: [String(rpc.params[0]), 'Authentication failure'] }, id: rpc.id } };
      }
      out ??= { body: { jsonrpc: '2.0', error: { code: 1, message: 'MESSAGE_METHOD_UNKNOWN', data: [rpc.method] }, id: rpc.id } };
      res.writeHead(out.status ?? 200, { 'content-type': out.type ?? 'application/json' });
      res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const ok = (rpc: Rpc, result: unknown) => ({ body: { jsonrpc: '2.0', result, id: rpc.id } });
const fail = (rpc: Rpc, code: string, data: string[]) => ({ body: { jsonrpc: '2.0', error: { code: 1, message: code, data }, id: rpc.id } });
const caught = async (p: Promise<unknown>) => p.then((v) => { throw new Error(`resolved with ${JSON.stringify(v)}`); }, (e: unknown) => e);

describe('xapi client: wire and errors', () => {
  it('logs in with the datamodel arity and sends the session first; a wrong password is SESSION_AUTHENTICATION_FAILED with its parameters', async () => {
    const s = await stub((rpc) => (rpc.method === 'VM.get_record' ? ok(rpc, { name_label: 'a' }) : undefined));
    const client = await XapiClient.connect({ url: s.url, username: 'root', password: 'secret' });
    await client.call('VM.get_record', 'OpaqueRef:vm1');
    expect(s.seen[0]).toMatchObject({ jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', 'secret', '1.0', 'Kiln'] });
    expect(s.seen[1]).toMatchObject({ method: 'VM.get_record', params: ['OpaqueRef:s1', 'OpaqueRef:vm1'] });
    client.close();
    const e = await caught(XapiClient.connect({ url: s.url, username: 'root', password: 'nope' }));
    expect(e).toBeInstanceOf(XapiError);
    expect(e).toMatchObject({ code: 'SESSION_AUTHENTICATION_FAILED', params: ['root', 'Authentication failure'] });
  });

  it('reads both error shapes (2.0 object, 1.0 array) with every parameter, in order', async () => {
    const s = await stub((rpc) => {
      if (rpc.method === 'VM.start') return fail(rpc, 'VM_BAD_POWER_STATE', ['OpaqueRef:vm1', 'halted', 'running']);
      if (rpc.method === 'VM.clean_shutdown') return { body: { result: null, error: ['VM_BAD_POWER_STATE', 'OpaqueRef:vm1', 'running', 'halted'], id: rpc.id } };
      return undefined;
    });
    const client = await XapiClient.connect({ url: s.url, username: 'root', password: 'secret' });
    expect(await caught(client.call('VM.start', 'OpaqueRef:vm1', false, false))).toMatchObject({ code: 'VM_BAD_POWER_STATE', params: ['OpaqueRef:vm1', 'halted', 'running'], method: 'VM.start' });
    expect(await caught(client.call('VM.clean_shutdown', 'OpaqueRef:vm1'))).toMatchObject({ code: 'VM_BAD_POWER_STATE', params: ['OpaqueRef:vm1', 'running', 'halted'] });
    client.close();
  });

  it('a 500 with an HTML body and a host answering text/xml are protocol errors that say what came back', async () => {
    const s = await stub((rpc) => {
      if (rpc.method === 'VM.destroy') return { status: 500, type: 'text/html', body: '<html><body>Jsonrpc.Malformed_method_request(x)</body></html>' };
      if (rpc.method === 'VM.revert') return { type: 'text/xml', body: '<methodResponse/>' };
      return undefined;
    });
    const client = await XapiClient.connect({ url: s.url, username: 'root', password: 'secret' });
    const e1 = await caught(client.call('VM.destroy', 'OpaqueRef:x'));
    expect(e1).toBeInstanceOf(XapiProtocolError);
    expect((e1 as Error).message).toMatch(/HTTP 500 .*Jsonrpc\.Malformed_method_request/);
    const e2 = await caught(client.call('VM.revert', 'OpaqueRef:x'));
    expect((e2 as Error).message).toMatch(/text\/xml, not application\/json .*without JSON-RPC/);
    client.close();
  });

  it('SESSION_INVALID: one re-login shared by concurrent calls, each call sent once more with the new session', async () => {
    let valid = 'OpaqueRef:s1';
    const s = await stub((rpc) => {
      if (rpc.method === 'session.login_with_password') {
        valid = `OpaqueRef:s${s.seen.filter((r) => r.method === rpc.method).length}`;
        return ok(rpc, valid);
      }
      if (rpc.params[0] !== valid) return fail(rpc, 'SESSION_INVALID', [String(rpc.params[0])]);
      return ok(rpc, 'fine');
    });
    const client = await XapiClient.connect({ url: s.url, username: 'root', password: 'secret' });
    valid = 'OpaqueRef:expired';
    const results = await Promise.all([1, 2, 3].map((n) => client.call('VM.set_name_label', `OpaqueRef:vm${n}`, 'x')));
    expect(results).toEqual(['fine', 'fine', 'fine']);
    expect(client.logins).toBe(2);
    expect(s.seen.filter((r) => r.method === 'VM.set_name_label' && r.params[0] === 'OpaqueRef:s2').map((r) => r.params[1]).sort()).toEqual(['OpaqueRef:vm1', 'OpaqueRef:vm2', 'OpaqueRef:vm3']);
    client.close();
  });

  it('HOST_IS_SLAVE: the login goes on to the master the member names, and calls go there', async () => {
    const master = await stub((rpc) => (rpc.method === 'VM.get_record' ? ok(rpc, { ok: true }) : undefined));
    const port = new URL(master.url).port;
    const member = await stub((rpc) => fail(rpc, 'HOST_IS_SLAVE', [`127.0.0.1:${port}`]));
    const client = await XapiClient.connect({ url: member.url, username: 'root', password: 'secret' });
    expect(client.redirectedTo).toBe(`127.0.0.1:${port}`);
    expect(await client.call('VM.get_record', 'OpaqueRef:vm')).toEqual({ ok: true });
    expect(member.seen.map((r) => r.method)).toEqual(['session.login_with_password']);
    expect(master.seen.map((r) => r.method)).toEqual(['session.login_with_password', 'VM.get_record']);
    client.close();
  });

  it('Async calls: the task ref is reported before the wait, the result decoded from its XML-RPC fragment, the task destroyed', async () => {
    let status = 'pending';
    const s = await stub((rpc) => {
      if (rpc.method === 'Async.VM.clone') return ok(rpc, 'OpaqueRef:task1');
      if (rpc.method === 'task.get_record') return ok(rpc, { status: 'pending', progress: 0.25, result: '', error_info: [], name_label: 'Async.VM.clone' });
      if (rpc.method === 'event.from') {
        status = 'success';
        return ok(rpc, { events: [{ class: 'task', operation: 'mod', ref: 'OpaqueRef:task1', snapshot: { status, progress: 1, result: '<value>OpaqueRef:new&amp;vm</value>', error_info: [] } }], valid_ref_counts: {}, token: '1' });
      }
      if (rpc.method === 'task.destroy') return ok(rpc, '');
      return undefined;
    });
    const client = await XapiClient.connect({ url: s.url, username: 'root', password: 'secret' });
    const tasks: string[] = [];
    const progress: number[] = [];
    expect(await client.callAsync('VM.clone', ['OpaqueRef:tmpl', 'copy'], { onTask: (t) => tasks.push(t), onProgress: (p) => progress.push(p) })).toBe('OpaqueRef:new&vm');
    expect(tasks).toEqual(['OpaqueRef:task1']);
    expect(progress).toEqual([25, 100]);
    // Waited on the task's own subscription, not a poll of every task.
    expect(s.seen.find((r) => r.method === 'event.from')?.params.slice(1, 2)).toEqual([['task/OpaqueRef:task1']]);
    expect(s.seen.at(-1)).toMatchObject({ method: 'task.destroy', params: ['OpaqueRef:s1', 'OpaqueRef:task1'] });
    client.close();
  });

  it('a failed task rejects with its error_info as the XapiError; an abort cancels the task and rejects with TASK_CANCELLED', async () => {
    let cancelled = false;
    const s = await stub((rpc) => {
      if (rpc.method === 'Async.VM.start') return ok(rpc, 'OpaqueRef:t-fail');
      if (rpc.method === 'Async.VM.clean_shutdown') return ok(rpc, 'OpaqueRef:t-slow');
      if (rpc.method === 'task.get_record') {
        return rpc.params[1] === 'OpaqueRef:t-fail'
          ? ok(rpc, { status: 'failure', progress: 1, result: '', error_info: ['NO_HOSTS_AVAILABLE'], name_label: 'Async.VM.start' })
          : ok(rpc, { status: cancelled ? 'cancelled' : 'pending', progress: 0, result: '', error_info: [], name_label: 'Async.VM.clean_shutdown' });
      }
      if (rpc.method === 'task.cancel') {
        cancelled = true;
        return ok(rpc, '');
      }
      if (rpc.method === 'event.from') return ok(rpc, { events: cancelled ? [{ class: 'task', operation: 'mod', ref: 'OpaqueRef:t-slow', snapshot: { status: 'cancelled', progress: 0, result: '', error_info: [] } }] : [], valid_ref_counts: {}, token: '2' });
      if (rpc.method === 'task.destroy') return ok(rpc, '');
      return undefined;
    });
    const client = await XapiClient.connect({ url: s.url, username: 'root', password: 'secret', taskPollSeconds: 0.05 });
    expect(await caught(client.callAsync('VM.start', ['OpaqueRef:vm', false, false]))).toMatchObject({ code: 'NO_HOSTS_AVAILABLE', params: [] });
    const abort = new AbortController();
    const pending = caught(client.callAsync('VM.clean_shutdown', ['OpaqueRef:vm'], { signal: abort.signal }));
    await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    expect(await pending).toMatchObject({ code: 'TASK_CANCELLED', params: ['OpaqueRef:t-slow'] });
    expect(s.seen.filter((r) => r.method === 'task.cancel').map((r) => r.params[1])).toEqual(['OpaqueRef:t-slow']);
    client.close();
  });

  it('untrusted text reaches xapi as one JSON string parameter, byte for byte', async () => {
    const hostile = '"],"method":"pool.eject","x":["\\u0000</value><value>OpaqueRef:evil</value> \'; rm -rf / #';
    const s = await stub((rpc) => (rpc.method === 'VM.set_name_label' ? ok(rpc, '') : undefined));
    const client = await XapiClient.connect({ url: s.url, username: 'root', password: 'secret' });
    await client.call('VM.set_name_label', 'OpaqueRef:vm', hostile);
    const sent = s.seen.at(-1)!;
    expect(sent.method).toBe('VM.set_name_label');
    expect(sent.params).toEqual(['OpaqueRef:s1', 'OpaqueRef:vm', hostile]);
    client.close();
  });

  it('task results decode as XML-RPC values (refs, void, arrays, structs, entities)', () => {
    expect(decodeTaskResult('')).toBe('');
    expect(decodeTaskResult('<value>OpaqueRef:1</value>')).toBe('OpaqueRef:1');
    expect(decodeTaskResult('<value><string>a &lt;b&gt;</string></value>')).toBe('a <b>');
    expect(decodeTaskResult('<value><array><data><value>x</value><value><int>3</int></value></data></array></value>')).toEqual(['x', 3]);
    expect(decodeTaskResult('<value><struct><member><name>k</name><value><boolean>1</boolean></value></member></struct></value>')).toEqual({ k: true });
  });
});
