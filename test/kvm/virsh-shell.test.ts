/**
 * The persistent virsh shell (drivers/kvm/virsh-shell.ts): virsh's own quoting, and the marker
 * protocol against a fake interactive virsh behind the fake SSH server (test/kvm/fixtures).
 */
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SshConnection } from '../../drivers/kvm/ssh-connection.js';
import { Virsh } from '../../drivers/kvm/virsh.js';
import { readNetworks } from '../../drivers/kvm/inventory.js';
import { ShellUnavailable, virshLine, virshQuote, virshShellSafe } from '../../drivers/kvm/virsh-shell.js';
import { DriverError } from '../../drivers/types.js';
import { startServer, type TestServer } from './fake-ssh-server.js';
import { HOSTILE_WORDS } from '../helpers/hostile-words.js';

const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'fake-virsh-shell.mjs');

/** virsh's argument parser (vshCommandStringGetArg), for checking quoted lines offline. */
function virshParse(line: string): string[][] {
  const cmds: string[][] = [[]];
  let p = 0;
  for (;;) {
    while (line[p] === ' ' || line[p] === '\t') p++;
    if (p >= line.length) break;
    if (line[p] === ';') {
      cmds.push([]);
      p++;
      continue;
    }
    if (line[p] === '#') break;
    let tok = '';
    let sq = false;
    let dq = false;
    while (p < line.length) {
      const c = line[p]!;
      if (!sq && !dq && (c === ' ' || c === '\t' || c === ';')) break;
      if (!dq && c === "'") {
        sq = !sq;
        p++;
        continue;
      }
      if (!sq && c === '\\') {
        p++;
        if (p >= line.length) throw new Error('dangling \\');
      } else if (!sq && c === '"') {
        dq = !dq;
        p++;
        continue;
      }
      tok += line[p++];
    }
    if (dq || sq) throw new Error('unterminated quote');
    cmds[cmds.length - 1]!.push(tok);
  }
  return cmds.filter((c) => c.length > 0);
}

const HOSTILE = [...HOSTILE_WORDS];

describe('virshQuote', () => {
  it('round-trips hostile values through virsh parsing, one command, no extra commands', () => {
    for (const value of HOSTILE) {
      expect(virshParse(virshLine(['argv', value, 'tail']))).toEqual([['argv', value, 'tail']]);
      expect(virshParse(`${virshQuote(value)}`)).toEqual(value === '' ? [[""]] : [[value]]);
    }
    expect(virshParse(virshLine(['argv', ...HOSTILE]))).toEqual([['argv', ...HOSTILE]]);
  });

  it('leaves plain tokens readable', () => {
    expect(virshLine(['domstate', '--domain', 'i-2-3-VM'])).toBe('domstate --domain i-2-3-VM');
    expect(virshQuote('')).toBe("''");
    expect(virshQuote('a b')).toBe("'a b'");
    expect(virshQuote("it's")).toBe("'it'\\''s'");
  });

  it('refuses what readline would not pass intact', () => {
    for (const bad of ['line1\nline2', '\r', 'tab\there', '\0', '\u001b[A', '\u007f', 'héllo', '😀']) {
      expect(virshShellSafe(['x', bad])).toBe(false);
      expect(() => virshQuote(bad)).toThrow(DriverError);
    }
    expect(virshShellSafe(HOSTILE)).toBe(true);
  });
});

describe('VirshShell protocol (fake interactive virsh)', () => {
  const servers: TestServer[] = [];
  const connections: SshConnection[] = [];
  afterEach(async () => {
    for (const c of connections.splice(0)) await c.close();
    for (const s of servers.splice(0)) await s.close();
    delete process.env['FAKE_VIRSH_BROKEN'];
  });

  async function setup(): Promise<{ virsh: Virsh; log: () => string[] }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-fake-virsh-shell-'));
    copyFileSync(FAKE, path.join(dir, 'virsh'));
    chmodSync(path.join(dir, 'virsh'), 0o755);
    const logFile = path.join(dir, 'log');
    writeFileSync(logFile, '');
    process.env['FAKE_VIRSH_LOG'] = logFile;
    const server = await startServer(undefined, 0, dir);
    servers.push(server);
    const ssh = await SshConnection.open({ host: '127.0.0.1', port: server.port, username: 'kiln', password: 'secret' });
    connections.push(ssh);
    return { virsh: new Virsh(ssh), log: () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean) };
  }

  it('runs queries through one shell, with exact stdout and hostile arguments intact', async () => {
    const { virsh, log } = await setup();
    expect(await virsh.run(['list', '--all', '--name'])).toBe('shell-list\n\n');
    expect(await virsh.shell!.run(['argv', ...HOSTILE])).toEqual({ stdout: `${JSON.stringify(HOSTILE)}\n\n`, stderr: '', code: 0 });
    for (let i = 0; i < 20; i++) expect(await virsh.run(['domstate', '--domain', `d${i}`])).toBe('running\n\n');
    expect(virsh.shell!.starts).toBe(1);
    expect(log().filter((l) => l === 'shell')).toHaveLength(1);
    expect(log().filter((l) => l.startsWith('exec'))).toHaveLength(0);
  });

  it('reports errors like an exec: stderr, code 1, DriverError with the category', async () => {
    const { virsh } = await setup();
    const result = await virsh.shell!.run(['fail', "failed to get domain 'x'"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("error: failed to get domain 'x'\n");
    await expect(virsh.shell!.run(['fail', 'Domain not found: no domain'])).resolves.toMatchObject({ code: 1 });
    // A marker-looking argument or error text cannot end a command early.
    expect((await virsh.shell!.run(['echo', '--', "error: @@00''Z"])).code).toBe(0);
    // virsh's note about its own reconnect is not the command's failure.
    expect(await virsh.shell!.run(['reconnect'])).toEqual({ stdout: 'ok\n\n', stderr: '', code: 0 });
    // The shell is still in step afterwards.
    expect(await virsh.run(['list'])).toBe('shell-list\n\n');
  });

  it('times out, restarts the shell, and stays in step', async () => {
    const { virsh } = await setup();
    await virsh.run(['list']);
    const error = await virsh.shell!.run(['sleep', '2000'], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).category).toBe('timeout');
    expect(await virsh.run(['list'])).toBe('shell-list\n\n');
    expect(virsh.shell!.starts).toBe(2);
  });

  it('a query whose shell dies is rerun as an exec; a change is not rerun', async () => {
    const { virsh, log } = await setup();
    await virsh.run(['list']);
    await expect(virsh.shell!.run(['die'])).rejects.toBeInstanceOf(ShellUnavailable);
    expect(await virsh.run(['list'])).toBe('shell-list\n\n');
    // Changes go only through a shell that has answered; on one that dies they fail, not repeat.
    await expect(virsh.shell!.run(['die'], { mutating: true })).rejects.toMatchObject({ category: 'unreachable' });
    // No proven shell now: a change runs as an exec.
    await expect(virsh.run(['start', '--domain', 'd'])).rejects.toThrow(/unknown command start/);
    expect(log().some((l) => l.startsWith('exec ["start"'))).toBe(true);
    await virsh.run(['list']);
    expect(await virsh.run(['start', '--domain', 'd'])).toBe("Domain 'd' started\n\n");
  });

  it('falls back to exec when the shell cannot start, and for values or stdin it cannot carry', async () => {
    process.env['FAKE_VIRSH_BROKEN'] = '1';
    const { virsh, log } = await setup();
    expect(await virsh.run(['list'])).toBe('exec-list\n\n');
    expect(await virsh.run(['list'])).toBe('exec-list\n\n');
    expect(log().filter((l) => l === 'shell')).toHaveLength(1);
    delete process.env['FAKE_VIRSH_BROKEN'];
    const fresh = await setup();
    expect(await fresh.virsh.run(['list', '--domain', 'new\nline'])).toBe('exec-list\n\n');
    expect(await fresh.virsh.run(['list'], { stdin: 'x' })).toBe('exec-list\n\n');
    expect(fresh.log().filter((l) => l === 'shell')).toHaveLength(0);
  });

  it('queues quick reads issued side by side on the shell instead of starting a virsh each', async () => {
    const { virsh, log } = await setup();
    // A host's connect runs one read (the shell starts), then issues the inventory's reads
    // together: all of them go through the one shell.
    expect(await virsh.run(['list', '--all', '--name'])).toBe('shell-list\n\n');
    const answers = await Promise.all([...Array.from({ length: 5 }, (_, i) => virsh.run(['domstate', '--domain', `d${i}`])), virsh.run(['list', '--all', '--name'])]);
    expect(answers).toEqual([...Array.from({ length: 5 }, () => 'running\n\n'), 'shell-list\n\n']);
    expect(virsh.shell!.starts).toBe(1);
    expect(log().filter((l) => l.startsWith('exec'))).toHaveLength(0);
  });

  it('writes a batch of reads at once: every line reaches virsh before the first command has answered, and each gets its own answer', async () => {
    const { virsh, log } = await setup();
    await virsh.run(['list']);
    const before = log().length;
    const answers = await Promise.allSettled(virsh.shell!.runBatch([{ args: ['sleep', '300'] }, { args: ['domstate', '--domain', 'd1'] }, { args: ['fail', 'no such domain'] }, { args: ['list'] }]));
    expect(answers.map((a) => (a.status === 'fulfilled' ? [a.value.code, a.value.stdout, a.value.stderr] : a.reason))).toEqual([
      [0, 'slept\n\n', ''],
      [0, 'running\n\n', ''],
      [1, '\n', 'error: no such domain\n'],
      [0, 'shell-list\n\n', ''],
    ]);
    const lines = log().slice(before);
    // Two lines per command, all received before virsh ran the second command (the one after the sleep).
    const secondRun = lines.findIndex((l) => l.startsWith('run ["domstate"'));
    expect(lines.slice(0, secondRun).filter((l) => l === 'recv')).toHaveLength(8);
    expect(lines.filter((l) => l.startsWith('exec'))).toHaveLength(0);
  });

  it('gathers reads issued side by side through Virsh into one batch', async () => {
    const { virsh, log } = await setup();
    await virsh.run(['list']);
    const before = log().length;
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => virsh.run(['domstate', '--domain', `d${i}`])));
    expect(answers).toEqual(Array.from({ length: 6 }, () => 'running\n\n'));
    const lines = log().slice(before);
    expect(lines.slice(0, lines.findIndex((l) => l.startsWith('run ["domstate"')) + 1).filter((l) => l === 'recv').length).toBeGreaterThanOrEqual(12);
    expect(virsh.shell!.starts).toBe(1);
  });

  it('a read in a batch that times out fails alone; the ones after it rerun as execs, and the shell restarts', async () => {
    const { virsh } = await setup();
    await virsh.run(['list']);
    const [first, slow, after] = await Promise.allSettled(virsh.shell!.runBatch([{ args: ['list'] }, { args: ['sleep', '2000'], timeoutMs: 200 }, { args: ['list'] }]));
    expect(first).toMatchObject({ status: 'fulfilled', value: { stdout: 'shell-list\n\n', code: 0 } });
    expect(slow).toMatchObject({ status: 'rejected', reason: { category: 'timeout' } });
    expect(after).toMatchObject({ status: 'rejected' });
    expect((after as PromiseRejectedResult).reason).toBeInstanceOf(ShellUnavailable);
    expect(await virsh.run(['list'])).toBe('shell-list\n\n');
    expect(virsh.shell!.starts).toBe(2);
  });

  it("reads the host's networks through the running shell, with no virsh process of their own", async () => {
    const { virsh, log } = await setup();
    expect(await virsh.run(['list', '--all', '--name'])).toBe('shell-list\n\n');
    const networks = await readNetworks(virsh);
    expect(networks.networks.map((n) => [n.name, n.bridge])).toEqual([['default', 'br-default'], ['lan-2', 'br-lan-2']]);
    expect(log().filter((l) => l.startsWith('exec'))).toHaveLength(0);
    expect(log().filter((l) => l.startsWith('run')).map((l) => JSON.parse(l.slice(4)) as string[]).map((cmd) => cmd.slice(0, 3).join(' '))).toEqual(
      expect.arrayContaining(['net-list --all --name', 'net-dumpxml --network default', 'net-dumpxml --network lan-2']),
    );
  });

  it('lets concurrent callers use exec channels instead of queueing behind a slow command', async () => {
    const { virsh, log } = await setup();
    await virsh.run(['list']);
    // Longer than a quick read waits for the shell (500 ms, virsh.ts).
    const slow = virsh.shell!.run(['sleep', '1500']);
    expect(await virsh.run(['list'])).toBe('exec-list\n\n');
    expect((await slow).stdout).toBe('slept\n\n');
    expect(log().filter((l) => l.startsWith('exec'))).toHaveLength(1);
  });
});
