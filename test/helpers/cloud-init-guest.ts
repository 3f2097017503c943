/**
 * A "guest" that runs Debian's real cloud-init (test/integration/cloud-init.test.ts): a network
 * namespace with one veth whose address is the VM's NIC address in Kiln's database (the other end,
 * in the root namespace, is the guest's default gateway, where the test's metadata service
 * listens), and a throwaway root file system for cloud-init to configure: the machine's /usr
 * bind-mounted read-only, a copy of /etc, and empty /var, /home, /root. Each boot() runs cloud-init's
 * four boot stages (init --local, init, modules config, modules final) in fresh mount and UTS
 * namespaces with a fresh /run, as a reboot of the same disk would; /var/lib/cloud persists.
 *
 * Needs root, iproute2 and util-linux (unshare, mount, chroot); cloud-init from Debian.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function cloudInitAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['cloud-init', 'ip', 'unshare', 'chroot', 'isoinfo']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

export interface GuestOptions {
  /** Short tag for names (netns kci-TAG, veths kciTAGh / kciTAGg). */
  tag: string;
  /** The guest's address (the VM's NIC address in Kiln) and the gateway's, in a /24. */
  guestIp: string;
  gatewayIp: string;
  /** cloud-init's datasource_list, e.g. ['CloudStack'] or ['ConfigDrive']. */
  datasources: string[];
  /**
   * The network namespace the gateway's end of the veth goes into (a KVM test host's, e.g. host1,
   * whose sshd then listens on gatewayIp for Kiln's metadata relay); the root namespace when omitted.
   */
  gatewayNetns?: string;
  /**
   * A bridge (in gatewayNetns) that carries gatewayIp and takes the veth, so several guests share
   * one guest network as on a hypervisor's bridge; created by the first guest. The caller deletes it.
   */
  bridge?: string;
}

export interface BootResult {
  /** The UTS hostname after the boot's stages ran. */
  hostname: string;
  /** Exit code of each stage, by name. */
  stages: Record<string, number>;
  output: string;
}

const STAGES: [string, string[]][] = [
  ['init --local', ['init', '--local']],
  ['init', ['init']],
  ['modules config', ['modules', '--mode', 'config']],
  ['modules final', ['modules', '--mode', 'final']],
];

// One boot: its own mount and UTS namespaces (unshare), so every mount and the hostname go when it ends.
const BOOT_SCRIPT = `set -u
R="$1"
mount --bind /usr "$R/usr" && mount -o remount,bind,ro "$R/usr" || { echo "KILN-ABORT /usr not read-only"; exit 1; }
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount -t sysfs sysfs "$R/sys"
mount -t tmpfs tmpfs "$R/run"
hostname localhost
${STAGES.map(([name, args]) => `chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 cloud-init ${args.join(' ')} >>"$R/var/log/kiln-stages.log" 2>&1; echo "KILN-STAGE ${name} rc=$?"`).join('\n')}
echo "KILN-HOSTNAME $(hostname)"
`;

export class CloudInitGuest {
  readonly root: string;
  readonly netns: string;
  private readonly hostVeth: string;
  private readonly guestVeth: string;

  private constructor(readonly options: GuestOptions) {
    this.root = mkdtempSync(join(tmpdir(), `kiln-ci-root-${options.tag}-`));
    chmodSync(this.root, 0o700);
    this.netns = `kci-${options.tag}`;
    this.hostVeth = `kci${options.tag}h`;
    this.guestVeth = `kci${options.tag}g`;
  }

  static async create(options: GuestOptions): Promise<CloudInitGuest> {
    const guest = new CloudInitGuest(options);
    try {
      await guest.network();
      guest.buildRoot();
    } catch (error) {
      await guest.destroy();
      throw error;
    }
    return guest;
  }

  private async network(): Promise<void> {
    const { guestIp, gatewayIp } = this.options;
    await run('ip', ['netns', 'add', this.netns]);
    await run('ip', ['link', 'add', this.hostVeth, 'type', 'veth', 'peer', 'name', this.guestVeth]);
    await run('ip', ['link', 'set', this.guestVeth, 'netns', this.netns]);
    const gw = this.options.gatewayNetns ? ['-n', this.options.gatewayNetns] : [];
    if (gw.length) await run('ip', ['link', 'set', this.hostVeth, 'netns', this.options.gatewayNetns!]);
    const bridge = this.options.bridge;
    if (bridge) {
      const exists = await run('ip', [...gw, 'link', 'show', bridge]).then(() => true, () => false);
      if (!exists) {
        await run('ip', [...gw, 'link', 'add', bridge, 'type', 'bridge']);
        await run('ip', [...gw, 'addr', 'add', `${gatewayIp}/24`, 'dev', bridge]);
        await run('ip', [...gw, 'link', 'set', bridge, 'up']);
      }
      await run('ip', [...gw, 'link', 'set', this.hostVeth, 'master', bridge]);
    } else await run('ip', [...gw, 'addr', 'add', `${gatewayIp}/24`, 'dev', this.hostVeth]);
    await run('ip', [...gw, 'link', 'set', this.hostVeth, 'up']);
    const inNs = (...args: string[]) => run('ip', ['netns', 'exec', this.netns, 'ip', ...args]);
    await inNs('link', 'set', 'lo', 'up');
    await inNs('addr', 'add', `${guestIp}/24`, 'dev', this.guestVeth);
    await inNs('link', 'set', this.guestVeth, 'up');
    await inNs('route', 'add', 'default', 'via', gatewayIp);
  }

  private buildRoot(): void {
    const r = this.root;
    for (const dir of ['usr', 'proc', 'dev', 'sys', 'run', 'tmp', 'var/lib', 'var/log', 'var/tmp', 'home', 'root']) mkdirSync(join(r, dir), { recursive: true });
    chmodSync(join(r, 'tmp'), 0o1777);
    chmodSync(join(r, 'var/tmp'), 0o1777);
    for (const link of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`usr/${link}`, join(r, link));
    cpSync('/etc', join(r, 'etc'), { recursive: true, verbatimSymlinks: true });
    const cfgd = join(r, 'etc/cloud/cloud.cfg.d');
    for (const f of readdirSync(cfgd)) if (f !== '05_logging.cfg') rmSync(join(cfgd, f));
    // A template's datasource pin (CloudStack's template guide: /etc/cloud/cloud.cfg.d/99_cloudstack.cfg);
    // networking is the netns's, so cloud-init must not rewrite it.
    writeFileSync(
      join(cfgd, '99_kiln.cfg'),
      [
        `datasource_list: [ ${this.options.datasources.join(', ')} ]`,
        'datasource:',
        '  CloudStack:',
        '    max_wait: 30',
        '    timeout: 5',
        'network: { config: disabled }',
        '',
      ].join('\n'),
    );
    // CloudStack's template guide: "[ssh, always]" so a key reset reaches the guest at its next boot.
    const cfg = join(r, 'etc/cloud/cloud.cfg');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^(\s*)- ssh$/m, '$1- [ssh, always]'));
    // No resolver in the guest: the 'data-server' lookup fails fast and the datasource falls back to the gateway.
    rmSync(join(r, 'etc/resolv.conf'), { force: true });
    writeFileSync(join(r, 'etc/resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    writeFileSync(join(r, 'etc/hostname'), 'localhost\n');
  }

  /** Puts a config drive's file tree where cloud-init's ConfigDrive datasource looks (/config-drive), from the ISO. */
  loadConfigDrive(isoPath: string): string[] {
    const target = join(this.root, 'config-drive');
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target);
    // The kernel here has no iso9660 (no loop mount): isoinfo reads the Rock Ridge tree as a mount would show it.
    const paths = execFileSync('isoinfo', ['-R', '-f', '-i', isoPath]).toString().split('\n').filter(Boolean);
    const files = paths.filter((p) => !paths.some((other) => other.startsWith(`${p}/`)));
    for (const file of files) {
      const out = join(target, file);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, execFileSync('isoinfo', ['-R', '-i', isoPath, '-x', file]));
    }
    return files;
  }

  /** One boot of the guest: cloud-init's four stages, as systemd would run them. */
  async boot(): Promise<BootResult> {
    const { stdout } = await run('ip', ['netns', 'exec', this.netns, 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', BOOT_SCRIPT, 'boot', this.root], { timeout: 120_000 });
    const stages: Record<string, number> = {};
    for (const m of stdout.matchAll(/^KILN-STAGE (.+) rc=(\d+)$/gm)) stages[m[1]!] = Number(m[2]);
    return { hostname: /^KILN-HOSTNAME (.*)$/m.exec(stdout)?.[1] ?? '', stages, output: stdout };
  }

  /** Runs a command in the guest's network namespace (curl to the metadata server, say). */
  async exec(command: string, ...args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.netns, command, ...args], { timeout: 60_000 })).stdout;
  }

  file(path: string): string | undefined {
    const full = join(this.root, path);
    return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
  }

  /** The lines of cloud-init's log that say what it found and did (for the test's report). */
  logLines(pattern: RegExp): string[] {
    return (this.file('var/log/cloud-init.log') ?? '').split('\n').filter((l) => pattern.test(l));
  }

  async destroy(): Promise<void> {
    await run('ip', [...(this.options.gatewayNetns ? ['-n', this.options.gatewayNetns] : []), 'link', 'del', this.hostVeth]).catch(() => undefined);
    await run('ip', ['netns', 'del', this.netns]).catch(() => undefined);
    // Every mount lived in a boot's own namespace; never delete through one that is somehow visible here.
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${this.root}/`)) throw new Error(`mounts remain under ${this.root}; not removing it`);
    rmSync(this.root, { recursive: true, force: true });
  }
}
