/**
 * Markers in a test guest's disk, written and read through its serial console (ConsoleTap): the
 * backup tests write one, back up, overwrite it, restore, and read which one the disk holds.
 * A marker is `KILN-MARK-<letter>` at MARK_AT of the raw disk (the guest boots from its kernel
 * and initramfs, not from the disk, so the bytes there are free).
 */
import { ConsoleTap } from '../kvm/real-hosts.js';
import type { KvmZone } from './kvm-zone.js';

export const MARK_AT = 4 * 1024 * 1024;

/** VM's serial console once its guest has booted (it prints KILN-GUEST-READY; within 120 s). */
export async function bootedConsole(z: KvmZone, vm: string): Promise<ConsoleTap> {
  const tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm));
  await tap.waitFor(/KILN-GUEST-READY/, 120_000);
  return tap;
}

/** Shell lines in the guest, each awaited by a token it prints at its end (echoed input never matches it). */
export function guestShell() {
  let counter = 0;
  const run = async (tap: ConsoleTap, line: string) => {
    counter += 1;
    const token = `END-$((${counter}+5000))`;
    await tap.runPatiently(`${line}; echo ${token}`, new RegExp(`END-${counter + 5000}`), 90_000);
  };
  return {
    run,
    /** Writes marker LETTER into DEVICE and syncs it. */
    mark: (tap: ConsoleTap, letter: string, device = 'vda') => run(tap, `printf KILN-MARK-${letter} | dd of=/dev/${device} bs=1 seek=${MARK_AT} conv=notrunc 2>/dev/null; sync`),
    /** The letter of the marker DEVICE holds. */
    read: async (tap: ConsoleTap, device = 'vda') => (await tap.runPatiently(`dd if=/dev/${device} bs=1 skip=${MARK_AT} count=11 2>/dev/null; echo`, /KILN-MARK-([A-Z])/, 60_000))[1],
  };
}
