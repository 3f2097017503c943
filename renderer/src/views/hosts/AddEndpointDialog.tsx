/**
 * Adding a cluster from an endpoint that holds one (a vCenter cluster: every ESXi host behind it
 * becomes a host), with the same command as the API: addCluster hypervisor=… url=… username=…
 * password=…. The form is the driver's, as listHypervisorCapabilities publishes it (which
 * hypervisors add a cluster per URL, the URL's example and rule, the credentials, what the
 * endpoint is trusted by); nothing here names a hypervisor. The trust step is the KVM host-key
 * flow's: probeEndpointTrust reads the certificate's SHA-256 thumbprint without sending
 * credentials, the admin confirms it, and addCluster pins exactly that one (trustfingerprint).
 */
import { useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { Modal } from '../../components/Modal';
import { TrustCheck } from '../../components/TrustCheck';
import { trustWords, useEndpointTrust } from '../../components/endpoint-trust';
import { useSubmit } from '../../components/use-submit';
import { SelectField, TextField } from '../../components/FormFields';
import type { Infra } from './use-infra';

/** A driver's connection form, as listHypervisorCapabilities publishes it. */
export interface ConnectionForm {
  hypervisor: string;
  connectionadds?: string;
  connectionurlexample?: string;
  connectionurlrule?: string;
  connectioncredentials?: string;
  trustkind?: string;
  /** The driver reads an endpoint's networks before it is added (discoverEndpointNetworks). */
  networkdiscovery?: boolean;
}

/** The connection forms of every driver; undefined until the engine has answered. */
export function useConnectionForms(): ConnectionForm[] | undefined {
  const [forms, setForms] = useState<ConnectionForm[]>();
  useEffect(() => {
    let live = true;
    kiln
      .invoke('listHypervisorCapabilities', {})
      .then((r) => live && setForms((r['hypervisorCapabilities'] ?? []) as ConnectionForm[]))
      .catch(() => live && setForms([]));
    return () => {
      live = false;
    };
  }, []);
  return forms;
}

/** The forms whose one URL adds a whole cluster (the button shows only when there is one). */
export const clusterEndpointForms = (forms: ConnectionForm[] | undefined): ConnectionForm[] => (forms ?? []).filter((f) => f.connectionadds === 'cluster');

function problemHeading(code: number | undefined): string {
  if (code === 534) return 'Kiln could not add the cluster: the endpoint is unreachable or refused the login.';
  if (code === 431) return 'The engine refused a parameter.';
  if (code === 531 || code === 432) return 'You may not add clusters.';
  return 'The cluster was not added.';
}

export function AddEndpointClusterDialog({ infra, forms, onClose, onDone }: { infra: Infra; forms: ConnectionForm[]; onClose(): void; onDone(): void }) {
  const [hypervisor, setHypervisor] = useState(forms.length === 1 ? forms[0]!.hypervisor : '');
  const form = forms.find((f) => f.hypervisor === hypervisor);
  const [zoneid, setZoneid] = useState(infra.zones.length === 1 ? infra.zones[0]!.id : '');
  const pods = infra.pods.filter((p) => p.zoneid === zoneid);
  const [podid, setPodid] = useState('');
  useEffect(() => {
    if (!podid && pods.length === 1) setPodid(pods[0]!.id);
  }, [podid, pods]);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const { probe, probing, probeError, confirmed, setConfirmed, resetTrust, check: checkTrust } = useEndpointTrust();
  const { busy, error, run } = useSubmit(onDone);
  const words = trustWords(form?.trustkind);
  // "username+password" or "password or privatekey": the first group is what this dialog asks for.
  const credentials = (form?.connectioncredentials ?? 'username+password').split(' or ')[0]!.split('+');

  const check = () => checkTrust(hypervisor, url);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!probe || !confirmed) return;
    void run(async () => {
      await kiln.invoke('addCluster', {
        zoneid, podid, clustername: name.trim(), hypervisor, url: probe.url,
        ...(credentials.includes('username') ? { username: username.trim() } : {}),
        ...(credentials.includes('password') ? { password } : {}),
        trustfingerprint: probe.fingerprint,
      });
      const hosts = (await kiln.invoke('listHosts', {})) as Record<string, unknown>;
      const count = ((hosts['host'] ?? []) as { clustername?: string }[]).filter((h) => h.clustername === name.trim()).length;
      return `Cluster ${name.trim()} added with ${count} host${count === 1 ? '' : 's'}`;
    });
  };

  const filled = !!hypervisor && !!podid && name.trim() !== '' && url.trim() !== '' && (!credentials.includes('username') || username.trim() !== '') && (!credentials.includes('password') || password !== '');
  const title = form ? `Add a ${form.hypervisor} cluster` : 'Add a cluster from an endpoint';
  return (
    <Modal title={title} onClose={onClose} wide>
      <form className="dialog-form" onSubmit={submit} aria-label={title}>
        <SelectField label="Hypervisor" value={hypervisor} onChange={(h) => { setHypervisor(h); resetTrust(); }} options={forms.map((f) => ({ id: f.hypervisor, name: f.hypervisor }))} required />
        <SelectField label="Zone" value={zoneid} onChange={(z) => { setZoneid(z); setPodid(''); }} options={infra.zones} required />
        <SelectField label="Pod" value={podid} onChange={setPodid} options={pods} required placeholder={zoneid && pods.length === 0 ? 'This zone has no pod yet' : 'Choose…'} />
        <TextField label="Cluster name (in Kiln)" value={name} onChange={setName} required />
        <TextField
          label="Endpoint URL" value={url} onChange={(v) => { setUrl(v); resetTrust(); }} placeholder={form?.connectionurlexample} hint={form?.connectionurlrule}
          mono spellCheck={false} required
        />
        {credentials.includes('username') && <TextField label="Username" value={username} onChange={setUsername} autoComplete="off" required />}
        {credentials.includes('password') && <TextField label="Password" type="password" value={password} onChange={setPassword} autoComplete="new-password" required />}

        <TrustCheck words={words} probe={probe} probing={probing} error={probeError} disabled={!hypervisor || !url.trim()} onCheck={() => void check()} confirmed={confirmed} onConfirm={setConfirmed} />
        {error && (
          <div role="alert" className="error-panel form-error">
            <h3>{problemHeading(error.code)}</h3>
            <p>
              {error.code !== undefined && <span className="error-code">{error.code}: </span>}
              {error.text}
            </p>
          </div>
        )}
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !filled || !probe || !confirmed}>
            {busy ? 'Adding… (connecting to the endpoint)' : 'Add cluster'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
