/**
 * Pid records Kiln leaves on a host (the isolation watchdog's, a restore's), made exact. A pid
 * alone names a process only until it ends: after a host reboot (or once pids wrap) the same
 * number is some other process, possibly with the same name (another bash running a script of
 * that name, a qemu-img), which a check by name would kill or take for Kiln's own still running.
 * So a record holds the process's identity besides its pid: the boot it started in
 * (/proc/sys/kernel/random/boot_id) and its start time (field 22 of /proc/PID/stat, clock ticks
 * since boot), which no other process of that boot shares with the same pid. Kiln acts on a
 * recorded pid only when both still match.
 *
 * PID_RECORD is shell text (POSIX sh: the scripts that include it run under sh -c) defining
 *   kiln_pid_id PID      prints PID's identity, or "gone" when there is no such process
 *   kiln_pid_is PID ID   succeeds when PID is still the process recorded as ID
 * It is a constant, prepended to the constant scripts of shell.ts's script(); values still arrive
 * only as their positional parameters.
 */
export const PID_RECORD = `kiln_pid_id() {
  case $1 in ''|*[!0-9]*) echo gone; return 0 ;; esac
  # The command name (field 2) is in parentheses and may hold spaces or ")": fields are counted after its last ") ".
  kiln_start=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)
  kiln_boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)
  if [ -n "$kiln_start" ] && [ -n "$kiln_boot" ]; then echo "$kiln_boot:$kiln_start"; else echo gone; fi
}
kiln_pid_is() { [ -n "$2" ] && [ "$2" != gone ] && [ "$(kiln_pid_id "$1")" = "$2" ]; }
`;
