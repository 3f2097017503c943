/**
 * A third host in the KVM test set, which Kiln is never told about: the "external" host of the
 * importsource=external tests. A set made with two hosts (CI's default) gets it from
 * `hosts.sh setup 3`, which is idempotent and leaves host1 and host2 as they are; the flock keeps
 * two test files that want it at once from running two setups side by side (-o: the daemons setup starts must not inherit, and so hold, the lock).
 */
import { execFileSync } from 'node:child_process';
import { HOSTS_JSON, HOSTS_SH, loadHosts, WORK, type HostEntry, type HostsJson } from '../kvm/real-hosts.js';

export function ensureThirdHost(): { hosts: HostsJson; external: HostEntry } {
  if ((loadHosts()?.hosts.length ?? 0) < 3) {
    // No pipe and no inherited descriptor: the daemons setup starts would hold it open, and the
    // test runner would wait for them at its end.
    execFileSync('flock', ['-o', `${WORK}/.setup3.lock`, 'sh', '-c', 'grep -q \'"name": "host3"\' "$1" || "$2" setup 3', 'sh', HOSTS_JSON, HOSTS_SH], { stdio: 'ignore' });
  }
  const hosts = loadHosts()!;
  return { hosts, external: hosts.hosts[2]! };
}
