/**
 * The import wizard's other source (CloudStack 4.19's listVmsForImport / importVm
 * importsource=external): a host Kiln does not manage, of a hypervisor whose driver can reach one
 * (listHypervisorCapabilities' externalimport, never a hypervisor's name). The host is reached
 * with the credentials typed here, sent with each call and kept nowhere; the engine trusts its
 * key on first use and refuses a changed one until the admin gives the new fingerprint (shown
 * here with the old one by HostKeyChanged, which sends it as hostkeyfingerprint). The VMs'
 * disks are copied onto a host of the Kiln cluster chosen here, of the same hypervisor.
 */
import { useState } from 'react';
import type { ApiParams, KilnApiError } from '../../../../preload/api';
import { TextAreaField, TextField } from '../../components/FormFields';
import type { ConnectionForm } from '../hosts/AddEndpointDialog';
import type { HostKeyChange } from '../../api/host-key';

export interface ExternalHostForm {
  hypervisor: string;
  host: string;
  port: string;
  username: string;
  password: string;
  privatekey: string;
  hostkeyfingerprint: string;
}

export const EMPTY_EXTERNAL: ExternalHostForm = { hypervisor: '', host: '', port: '', username: 'root', password: '', privatekey: '', hostkeyfingerprint: '' };

/** The hypervisors whose driver lists and copies VMs from hosts Kiln does not manage. */
export const externalForms = (forms: ConnectionForm[] | undefined): ConnectionForm[] => (forms ?? []).filter((f) => (f as ConnectionForm & { externalimport?: boolean }).externalimport === true);

/** What keeps the source step from being complete. */
export function externalProblems(f: ExternalHostForm): string[] {
  const out: string[] = [];
  if (!f.host.trim()) out.push('Give the host name or IP address of the host to import from.');
  if (f.port.trim() && !/^\d+$/.test(f.port.trim())) out.push('The SSH port is a number.');
  if (!f.password && !f.privatekey.trim()) out.push("Give the password (or a private key) of the host's user.");
  return out;
}

/** How listVmsForImport and importVm reach the host (empty fields left out: the engine's defaults). */
export function externalParams(f: ExternalHostForm, zoneid: string): ApiParams {
  const p: ApiParams = { zoneid, hypervisor: f.hypervisor, host: f.host.trim() };
  if (f.port.trim()) p['port'] = f.port.trim();
  if (f.username.trim()) p['username'] = f.username.trim();
  if (f.password) p['password'] = f.password;
  if (f.privatekey.trim()) p['privatekey'] = f.privatekey;
  if (f.hostkeyfingerprint.trim()) p['hostkeyfingerprint'] = f.hostkeyfingerprint.trim();
  return p;
}

export function ExternalHostFields({ value, onChange }: { value: ExternalHostForm; onChange(patch: Partial<ExternalHostForm>): void }) {
  return (
    <fieldset className="fieldset" aria-label="Host Kiln does not manage">
      <legend>The {value.hypervisor} host</legend>
      <TextField label="Host" value={value.host} onChange={(host) => onChange({ host })} placeholder="kvm-old.example.com" mono spellCheck={false} />
      <TextField label="SSH port" value={value.port} onChange={(port) => onChange({ port })} placeholder="22" />
      <TextField label="Username" value={value.username} onChange={(username) => onChange({ username })} autoComplete="off" />
      <TextField label="Password" type="password" value={value.password} onChange={(password) => onChange({ password })} autoComplete="new-password" hint="Sent with each call to the host and kept nowhere." />
      <TextAreaField label="Private key (instead of a password)" value={value.privatekey} onChange={(privatekey) => onChange({ privatekey })} rows={3} />
      <TextField
        label="Host key fingerprint" value={value.hostkeyfingerprint} onChange={(hostkeyfingerprint) => onChange({ hostkeyfingerprint })} placeholder="SHA256:…" mono spellCheck={false}
        hint="Leave empty: Kiln trusts the host's key on first contact and refuses a different one later. Give the new key's fingerprint (ssh-keygen -lf on the host) only when Kiln refused a changed key."
      />
    </fieldset>
  );
}

/** A refusal of the host's key (listVmsForImport's 534 with hostkeychanged): the engine's text and both fingerprints. */
export type ExternalKeyChange = HostKeyChange & { text: string };

export function externalKeyChange(error: unknown): ExternalKeyChange | undefined {
  const details = (error as Partial<KilnApiError> | undefined)?.details;
  if (details?.['hostkeychanged'] !== true) return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { text: text(details['errortext']) ?? '', pinned: text(details['pinnedhostkeyfingerprint']), presented: text(details['presentedhostkeyfingerprint']) };
}

/**
 * The engine refused the host because its SSH key is not the one Kiln pinned: the refusal, the
 * old and the new key, and a confirmation that sends the new key as hostkeyfingerprint.
 */
export function HostKeyChanged({ host, change, onTrust }: { host: string; change: ExternalKeyChange; onTrust(fingerprint: string): void }) {
  const [checked, setChecked] = useState(false);
  return (
    <section className="fieldset key-changed" aria-label="Host key changed">
      <h3>The SSH host key of {host} has changed</h3>
      <p className="error">{change.text}</p>
      <dl className="key-compare">
        <dt>Trusted until now</dt>
        <dd className="mono">{change.pinned ?? 'unknown'}</dd>
        <dt>Presented now</dt>
        <dd className="mono">{change.presented ?? 'unknown'}</dd>
      </dl>
      <p>
        Trust it only if you know why the key changed (the host was reinstalled or re-keyed) and you have read the new key <strong>on the host itself</strong>, with{' '}
        <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>. Otherwise someone may be intercepting the connection.
      </p>
      <label className="check">
        <input type="checkbox" checked={checked} onChange={(e) => setChecked(e.target.checked)} disabled={!change.presented} /> I read {change.presented ?? 'the new key'} on {host} itself
      </label>
      <p className="button-row">
        <button type="button" className="danger" disabled={!checked || !change.presented} onClick={() => change.presented && onTrust(change.presented)}>
          Trust the new key and list its VMs
        </button>
      </p>
    </section>
  );
}
