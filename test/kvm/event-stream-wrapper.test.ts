/**
 * The wrapper Kiln runs `virsh event --loop` under (drivers/kvm/events.ts, eventStreamScript),
 * run here with bash and a stand-in for virsh: the stream ends when its stdin (the SSH channel)
 * reaches EOF or stays silent (a connection lost without a close), lives on while heartbeats come,
 * and ends with virsh's own status when virsh ends first (libvirtd restarted).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { eventStreamScript } from '../../drivers/kvm/events.js';

function run(silenceS: number, argv: string[]) {
  const child = spawn('bash', ['-c', eventStreamScript(silenceS), 'kiln-events', ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => resolve({ code, out })));
  return { child, exited };
}

/** Whether a process with this pid is still there. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the event stream wrapper', () => {
  it('stops virsh when its stdin reaches EOF (the channel closed)', async () => {
    const { child, exited } = run(45, ['sh', '-c', 'echo $$; exec sleep 600']);
    await new Promise((r) => child.stdout.once('data', r));
    child.stdin.end();
    const { code, out } = await exited;
    expect(code).toBe(143);
    expect(alive(Number(out.trim()))).toBe(false);
  });

  it('stops virsh when its stdin stays silent (the connection died without closing), not while heartbeats come', async () => {
    const { child, exited } = run(5, ['sh', '-c', 'echo $$; exec sleep 600']);
    await new Promise((r) => child.stdout.once('data', r));
    let ended = false;
    void exited.then(() => (ended = true));
    // Heartbeats ten times as often as the silence allows, for longer than one silence.
    for (let i = 0; i < 14; i++) {
      child.stdin.write('\n');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(ended).toBe(false);
    // Then nothing, with stdin still open.
    const { code, out } = await exited;
    expect(code).toBe(143);
    expect(alive(Number(out.trim()))).toBe(false);
    child.stdin.destroy();
  }, 30_000);

  it('passes on virsh’s own output and exit status when virsh ends first', async () => {
    const { child, exited } = run(45, ['sh', '-c', 'echo "event \'lifecycle\' for domain \'a\': Started Booted"; exit 3']);
    const { code, out } = await exited;
    child.stdin.destroy();
    expect(out).toBe("event 'lifecycle' for domain 'a': Started Booted\n");
    expect(code).toBe(3);
  });
});
