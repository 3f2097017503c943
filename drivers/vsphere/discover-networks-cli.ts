/**
 * `kiln discover-networks`: offline network discovery against a vCenter or ESXi (R52, D5), with
 * no engine and no database, so it runs on any workstation before the endpoint is added to Kiln.
 * The flags are those of CloudStack's discover_networks.py. The certificate is trusted by its
 * SHA-256 thumbprint only: given with --thumbprint, or confirmed at a prompt after it is shown;
 * never taken silently (a script without a terminal must pass --thumbprint).
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { NETWORK_CSV_COLUMNS, discoverAt, networkCsvRows } from './network-discovery.js';
import { normalizeThumbprint, probeThumbprint } from './soap/index.js';

export const PASSWORD_ENV = 'KILN_VSPHERE_PASSWORD';

export const DISCOVER_NETWORKS_HELP = `usage: kiln discover-networks -s HOST [-o PORT] -u USER [-p PASSWORD] [-c CLUSTER] [-S] [-d]
                              [--thumbprint SHA256] [--format json|csv]

Lists every network of a vCenter or ESXi that has at least one VM: cluster, host, portgroup,
switch (standard or distributed), VLAN id, and the VMs with their NICs. Talks to the endpoint
directly; needs no Kiln engine or database.

  -s, --host HOST          vCenter or ESXi address
  -o, --port PORT          HTTPS port (443)
  -u, --user USER          user name
  -p, --password PASSWORD  password; leave it out to keep it out of your shell history: it is then
                           read from the environment variable ${PASSWORD_ENV}, or asked for at a
                           prompt (not echoed) when there is a terminal
  -c, --cluster CLUSTER    only this cluster (or standalone host's compute resource)
  -S, --disable-ssl-verification
                           accepted for compatibility with CloudStack's discover_networks.py; Kiln
                           never checks a CA chain, it trusts the certificate by its thumbprint
                           only, so this changes nothing: the thumbprint is still required
      --thumbprint SHA256  the certificate's SHA-256 thumbprint to trust; without it the presented
                           one is printed and must be confirmed at a prompt
  -d, --debug              progress and timings on stderr
      --format json|csv    json (default): one entry per network and host, with the VMs' NICs;
                           csv: one row per portgroup across hosts, whose name, displaytext and vlan
                           columns are createNetwork's parameters (for a bulk createNetwork)
`;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** A terminal to prompt on; undefined when there is none (a pipe, CI). */
  ask?: (question: string, hidden: boolean) => Promise<string>;
}

/** A prompt on the process's terminal; hidden input echoes nothing. */
export function terminalAsk(): CliIo['ask'] {
  if (!process.stdin.isTTY) return undefined;
  return (question, hidden) => new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      // Writes only the question: the typed characters are not echoed.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.startsWith(question)) process.stderr.write(question);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** Runs the subcommand; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function discoverNetworksCli(argv: string[], io: CliIo): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  const parse = (args: string[]) => parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string', short: 's' },
      port: { type: 'string', short: 'o' },
      user: { type: 'string', short: 'u' },
      password: { type: 'string', short: 'p' },
      cluster: { type: 'string', short: 'c' },
      'disable-ssl-verification': { type: 'boolean', short: 'S' },
      debug: { type: 'boolean', short: 'd' },
      thumbprint: { type: 'string' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  try {
    values = parse(argv).values;
  } catch (e) {
    io.err(`kiln discover-networks: ${e instanceof Error ? e.message : String(e)}\n${DISCOVER_NETWORKS_HELP}`);
    return 2;
  }
  if (values.help) {
    io.out(DISCOVER_NETWORKS_HELP);
    return 0;
  }
  const usage = (message: string) => {
    io.err(`kiln discover-networks: ${message}\n${DISCOVER_NETWORKS_HELP}`);
    return 2;
  };
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'csv') return usage(`--format must be json or csv, not ${JSON.stringify(format)}`);
  if (!values.host) return usage('-s HOST is required');
  if (!values.user) return usage('-u USER is required');
  const port = Number(values.port ?? '443');
  if (!Number.isInteger(port) || port < 1 || port > 65535) return usage(`-o PORT must be a port number, not ${JSON.stringify(values.port)}`);
  const debug = values.debug ? (line: string) => io.err(`[debug] ${line}\n`) : undefined;

  let password = values.password ?? io.env[PASSWORD_ENV];
  if (password === undefined) {
    if (!io.ask) return usage(`no password: pass -p, set ${PASSWORD_ENV}, or run it on a terminal to be asked`);
    password = await io.ask(`Password for ${values.user}@${values.host}: `, true);
  }

  const presented = await probeThumbprint(values.host, port);
  if (values.thumbprint !== undefined) {
    if (normalizeThumbprint(values.thumbprint) !== presented) {
      io.err(`kiln discover-networks: ${values.host}:${port} presented the certificate ${presented}, not the trusted ${normalizeThumbprint(values.thumbprint)}; refusing to connect\n`);
      return 1;
    }
  } else {
    io.err(`${values.host}:${port} presents a certificate with SHA-256 thumbprint\n  ${presented}\n`);
    if (!io.ask) {
      io.err(`kiln discover-networks: not trusted; check it and pass --thumbprint ${presented}\n`);
      return 1;
    }
    const answer = (await io.ask('Trust this certificate? [y/N] ', false)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') {
      io.err('kiln discover-networks: certificate not trusted\n');
      return 1;
    }
  }

  const host = values.host.includes(':') ? `[${values.host}]` : values.host;
  const t0 = performance.now();
  // The session pins the thumbprint checked above: a certificate swapped since is refused.
  const nets = await discoverAt({
    sdkUrl: `https://${host}:${port}/sdk`, username: values.user, password, thumbprint: presented, cluster: values.cluster, debug,
    onConnected: (ep) => debug?.(`connected to ${ep.version} (${ep.apiType}); inventory of ${ep.cache.lastSync.objects} objects read in ${Math.round(ep.cache.lastSync.ms)} ms`),
  });
  debug?.(`${nets.length} networks with VMs, ${Math.round(performance.now() - t0)} ms in all`);
  if (format === 'json') io.out(`${JSON.stringify(nets, null, 2)}\n`);
  else io.out(stringify(networkCsvRows(nets), { header: true, columns: [...NETWORK_CSV_COLUMNS] }));
  return 0;
}
