/**
 * The API fuzzer behind test/integration/fuzz.test.ts (about 2,000 requests in CI) and
 * `node scripts/fuzz.js` (10,000): it walks every command listApis returns, sends each one
 * with mutated parameters (wrong types, huge, unicode, NUL and control characters, markup,
 * map parameters, duplicates, missing ones, unknown command names) and with unsigned, badly
 * signed and expired credentials, unknown keys, bad session keys and malformed cookies, over GET
 * and POST, as JSON and XML, as the root admin and as a plain user, to a real `kiln serve`.
 * Everything comes from one seeded PRNG, so a seed reproduces a run request for request
 * (server-side state such as which host the allocator picked may still differ).
 *
 * Each answer is checked: no 5xx except an honest 530 (the envelope, with a message that is
 * not a leaked JavaScript or SQLite error) or CloudStack's own 531-537 in its envelope, the body
 * parses as the format its Content-Type names (and that is the format asked for), and a
 * rejected request (4xx) changed no row (a fingerprint of every table, read through a second,
 * read-only connection, before and after). `rawFuzz` adds hostile HTTP below the API.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { XMLValidator } from 'fast-xml-parser';
import { signRequest, type SignatureAlgorithm } from '../../main/engine/auth/signing.js';
import { seededRandom } from './seeded-random.js';
import type { KilnProcess } from './server.js';

interface ApiParam {
  name: string;
  type: string;
  required: boolean;
  length: number;
}
export interface ApiCommand {
  name: string;
  params: ApiParam[];
}

type Pairs = [string, string][];

/**
 * Columns the engine rewrites on its own schedule, not in answer to a request: the HA pass
 * pings hosts, and the headroom watch caches each cluster's N-1 verdict.
 */
const VOLATILE_COLUMNS: Record<string, string[]> = {
  hosts: ['last_pinged', 'memory_free', 'state', 'last_error'],
  clusters: ['has_headroom'],
};

export class DbFingerprint {
  private readonly db: Database.Database;
  private readonly tables: { name: string; sql: string }[];

  constructor(dataDir: string) {
    this.db = new Database(join(dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
    this.tables = [];
    this.refreshTables();
  }

  private refreshTables(): void {
    this.tables.length = 0;
    const names = (this.db.prepare(`SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
    for (const name of names) {
      const columns = (this.db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as { name: string }[]).map((c) => c.name).filter((c) => !(VOLATILE_COLUMNS[name] ?? []).includes(c));
      this.tables.push({ name, sql: `SELECT ${columns.map((c) => `"${c}"`).join(',')} FROM "${name}" ORDER BY 1` });
    }
  }

  /** Table → count and hash of its rows; the rows themselves are kept for `rowDiff`. */
  take(): Fingerprint {
    const out: Fingerprint = new Map();
    for (const table of this.tables) {
      const rows = (this.db.prepare(table.sql).raw().all() as unknown[][]).map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? v.toString('hex') : v)));
      const hash = createHash('sha1');
      for (const row of rows) hash.update(row);
      out.set(table.name, { digest: `${rows.length}:${hash.digest('hex')}`, rows });
    }
    return out;
  }

  pendingWork(): number {
    const jobs = (this.db.prepare('SELECT COUNT(*) AS n FROM async_jobs WHERE status=0').get() as { n: number }).n;
    const moving = (this.db.prepare(`SELECT COUNT(*) AS n FROM vm_instances WHERE state IN ('Creating','Starting','Stopping','Migrating','Destroying','Expunging')`).get() as { n: number }).n;
    return jobs + moving;
  }

  close(): void {
    this.db.close();
  }
}

export type Fingerprint = Map<string, { digest: string; rows: string[] }>;

export function changedTables(a: Fingerprint, b: Fingerprint): string[] {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((n) => a.get(n)?.digest !== b.get(n)?.digest);
}

/** The rows of `table` that appeared (+) or went (-) between two fingerprints. */
export function rowDiff(a: Fingerprint, b: Fingerprint, table: string): string {
  const before = new Set(a.get(table)?.rows ?? []);
  const after = new Set(b.get(table)?.rows ?? []);
  return [...[...before].filter((r) => !after.has(r)).map((r) => `-${r}`), ...[...after].filter((r) => !before.has(r)).map((r) => `+${r}`)].join(' ').slice(0, 400);
}

const UNICODE = ['데모 서버', '😀🔥', '\u202eevil\u202c', 'e\u0301\u0301\u0301', 'ﬀ', '𝕜𝕚𝕝𝕟', '\uffff', '\ud800', 'Ω≈ç√', '中文名'];
const CONTROL = ['a\u0000b', '\u0000', '\u0001\u0002\u001f', 'line\r\nbreak', '\t', '\u007f', '\u0085'];
const MARKUP = ['<x>&amp;"\'</x>', ']]>', '<!--', '&#0;', "' OR 1=1 --", '$(id)', '`id`', '; rm -rf /', '../../etc/passwd', '/etc/shadow', 'file:///etc/passwd', '%', '_', '%00', '\\', '{"a":1}', 'null', 'undefined', 'NaN'];
const NUMBERS = ['-1', '0', '1', '2147483648', '-2147483649', '9007199254740993', '1e3', '1.5', '0x10', ' 1', '１', '-0', 'Infinity'];
const WRONG = ['abc', 'true', 'false', '', ' ', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-fffffffffffz', '2026-13-45', ',,,', 'a,b,c'];

export interface FuzzRequest {
  command: string;
  method: 'GET' | 'POST';
  format: 'json' | 'xml';
  auth: 'signed' | 'signed-v3' | 'signed-sha1' | 'unsigned' | 'bad-signature' | 'expired' | 'unknown-key' | 'bad-session' | 'bad-cookie';
  pairs: Pairs;
  mutations: string[];
  /** Who signs: the root admin, or a plain user (whose calls on the admin's objects must be refused). */
  caller: 'admin' | 'user';
}

export interface FuzzFinding {
  kind: 'server-error' | 'dishonest-530' | 'unparseable' | 'rejected-but-wrote' | 'down' | 'transport';
  request: FuzzRequest;
  status: number;
  detail: string;
}

export interface FuzzReport {
  requests: number;
  /** Commands fuzzed, and how many listApis listed. */
  commands: number;
  listed: number;
  byStatus: Record<string, number>;
  /** The most common refusal texts (ids, values and numbers blanked) with their counts. */
  topRefusals: [string, number][];
  findings: FuzzFinding[];
  seed: number;
}

/** Builds the requests; everything it chooses comes from `random`. */
export class RequestGenerator {
  constructor(
    private readonly random: () => number,
    /** Existing object ids by parameter name (zoneid → zone ids), so mutations reach past lookups. */
    private ids: Map<string, string[]>,
  ) {}

  /** Objects the run itself created (deployed VMs, new offerings) become targets too. */
  useIds(ids: Map<string, string[]>): void {
    this.ids = ids;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }
  private chance(p: number): boolean {
    return this.random() < p;
  }

  private validValue(command: string, param: ApiParam): string {
    const known = this.ids.get(param.name.toLowerCase()) ?? (param.name.toLowerCase() === 'id' ? this.ids.get(`${command.toLowerCase()}#id`) : undefined);
    switch (param.type) {
      case 'uuid':
        return known && known.length > 0 && this.chance(0.85) ? this.pick(known) : randomUuid(this.random);
      case 'integer':
      case 'long':
        return String(Math.floor(this.random() * 8));
      case 'boolean':
        return this.chance(0.5) ? 'true' : 'false';
      case 'list':
        return known && known.length > 0 ? this.pick(known) : `fuzz${Math.floor(this.random() * 100)}`;
      case 'date':
        return '2026-01-01';
      default:
        return `fuzz-${Math.floor(this.random() * 1e6).toString(36)}`;
    }
  }

  private mapPairs(name: string): Pairs {
    return [[`${name}[0].key`, 'cpuNumber'], [`${name}[0].value`, '1']];
  }

  private mutatedValue(param: ApiParam): [string, string] {
    const kind = this.pick(['wrong-type', 'huge', 'unicode', 'control', 'markup', 'number', 'empty'] as const);
    switch (kind) {
      case 'wrong-type':
        return [kind, param.type === 'uuid' ? this.pick([...WRONG, ...NUMBERS]) : param.type === 'string' ? this.pick(NUMBERS) : this.pick(WRONG)];
      case 'huge':
        return [kind, this.pick(['x', '데', '<', '%', 'a,']).repeat(this.pick([param.length + 1, 256, 4096, 65536]))];
      case 'unicode':
        return [kind, this.pick(UNICODE)];
      case 'control':
        return [kind, this.pick(CONTROL)];
      case 'markup':
        return [kind, this.pick(MARKUP)];
      case 'number':
        return [kind, this.pick(NUMBERS)];
      case 'empty':
        return [kind, ''];
    }
  }

  build(command: ApiCommand): FuzzRequest {
    let pairs: Pairs = [['command', command.name]];
    for (const param of command.params) {
      if (!param.required && !this.chance(0.25)) continue;
      if (param.type === 'map') pairs.push(...this.mapPairs(param.name));
      else pairs.push([param.name, this.validValue(command.name, param)]);
    }
    const mutations: string[] = [];
    const count = 1 + Math.floor(this.random() * 3);
    for (let i = 0; i < count; i++) {
      const params = command.params;
      const target = params.length > 0 ? this.pick(params) : undefined;
      const op = this.pick(['value', 'value', 'value', 'missing', 'duplicate', 'map', 'unknown', 'case', 'none'] as const);
      if (op === 'none' || !target) {
        mutations.push('none');
        continue;
      }
      if (op === 'value') {
        const [kind, value] = this.mutatedValue(target);
        pairs = pairs.filter(([k]) => k.toLowerCase() !== target.name.toLowerCase());
        pairs.push([target.name, value]);
        mutations.push(`${target.name}:${kind}`);
      } else if (op === 'missing') {
        pairs = pairs.filter(([k]) => !k.toLowerCase().startsWith(target.name.toLowerCase()));
        mutations.push(`${target.name}:missing`);
      } else if (op === 'duplicate') {
        pairs.push([target.name, this.validValue(command.name, target)]);
        pairs.push([target.name, this.mutatedValue(target)[1]]);
        mutations.push(`${target.name}:duplicate`);
      } else if (op === 'map') {
        const name = command.params.find((p) => p.type === 'map')?.name ?? target.name;
        const shape = this.pick([
          [`${name}[0].<x y="1">`, 'v'], [`${name}[0].a></details><account>admin</account><details><b`, 'v'], [`${name}[99999999999999999999].key`, 'k'],
          [`${name}[-1].key`, 'k'], [`${name}[0]`, 'v'], [name, 'plain'], [`${name}[0].key`, ''], [`${name}[0].\u0000`, '\u0000'], [`${name}[0].key`, 'x'.repeat(300)],
          [`${name}[1].key`, 'only-key'], [`${name}[0].__proto__`, 'polluted'], [`${name}[0].constructor`, 'x'], [`${name}[0].value`, '<v>&'],
        ] as const);
        pairs.push([shape[0], shape[1]]);
        mutations.push(`${name}:map ${JSON.stringify(shape[0]).slice(0, 40)}`);
      } else if (op === 'unknown') {
        pairs.push([this.pick(['zzz', '__proto__', 'constructor', 'hasOwnProperty', 'Command', 'a'.repeat(300), '데이터', 'x\u0000y']), this.pick(MARKUP)]);
        mutations.push('unknown-param');
      } else {
        pairs = pairs.map(([k, v]) => [k.toLowerCase() === target.name.toLowerCase() ? k.toUpperCase() : k, v]);
        mutations.push(`${target.name}:upper-case name`);
      }
    }
    if (this.chance(0.03)) {
      // An unknown or malformed command name: 432, in an envelope that still parses.
      pairs[0] = ['command', this.pick(['noSuchCommand', '<x>', 'list Zones', 'listZones\u0000', '데모', '', '1abc', 'a:b', 'listZones<!--', 'x'.repeat(300)])];
      mutations.push('command name');
    }
    const auth = this.pick(['signed', 'signed', 'signed', 'signed', 'signed', 'signed', 'signed', 'signed', 'signed', 'signed-v3', 'signed-sha1', 'unsigned', 'bad-signature', 'expired', 'unknown-key', 'bad-session', 'bad-cookie'] as const);
    return { command: command.name, method: this.chance(0.5) ? 'GET' : 'POST', format: this.chance(0.6) ? 'json' : 'xml', auth, pairs, mutations, caller: this.chance(0.25) ? 'user' : 'admin' };
  }
}

function randomUuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The wire form: credentials per `auth`, duplicates kept (the server reads the last one, as signing does). */
export function encode(request: FuzzRequest, keys: { apiKey: string; secretKey: string }): { query: string; body?: string; headers: Record<string, string> } {
  const pairs: Pairs = [...request.pairs, ['response', request.format]];
  const lastWins = Object.fromEntries(pairs);
  const extra: Pairs = [];
  let algorithm: SignatureAlgorithm = 'HmacSHA256';
  if (request.auth === 'signed-v3' || request.auth === 'expired') {
    const expires = new Date(Date.now() + (request.auth === 'expired' ? -60_000 : 60_000)).toISOString();
    extra.push(['signatureversion', '3'], ['expires', expires]);
  }
  if (request.auth === 'signed-sha1') algorithm = 'HmacSHA1';
  if (request.auth === 'unsigned' || request.auth === 'bad-cookie') {
    // no credentials at all
  } else if (request.auth === 'bad-session') {
    extra.push(['sessionkey', '%zz-not-a-session']);
  } else {
    const apiKey = request.auth === 'unknown-key' ? 'no-such-key' : keys.apiKey;
    const signed = signRequest({ ...lastWins, ...Object.fromEntries(extra), apiKey }, keys.secretKey, algorithm);
    let signature = signed['signature']!;
    if (request.auth === 'bad-signature') signature = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
    extra.push(['apiKey', apiKey], ['signature', signature]);
  }
  const all = new URLSearchParams([...pairs, ...extra]).toString();
  const headers: Record<string, string> = request.auth === 'bad-cookie' ? { cookie: 'sessionkey=%; kiln_ui=%E0%A4%A' } : {};
  return request.method === 'GET' ? { query: all, headers } : { query: '', body: all, headers };
}

/**
 * How long one request may go unanswered before it is a finding. The run itself has no time
 * bound (its speed is the machine's, not Kiln's: a loaded CI took 200 s for what takes 15 s
 * idle), so a hang is caught per request instead.
 */
const REQUEST_DEADLINE_MS = 60_000;
const CLOUDSTACK_5XX = new Set([530, 531, 532, 533, 534, 535, 536, 537]);
const LEAKED_ERROR = /Cannot read propert|is not a function|is not defined|is not iterable|undefined|SQLITE_|TypeError|ReferenceError|RangeError|SyntaxError|at .*\.(js|ts):\d+/;

/**
 * A request line too long for Node to read is answered before its `response=` may have
 * arrived; that answer is in CloudStack's default format (XML), which is what it says it is.
 */
const OVERFLOW_TEXT = /the request line and headers are over \d+ bytes/;

/** Checks one answer (parsed as the format its Content-Type names); returns what is wrong with it, if anything. */
export function judge(request: FuzzRequest, status: number, contentType: string, text: string): Omit<FuzzFinding, 'request'> | undefined {
  let errortext: string;
  const json = contentType.startsWith('application/json');
  if (json !== (request.format === 'json') && !OVERFLOW_TEXT.test(text)) {
    return { kind: 'unparseable', status, detail: `asked for ${request.format}, answered ${contentType}: ${text.slice(0, 200)}` };
  }
  if (json) {
    try {
      const parsed = JSON.parse(text) as Record<string, { errortext?: string }>;
      errortext = Object.values(parsed)[0]?.errortext ?? '';
    } catch (error) {
      return { kind: 'unparseable', status, detail: `JSON: ${(error as Error).message}; ${text.slice(0, 200)}` };
    }
  } else {
    const valid = XMLValidator.validate(text);
    if (valid !== true) return { kind: 'unparseable', status, detail: `XML: ${valid.err.msg} (line ${valid.err.line}); ${text.slice(0, 200)}` };
    errortext = /<errortext>([^<]*)<\/errortext>/.exec(text)?.[1] ?? '';
  }
  if (status === 530 && (!errortext || LEAKED_ERROR.test(errortext))) return { kind: 'dishonest-530', status, detail: errortext || text.slice(0, 200) };
  // 531–537 are CloudStack's own error codes (permission, limits, capacity, unavailable, in use),
  // answered in its envelope; any other 5xx is the server failing.
  if (status >= 500 && !(CLOUDSTACK_5XX.has(status) && errortext)) return { kind: 'server-error', status, detail: text.slice(0, 300) };
  return undefined;
}

/** Object ids by the parameter names that take them, read through the API itself. */
export async function collectIds(call: (params: Record<string, string>) => Promise<Record<string, unknown>>): Promise<Map<string, string[]>> {
  const ids = new Map<string, string[]>();
  const add = (names: string[], values: string[]) => {
    for (const name of names) ids.set(name, [...(ids.get(name) ?? []), ...values]);
  };
  const list = async (command: string, key: string, extra: Record<string, string> = {}) => {
    const body = (await call({ command, listall: 'true', ...extra }))[`${command.toLowerCase()}response`] as Record<string, { id: string }[]> | undefined;
    return (body?.[key] ?? []).map((o) => o.id);
  };
  add(['zoneid'], await list('listZones', 'zone'));
  add(['podid'], await list('listPods', 'pod'));
  add(['clusterid'], await list('listClusters', 'cluster'));
  add(['hostid', 'updatehost#id', 'accepthostkey#id'], await list('listHosts', 'host'));
  const templates = await list('listTemplates', 'template', { templatefilter: 'all' });
  add(['templateid', 'updatetemplate#id'], templates);
  add(['isoid'], await list('listIsos', 'iso', { isofilter: 'all' }));
  add(['serviceofferingid'], await list('listServiceOfferings', 'serviceoffering'));
  add(['diskofferingid'], await list('listDiskOfferings', 'diskoffering'));
  add(['networkids', 'networkid'], await list('listNetworks', 'network'));
  const vms = await list('listVirtualMachines', 'virtualmachine');
  for (const c of ['updatevirtualmachine', 'startvirtualmachine', 'stopvirtualmachine', 'rebootvirtualmachine', 'destroyvirtualmachine', 'expungevirtualmachine', 'recovervirtualmachine', 'scalevirtualmachine', 'changeserviceforvirtualmachine', 'findhostsformigration', 'updatevmaffinitygroup']) add([`${c}#id`], vms);
  add(['virtualmachineid'], vms);
  add(['ostypeid'], await list('listOsTypes', 'ostype'));
  add(['domainid'], await list('listDomains', 'domain'));
  add(['volumeids'], await list('listVolumes', 'volume'));
  return ids;
}

export interface FuzzOptions {
  requests: number;
  seed: number;
  /** Called every so often with progress (for the 10,000-request script). */
  progress?: (done: number) => void;
}

/** Runs the fuzzer against a started serve process. */
export async function fuzz(kiln: KilnProcess, options: FuzzOptions): Promise<FuzzReport> {
  const random = seededRandom(options.seed);
  let keys = { apiKey: kiln.apiKey, secretKey: kiln.secretKey };
  const refreshKeys = () => {
    // registerUserKeys, fuzzed with the admin's id, may really have issued new keys.
    const out = execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'kiln.js'), 'keys', '--data-dir', kiln.dataDir, '--json'], { encoding: 'utf8' });
    const parsed = JSON.parse(out) as { apikey: string; secretkey: string };
    keys = { apiKey: parsed.apikey, secretKey: parsed.secretkey };
  };
  const call = async (params: Record<string, string>) => {
    const res = await fetch(`${kiln.apiUrl}?${new URLSearchParams(signRequest({ ...params, response: 'json', apiKey: keys.apiKey }, keys.secretKey)).toString()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  // Every command listApis lists. login and logout are the transport's own, not listed, and left
  // to their suite: a failed login counts towards locking the account, on purpose.
  const apis = ((await call({ command: 'listApis' }))['listapisresponse'] as { api: ApiCommand[] }).api;
  // A plain user signs a quarter of the requests, so the permission paths are fuzzed too.
  const account = (await call({ command: 'createAccount', username: 'fuzzuser', password: 'fuzz-pass-1', email: 'fuzz@example.invalid', firstname: 'Fuzz', lastname: 'User', accounttype: '0' }))['createaccountresponse'] as { account?: { user?: { id: string }[] } };
  const userId = account.account?.user?.[0]?.id;
  if (!userId) throw new Error(`fuzz: could not create the user account: ${JSON.stringify(account)}`);
  const userKeys = ((await call({ command: 'registerUserKeys', id: userId }))['registeruserkeysresponse'] as { userkeys: { apikey: string; secretkey: string } }).userkeys;
  const asUser = { apiKey: userKeys.apikey, secretKey: userKeys.secretkey };
  // Account and user ids are not collected: disabling the admin would end the run, not test anything.
  const ids = await collectIds(call);
  const generator = new RequestGenerator(random, ids);
  const fingerprint = new DbFingerprint(kiln.dataDir);
  const findings: FuzzFinding[] = [];
  const byStatus: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const covered = new Set<string>();
  const order = [...apis];
  const quiet = async () => {
    const deadline = Date.now() + 15_000;
    while (fingerprint.pendingWork() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  };
  let before = fingerprint.take();
  let previous = '(none)';
  try {
    for (let i = 0; i < options.requests; i++) {
      // Every command in turn, in a seeded order per round, so each is covered ~requests/commands times.
      if (i % order.length === 0) order.sort(() => random() - 0.5);
      if (i > 0 && i % 250 === 0) {
        await quiet();
        generator.useIds(await collectIds(call));
        before = fingerprint.take();
      }
      const command = order[i % order.length]!;
      const request = generator.build(command);
      covered.add(command.name);
      const { query, body, headers } = encode(request, request.caller === 'user' ? asUser : keys);
      let status = 0;
      let text = '';
      let contentType = '';
      try {
        const signal = AbortSignal.timeout(REQUEST_DEADLINE_MS);
        const res = await fetch(`${kiln.apiUrl}${query ? `?${query}` : ''}`, request.method === 'GET' ? { headers, signal } : { method: 'POST', body, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, signal });
        status = res.status;
        contentType = res.headers.get('content-type') ?? '';
        text = await res.text();
      } catch (error) {
        const hung = (error as Error).name === 'TimeoutError';
        findings.push({ kind: 'transport', request, status: 0, detail: hung ? `no answer within ${REQUEST_DEADLINE_MS / 1000} s` : String((error as Error & { cause?: unknown }).cause ?? error) });
        if (kiln.child.exitCode !== null) {
          findings.push({ kind: 'down', request, status: 0, detail: kiln.output().slice(-2000) });
          break;
        }
        continue;
      }
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status >= 400) {
        // What refused it, with names, ids and values blanked, to see how deep the requests reach.
        const why = (/"errortext":"((?:[^"\\]|\\.)*)"/.exec(text)?.[1] ?? /<errortext>([^<]*)<\/errortext>/.exec(text)?.[1] ?? '').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID').replace(/value=.*$/, 'value=…').replace(/\d+/g, 'N').slice(0, 90);
        const key = `${status} ${why}`;
        refusals[key] = (refusals[key] ?? 0) + 1;
      }
      const previousRequest = previous;
      previous = `${status} ${request.command} ${request.pairs.map(([k, v]) => `${k}=${v.slice(0, 40)}`).join(' ')}`;
      const verdict = judge(request, status, contentType, text);
      if (verdict) findings.push({ ...verdict, request });
      if (status >= 400 && status < 500) {
        const after = fingerprint.take();
        const changed = changedTables(before, after);
        if (changed.length > 0) {
          const rows = changed.map((t) => `${t}: ${rowDiff(before, after, t)}`).join('; ');
          findings.push({ kind: 'rejected-but-wrote', request, status, detail: `tables changed: ${rows}; previous request: ${previousRequest}; answer: ${text.slice(0, 200)}` });
          await quiet();
        }
        before = fingerprint.take();
      } else {
        if (status === 200 && command.name === 'registerUserKeys') refreshKeys();
        await quiet();
        before = fingerprint.take();
      }
      if (options.progress && (i + 1) % 500 === 0) options.progress(i + 1);
    }
  } finally {
    fingerprint.close();
  }
  const topRefusals = Object.entries(refusals).sort((a, b) => b[1] - a[1]).slice(0, 15);
  return { requests: Object.values(byStatus).reduce((a, b) => a + b, 0), commands: covered.size, listed: apis.length, byStatus, topRefusals, findings, seed: options.seed };
}

/** One line per finding, with what reproduces it. */
export function describeFinding(f: FuzzFinding): string {
  const params = f.request.pairs.map(([k, v]) => `${k}=${v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v}`).join(' ');
  return `[${f.kind}] ${f.status} ${f.request.method} ${f.request.format} ${f.request.auth} as ${f.request.caller} ${params} {${f.request.mutations.join('; ')}} → ${f.detail.replace(/\s+/g, ' ').slice(0, 300)}`;
}


/** What the raw-request round saw. */
export interface RawFuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  /** Answers with a 5xx status, and the request that drew each. */
  serverErrors: string[];
}

/**
 * Hostile HTTP below the API: malformed request lines, targets and versions; missing, foreign
 * and duplicate Host headers; malformed cookies; WebSocket upgrades to every path with bad keys
 * and versions; broken chunked bodies and lying Content-Lengths. Each is written byte for byte;
 * `alive` is asked every 25 requests and must hold.
 */
export async function rawFuzz(port: number, seed: number, requests: number, alive: () => Promise<void>): Promise<RawFuzzReport> {
  const { rawRequest } = await import('./raw-http.js');
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const self = `127.0.0.1:${port}`;
  const byStatus: Record<string, number> = {};
  const serverErrors: string[] = [];
  for (let i = 0; i < requests; i++) {
    const method = pick(['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'G\u0000T', 'X'.repeat(100), 'get']);
    const target = pick(['/client/api?command=listZones&response=json', '/client/api?command=listZones', '//[', '/%', '/%00', '*', 'http://evil.example/', '/kiln/live', '/kiln/console?token=%', '/kiln/console', `/${'a'.repeat(10000)}`, `/client/api?${'&'.repeat(5000)}`, '/..%2f..%2fetc/passwd', '/\u00ff\u00fe', '/client/api/?command=listZones&response=xml', '/?token=%', '/index.html']);
    const version = pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', '']);
    const lines = [`${method} ${target}${version ? ` ${version}` : ''}`];
    const host = pick([self, self, self, `localhost:${port}`, 'evil.example', `evil.example:${port}`, '', '\u00ff', undefined, 'dup']);
    if (host === 'dup') lines.push(`Host: ${self}`, `Host: evil.example:${port}`);
    else if (host !== undefined) lines.push(`Host: ${host}`);
    if (random() < 0.4) lines.push(`Cookie: ${pick(['kiln_ui=%', 'sessionkey=%', 'sessionkey=%E0%A4%A; kiln_ui=', `a=${'b'.repeat(5000)}`, '=;=;;', 'kiln_ui=\u00ff'])}`);
    if (random() < 0.4) {
      lines.push(...pick([['Connection: Upgrade', 'Upgrade: websocket'], ['Upgrade: websocket'], ['Connection: Upgrade', 'Upgrade: h2c']]));
      lines.push(`Sec-WebSocket-Version: ${pick(['13', '99', 'x'])}`, `Sec-WebSocket-Key: ${pick(['dGhlIHNhbXBsZSBub25jZQ==', '', '%%%', 'a'.repeat(300)])}`);
      if (random() < 0.5) lines.push(`Origin: ${pick([`http://${self}`, 'http://evil.example', 'null', '%'])}`);
    }
    let body = '';
    const framing = random();
    if (framing < 0.1) {
      lines.push('Transfer-Encoding: chunked');
      body = pick(['zz\r\n', '5\r\nab\r\n', 'ffffffffffffffff\r\n', '0\r\n\r\n']);
    } else if (framing < 0.2) {
      const declared = pick(['-1', 'abc', '1, 2', '0']);
      lines.push(`Content-Length: ${declared}`);
      body = 'command=listZones';
    } else if (framing < 0.23) {
      // A body shorter than it says: the server waits; the client gives up.
      lines.push('Content-Length: 100');
      body = 'command=';
    }
    if (random() < 0.1) lines.push(pick(['Bad Header: x', 'NoColon', `X-Big: ${'y'.repeat(20000)}`, 'X-Nul: a\u0000b', ': empty-name']));
    lines.push('Connection: close');
    const answer = await rawRequest(port, lines, body, 1500);
    byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
    if (answer.status >= 500) serverErrors.push(`${answer.status} ← ${JSON.stringify(lines).slice(0, 300)} ${JSON.stringify(body)}: ${answer.text.slice(0, 200)}`);
    if ((i + 1) % 25 === 0) await alive();
  }
  await alive();
  return { requests, byStatus, serverErrors };
}
