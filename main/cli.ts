/**
 * The `kiln` command line:
 *   kiln serve [--host H] [--port P] [--data-dir D] [--no-ui]   run the engine, the API and the UI
 *   kiln keys  [--data-dir D] [--json]                          print the local admin's API keys
 *   kiln api   [--url U] [--data-dir D] [--wait] COMMAND k=v…   make a signed API call
 *   kiln discover-networks -s HOST -u USER …                   list a vCenter's networks with VMs (no engine)
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from './engine/engine.js';
import { signRequest } from './engine/auth/signing.js';
import { defaultDataDir, serverInfoFile } from './paths.js';
import { startHttpServer } from './http/server.js';
import { availableDrivers, vsphereDiscoverNetworks } from './drivers.js';
import { attachLiveChannel } from './http/live.js';

interface Parsed {
  flags: Record<string, string | true>;
  rest: string[];
}

function parseArgs(argv: string[]): Parsed {
  const flags: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const [name, value] = arg.slice(2).split('=', 2) as [string, string | undefined];
      const next = argv[i + 1];
      if (value !== undefined) flags[name] = value;
      else if (['host', 'port', 'data-dir', 'url'].includes(name) && next !== undefined) flags[name] = argv[++i]!;
      else flags[name] = true;
    } else rest.push(arg);
  }
  return { flags, rest };
}

const flag = (p: Parsed, name: string): string | undefined => (typeof p.flags[name] === 'string' ? (p.flags[name] as string) : undefined);

/** The built renderer; KILN_UI_DIR points serve at another build (tests use a one-page stand-in). */
export function uiDir(): string {
  if (process.env['KILN_UI_DIR']) return process.env['KILN_UI_DIR'];
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'renderer');
}

export async function serve(p: Parsed): Promise<void> {
  const dataDir = flag(p, 'data-dir') ?? defaultDataDir();
  const engine = await Engine.open({ dataDir, drivers: await availableDrivers(dataDir) });
  const ui = p.flags['no-ui'] ? undefined : uiDir();
  const running = await startHttpServer(engine, { host: flag(p, 'host') ?? '127.0.0.1', port: Number(flag(p, 'port') ?? 8080), uiDir: ui && existsSync(join(ui, 'index.html')) ? ui : undefined });
  const live = running.uiUrl ? attachLiveChannel(engine, running) : undefined; // the UI's /kiln/live WebSocket
  const integrationPort = engine.settings.int('integration.api.port');
  const integration = integrationPort > 0
    ? await startHttpServer(engine, { host: '127.0.0.1', port: integrationPort, trustedCaller: engine.accounts.localAdmin(), defaultResponse: 'xml' })
    : undefined;
  writeFileSync(serverInfoFile(dataDir), JSON.stringify({ url: running.url, pid: process.pid }), { mode: 0o600 });
  console.log(`Kiln is serving ${dataDir}`);
  console.log(`API:  ${running.url}`);
  if (integration) console.log(`Integration API (unauthenticated, 127.0.0.1 only): ${integration.url}`);
  if (running.uiUrl) console.log(`UI:   ${running.uiUrl}`);
  console.log(`Keys: kiln keys --data-dir ${dataDir}`);
  const stop = async () => {
    live?.close();
    await running.close();
    await integration?.close();
    await engine.close();
    try {
      unlinkSync(serverInfoFile(dataDir));
    } catch {
      // already gone
    }
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

async function keys(p: Parsed): Promise<void> {
  const dataDir = flag(p, 'data-dir') ?? defaultDataDir();
  const engine = await Engine.open({ dataDir, background: false, ownsJobs: false });
  const admin = engine.accounts.localAdmin();
  const k = engine.accounts.keysOf(admin.userId) ?? engine.accounts.registerKeys(admin.userId);
  await engine.close();
  if (p.flags['json']) console.log(JSON.stringify({ apikey: k.apiKey, secretkey: k.secretKey }));
  else console.log(`apikey=${k.apiKey}\nsecretkey=${k.secretKey}`);
}

async function api(p: Parsed): Promise<number> {
  const [command, ...pairs] = p.rest;
  if (!command) throw new Error('usage: kiln api COMMAND key=value …');
  const dataDir = flag(p, 'data-dir') ?? defaultDataDir();
  const url = flag(p, 'url') ?? (JSON.parse(readFileSync(serverInfoFile(dataDir), 'utf8')) as { url: string }).url;
  const engine = await Engine.open({ dataDir, background: false, seed: false, ownsJobs: false });
  const admin = engine.accounts.localAdmin();
  const k = engine.accounts.keysOf(admin.userId);
  await engine.close();
  if (!k) throw new Error('the local admin has no API keys; run kiln keys first');
  const call = async (cmd: string, extra: Record<string, string>) => {
    const params: Record<string, string> = { command: cmd, response: 'json', apiKey: k.apiKey, signatureversion: '3', expires: new Date(Date.now() + 10 * 60_000).toISOString().replace(/\.\d+Z$/, '+0000'), ...extra };
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(signRequest(params, k.secretKey)).toString() });
    return { status: res.status, body: (await res.json()) as Record<string, Record<string, unknown>> };
  };
  const params = Object.fromEntries(pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`not key=value: ${pair}`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }));
  let result = await call(command, params);
  const jobId = Object.values(result.body)[0]?.['jobid'];
  if (p.flags['wait'] && typeof jobId === 'string') {
    for (;;) {
      const job = await call('queryAsyncJobResult', { jobid: jobId });
      if (job.body['queryasyncjobresultresponse']?.['jobstatus'] !== 0) {
        result = job;
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  console.log(JSON.stringify(result.body, null, 2));
  return result.status === 200 ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  // Its flags are CloudStack's discover_networks.py's (short ones), parsed on their own.
  if (sub === 'discover-networks') {
    const { discoverNetworksCli, terminalAsk } = await vsphereDiscoverNetworks();
    return discoverNetworksCli(rest, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env, ask: terminalAsk() });
  }
  const parsed = parseArgs(rest);
  switch (sub) {
    case 'serve':
      await serve(parsed);
      return -1; // keeps running
    case 'keys':
      await keys(parsed);
      return 0;
    case 'api':
      return api(parsed);
    default:
      console.log('usage: kiln serve [--host H] [--port P] [--data-dir D] | kiln keys [--json] | kiln api [--wait] COMMAND key=value … | kiln discover-networks --help');
      return sub ? 2 : 0;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`kiln: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
