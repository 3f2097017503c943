/**
 * The host's networks (and, by the same script, its storage pools) are read with one virsh for
 * the listing and one virsh batch for every plainly named network's XML, not a virsh per name:
 * on a cold refresh across 20 hosts each virsh process is what the refresh paid (bench P10). A
 * name of any other shape (a blank in it, a leading dash) still gets a virsh of its own, quoted.
 * The script runs in a real `sh` here, with a stand-in `virsh` on PATH that logs every start.
 */
import { exec } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNetworks } from '../../drivers/kvm/inventory.js';
import { Virsh } from '../../drivers/kvm/virsh.js';
import type { ExecResult, SshConnection } from '../../drivers/kvm/ssh-connection.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-inventory-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = join(dir, 'virsh.log');
// Stands in for virsh: the listing pads names with blanks as virsh does; a batch is one argument of ';'-separated commands.
writeFileSync(
  join(dir, 'virsh'),
  `#!/bin/sh
shift 2
printf '%s\\n' "$*" >> "${log}"
dump() { printf '<network><name>%s</name><bridge name="br-%s"/></network>\\n' "$1" "$1"; }
case "$1" in
  net-list) printf 'default   \\nlan-2\\nodd name\\n-dash\\n' ;;
  net-dumpxml) dump "$3" ;;
  *) printf '%s\\n' "$1" | tr ';' '\\n' | while read -r cmd flag name; do [ -n "$cmd" ] && dump "$name"; done ;;
esac
`,
);
chmodSync(join(dir, 'virsh'), 0o755);

/** An SSH connection that runs the command line in a local sh, with the stand-in virsh first on PATH. */
const localSsh = {
  exec: (commandLine: string) =>
    new Promise<ExecResult>((resolve) => {
      exec(commandLine, { env: { ...process.env, PATH: `${dir}:${process.env['PATH']}` } }, (error, stdout, stderr) => resolve({ stdout, stderr, code: error ? Number(error.code ?? 1) : 0 }));
    }),
} as unknown as SshConnection;

describe('host networks read in one virsh batch', () => {
  it('lists every network with its bridge, in three virsh starts for four networks', async () => {
    const networks = await readNetworks(new Virsh(localSsh, 'qemu:///system', { shell: false }));
    expect(networks.networks.map((n) => [n.name, n.bridge]).sort()).toEqual([
      ['-dash', 'br--dash'],
      ['default', 'br-default'],
      ['lan-2', 'br-lan-2'],
      ['odd name', 'br-odd name'],
    ]);
    const starts = readFileSync(log, 'utf8').trim().split('\n');
    // The listing, the two odd names alone, and one batch for the two plain ones.
    expect(starts).toEqual(['net-list --all --name', 'net-dumpxml --network odd name', 'net-dumpxml --network -dash', ' net-dumpxml --network default; net-dumpxml --network lan-2;']);
  });
});
