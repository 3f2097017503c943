/**
 * drivers/kvm/nvram-move.ts prepareNvramMigration (the nvram side of `virsh migrate` to another
 * host) where the real hosts cannot go: a migration that fails, and an nvram directory both hosts
 * share. Each "host" runs the driver's own command lines with the local shell, its file system
 * being a temporary directory that the host's absolute paths are mapped into (the same directory
 * for both hosts when they share it). The successful live and offline moves themselves are proven
 * on real hosts by kvm-uefi-migrate.real.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { NVRAM_DIR, prepareNvramMigration } from '../../drivers/kvm/nvram-move.js';
import type { SshConnection } from '../../drivers/kvm/ssh-connection.js';
import type { Virsh } from '../../drivers/kvm/virsh.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A host whose / for these paths is ROOT: NVRAM_DIR and /srv are mapped under it. */
function host(root: string): { virsh: Virsh; file: (p: string) => string; defined: string[] } {
  const local = (line: string) => line.replaceAll(NVRAM_DIR, `${root}/nvram`).replaceAll('/srv/', `${root}/srv/`);
  const remote = (out: string) => out.replaceAll(`${root}/nvram`, NVRAM_DIR).replaceAll(`${root}/srv/`, '/srv/');
  const file = (p: string) => local(p);
  const run = (line: string, stdin?: string | Readable) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('sh', ['-c', local(line)]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout: remote(stdout), stderr }));
      if (typeof stdin === 'string') child.stdin.end(stdin);
      else if (stdin) stdin.pipe(child.stdin);
      else child.stdin.end();
    });
  const ssh = {
    exec: (line: string, options: { stdin?: string | Readable } = {}) => run(line, options.stdin),
    openChannel: async (line: string) => {
      const child = spawn('sh', ['-c', local(line)]);
      return Object.assign(child.stdout, { stderr: child.stderr });
    },
  } as unknown as SshConnection;
  const defined: string[] = [];
  const virsh = {
    ssh,
    run: async (args: string[], options: { stdin?: string } = {}) => {
      if (args[0] === 'dumpxml') return domain;
      if (args[0] === 'define') defined.push(options.stdin ?? '');
      return '';
    },
  } as unknown as Virsh;
  return { virsh, file, defined };
}

const domain = "<domain type='qemu'><name>vm1</name><os><type arch='x86_64'>hvm</type><nvram>/srv/vars/vm1.fd</nvram></os><devices/></domain>";
const SOURCE_FILE = '/srv/vars/vm1.fd';

function hosts(shared: boolean) {
  const a = mkdtempSync(path.join(tmpdir(), 'kiln-nvram-a-'));
  const b = shared ? a : mkdtempSync(path.join(tmpdir(), 'kiln-nvram-b-'));
  roots.push(a, b);
  for (const root of new Set([a, b])) {
    mkdirSync(`${root}/nvram`, { recursive: true });
    mkdirSync(`${root}/srv/vars`, { recursive: true });
  }
  const source = host(a);
  const destination = host(b);
  writeFileSync(source.file(SOURCE_FILE), 'the guest\'s variables');
  return { source, destination };
}

describe('the nvram file on a virsh migrate to another host', () => {
  it('live, failed: the source keeps its file; a file libvirt made on the destination for it goes, one that was there before stays', async () => {
    const { source, destination } = hosts(false);
    let missing = true;
    const target = { virsh: destination.virsh, host: 'h2', missing: async () => missing };
    const live = await prepareNvramMigration(source.virsh, target, 'vm1', domain, true);
    expect(live).toBeDefined();
    writeFileSync(destination.file(SOURCE_FILE), 'template');
    await live!.abandon();
    expect(readFileSync(source.file(SOURCE_FILE), 'utf8')).toBe('the guest\'s variables');
    expect(existsSync(destination.file(SOURCE_FILE))).toBe(false);

    // A file of that name on the destination before the migration is not Kiln's to delete; nor is one of a guest that got there.
    writeFileSync(destination.file(SOURCE_FILE), 'template');
    const again = await prepareNvramMigration(source.virsh, target, 'vm1', domain, true);
    await again!.abandon();
    expect(readFileSync(destination.file(SOURCE_FILE), 'utf8')).toBe('template');
    rmSync(destination.file(SOURCE_FILE));
    const arrived = await prepareNvramMigration(source.virsh, target, 'vm1', domain, true);
    writeFileSync(destination.file(SOURCE_FILE), 'migrated flash');
    missing = false;
    await arrived!.abandon();
    expect(readFileSync(destination.file(SOURCE_FILE), 'utf8')).toBe('migrated flash');
    expect(readFileSync(source.file(SOURCE_FILE), 'utf8')).toBe('the guest\'s variables');
  });

  it('live, succeeded: the source\'s file goes only once the destination has its own', async () => {
    const { source, destination } = hosts(false);
    const target = { virsh: destination.virsh, host: 'h2', missing: async () => false };
    const withoutOne = await prepareNvramMigration(source.virsh, target, 'vm1', domain, true);
    await withoutOne!.finish();
    expect(existsSync(source.file(SOURCE_FILE))).toBe(true);
    const live = await prepareNvramMigration(source.virsh, target, 'vm1', domain, true);
    writeFileSync(destination.file(SOURCE_FILE), 'migrated flash');
    await live!.finish();
    expect(existsSync(source.file(SOURCE_FILE))).toBe(false);
    expect(readFileSync(destination.file(SOURCE_FILE), 'utf8')).toBe('migrated flash');
  });

  it('definition-only: copied into libvirt\'s directory there first (SHA-256 checked), the definition there pointed at it, the source\'s deleted after; a failed one deletes the copy and keeps the source\'s', async () => {
    const { source, destination } = hosts(false);
    const target = { virsh: destination.virsh, host: 'h2', missing: async () => true };
    const failed = await prepareNvramMigration(source.virsh, target, 'vm1', domain, false);
    expect(readFileSync(destination.file(`${NVRAM_DIR}/vm1_VARS.fd`), 'utf8')).toBe('the guest\'s variables');
    await failed!.abandon();
    expect(existsSync(destination.file(`${NVRAM_DIR}/vm1_VARS.fd`))).toBe(false);
    expect(existsSync(source.file(SOURCE_FILE))).toBe(true);

    const moved = await prepareNvramMigration(source.virsh, target, 'vm1', domain, false);
    await moved!.finish();
    expect(readFileSync(destination.file(`${NVRAM_DIR}/vm1_VARS.fd`), 'utf8')).toBe('the guest\'s variables');
    expect(destination.defined).toHaveLength(1);
    expect(destination.defined[0]).toContain(`<nvram>${NVRAM_DIR}/vm1_VARS.fd</nvram>`);
    expect(existsSync(source.file(SOURCE_FILE))).toBe(false);
  });

  it('an nvram directory both hosts share: nothing copied, nothing deleted (it is the guest\'s one file)', async () => {
    const { source, destination } = hosts(true);
    const target = { virsh: destination.virsh, host: 'h2', missing: async () => false };
    expect(await prepareNvramMigration(source.virsh, target, 'vm1', domain, true)).toBeUndefined();
    expect(await prepareNvramMigration(source.virsh, target, 'vm1', domain, false)).toBeUndefined();
    expect(readFileSync(source.file(SOURCE_FILE), 'utf8')).toBe('the guest\'s variables');
  });
});
