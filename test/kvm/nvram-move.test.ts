/**
 * drivers/kvm/nvram-move.ts's planning on its own (the copy itself is proven on real hosts by
 * kvm-uefi-move.real): which file a UEFI domain's variable store is (an explicit <nvram>, or
 * libvirt's default name for firmware autoselection), that a BIOS domain or a UEFI one never
 * started has none to carry, and that only libvirt's nvram directory is written on the destination,
 * a definition naming another place being pointed there.
 */
import { describe, expect, it } from 'vitest';
import { NVRAM_DIR, planNvramMove, withNvram } from '../../drivers/kvm/nvram-move.js';
import type { SshConnection } from '../../drivers/kvm/ssh-connection.js';

const SUM = 'ab'.repeat(32);
/** A host whose only files are FILES; exec answers the planner's "[ -f ] && sha256sum" script. */
function host(files: string[]): SshConnection {
  return {
    exec: async (line: string) => {
      const path = files.find((f) => line.includes(f));
      return path ? { code: 0, stdout: `${SUM}\n`, stderr: '' } : { code: 2, stdout: '', stderr: '' };
    },
  } as unknown as SshConnection;
}
const domain = (os: string) => `<domain type='qemu'><name>vm1</name>${os}<devices/></domain>`;

describe('a UEFI domain\'s nvram file on a move to another host', () => {
  it('firmware autoselection: libvirt\'s own file for the domain, to the same path there', async () => {
    const xml = domain("<os firmware='efi'><type arch='x86_64'>hvm</type></os>");
    const move = await planNvramMove(host([`${NVRAM_DIR}/vm1_VARS.fd`]), 'vm1', xml);
    expect(move).toEqual({ source: `${NVRAM_DIR}/vm1_VARS.fd`, destination: `${NVRAM_DIR}/vm1_VARS.fd`, sha256: SUM });
    expect(withNvram(xml, move)).toBe(xml);
  });

  it('none for a BIOS domain, or a UEFI one whose file libvirt has not made yet (never started)', async () => {
    expect(await planNvramMove(host([`${NVRAM_DIR}/vm1_VARS.fd`]), 'vm1', domain("<os><type arch='x86_64'>hvm</type></os>"))).toBeUndefined();
    expect(await planNvramMove(host([]), 'vm1', domain("<os firmware='efi'><type arch='x86_64'>hvm</type></os>"))).toBeUndefined();
  });

  it('an explicit nvram outside libvirt\'s directory goes into it on the destination, and the definition there says so (its template kept)', async () => {
    const xml = domain("<os><type arch='x86_64'>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/srv/vars/../../etc/vm1.fd</nvram></os>");
    const move = await planNvramMove(host(['/srv/vars/../../etc/vm1.fd']), 'vm1', xml);
    expect(move).toEqual({ source: '/srv/vars/../../etc/vm1.fd', destination: `${NVRAM_DIR}/vm1_VARS.fd`, sha256: SUM });
    const there = withNvram(xml, move);
    expect(there).toContain(`<nvram template="/usr/share/OVMF/OVMF_VARS_4M.fd">${NVRAM_DIR}/vm1_VARS.fd</nvram>`);
    expect(there).not.toContain('/etc/vm1.fd');
  });
});
