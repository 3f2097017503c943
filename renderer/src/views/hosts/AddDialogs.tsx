/**
 * Adding infrastructure: a zone, a pod in a zone, a KVM cluster in a pod, and a KVM host over
 * SSH. A host is added in two steps: probeHostKey reads the key the host presents and the admin
 * confirms it (compared out of band, e.g. on the host's console); addHost then pins exactly that
 * key (hostkeyfingerprint), so a different key at the first login is refused.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { shownError, type ShownError } from '../../api/model';
import { Modal, ApiErrorText } from '../../components/Modal';
import { useSubmit } from '../../components/use-submit';
import { SelectField, TextAreaField, TextField } from '../../components/FormFields';
import type { Infra } from './use-infra';
import { paramProblem, useApiCatalog } from '../../stores/api-catalog-store';
import { TrustCheck, type TrustWords } from '../../components/TrustCheck';

const SSH_HOST_KEY_WORDS: TrustWords = {
  title: 'SSH host key',
  intro: "Before Kiln logs in, check that the host presents its own key and not someone else's.",
  check: 'Check host key',
  again: 'Read the key again',
  reading: 'Reading the key…',
  errorPrefix: 'Could not read the host key:',
  presents: 'presents this SSH host key:',
  compare: (
    <>
      Compare it with the host&apos;s own key, read on the host itself (its console), e.g. <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>. Kiln will accept exactly this key and refuse any other.
    </>
  ),
  confirm: "The fingerprint matches the host's key",
};

interface DialogProps {
  infra: Infra;
  onClose(): void;
  onDone(): void;
}

function Buttons({ busy, label, busyLabel, onClose, disabled, title }: { busy: boolean; label: string; busyLabel: string; onClose(): void; disabled?: boolean; title?: string }) {
  return (
    <div className="dialog-buttons">
      <button type="button" onClick={onClose}>
        Cancel
      </button>
      <button type="submit" className="primary" disabled={busy || disabled} title={title}>
        {busy ? busyLabel : label}
      </button>
    </div>
  );
}

export function AddZoneDialog({ onClose, onDone }: DialogProps) {
  const [name, setName] = useState('');
  const { busy, error, run } = useSubmit(onDone);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await kiln.invoke('createZone', { name: name.trim() });
      return `Zone ${name.trim()} created`;
    });
  };
  return (
    <Modal title="Add a zone" onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        <TextField label="Zone name" value={name} onChange={setName} required />
        <ApiErrorText error={error} />
        <Buttons busy={busy} label="Create zone" busyLabel="Creating…" onClose={onClose} disabled={!name.trim()} />
      </form>
    </Modal>
  );
}

export function AddPodDialog({ infra, onClose, onDone }: DialogProps) {
  const [zoneid, setZoneid] = useState(infra.zones.length === 1 ? infra.zones[0]!.id : '');
  const [name, setName] = useState('');
  const { busy, error, run } = useSubmit(onDone);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await kiln.invoke('createPod', { name: name.trim(), zoneid });
      return `Pod ${name.trim()} created`;
    });
  };
  return (
    <Modal title="Add a pod" onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        <SelectField label="Zone" value={zoneid} onChange={setZoneid} options={infra.zones} required />
        <TextField label="Pod name" value={name} onChange={setName} required />
        <ApiErrorText error={error} />
        <Buttons busy={busy} label="Create pod" busyLabel="Creating…" onClose={onClose} disabled={!name.trim() || !zoneid} />
      </form>
    </Modal>
  );
}

export function AddClusterDialog({ infra, onClose, onDone }: DialogProps) {
  const [zoneid, setZoneid] = useState(infra.zones.length === 1 ? infra.zones[0]!.id : '');
  const [podid, setPodid] = useState('');
  const [name, setName] = useState('');
  const { busy, error, run } = useSubmit(onDone);
  const pods = infra.pods.filter((p) => p.zoneid === zoneid);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await kiln.invoke('addCluster', { clustername: name.trim(), zoneid, podid, hypervisor: 'KVM' });
      return `Cluster ${name.trim()} created`;
    });
  };
  return (
    <Modal title="Add a KVM cluster" onClose={onClose}>
      <form className="dialog-form" onSubmit={submit}>
        <SelectField label="Zone" value={zoneid} onChange={(z) => { setZoneid(z); setPodid(''); }} options={infra.zones} required />
        <SelectField label="Pod" value={podid} onChange={setPodid} options={pods} required placeholder={zoneid && pods.length === 0 ? 'This zone has no pod yet' : 'Choose…'} />
        <TextField label="Cluster name" value={name} onChange={setName} required />
        <div className="form-row">
          <span>Hypervisor</span>
          <span>KVM</span>
        </div>
        <ApiErrorText error={error} />
        <Buttons busy={busy} label="Create cluster" busyLabel="Creating…" onClose={onClose} disabled={!name.trim() || !podid} />
      </form>
    </Modal>
  );
}

/** Why an addHost failed, in a heading above the engine's own words. */
function addHostProblem(code: number | undefined): string {
  if (code === 534) return 'Kiln could not add the host: it is unreachable, refused the login, or is not a usable KVM host.';
  if (code === 431) return 'The engine refused a parameter.';
  if (code === 531 || code === 432) return 'You may not add hosts.';
  return 'The host was not added.';
}

/**
 * The hypervisors whose hosts this dialog adds: one host per URL, trusted by its SSH host key, as
 * listHypervisorCapabilities publishes each driver's connection form (never a hypervisor's name).
 * Undefined until the engine has answered.
 */
function useSshHostHypervisors(): Set<string> | undefined {
  const [kinds, setKinds] = useState<Set<string>>();
  useEffect(() => {
    let live = true;
    kiln
      .invoke('listHypervisorCapabilities', {})
      .then((r) => {
        const caps = (r['hypervisorCapabilities'] ?? []) as { hypervisor: string; connectionadds?: string; trustkind?: string }[];
        if (live) setKinds(new Set(caps.filter((c) => c.connectionadds === 'host' && c.trustkind === 'ssh-host-key').map((c) => c.hypervisor.toLowerCase())));
      })
      .catch(() => live && setKinds(new Set()));
    return () => {
      live = false;
    };
  }, []);
  return kinds;
}

export function AddHostDialog({ infra, onClose, onDone }: DialogProps) {
  const sshHypervisors = useSshHostHypervisors();
  const kvmClusters = infra.clusters.filter((c) => sshHypervisors?.has((c.hypervisortype ?? '').toLowerCase()));
  const [clusterid, setClusterid] = useState('');
  // With one cluster to choose from, it is chosen.
  const onlyCluster = kvmClusters.length === 1 ? kvmClusters[0]!.id : undefined;
  useEffect(() => {
    if (onlyCluster && !clusterid) setClusterid(onlyCluster);
  }, [onlyCluster, clusterid]);
  const [url, setUrl] = useState('');
  const [username, setUsername] = useState('root');
  const [auth, setAuth] = useState<'key' | 'password'>('key');
  const [privatekey, setPrivatekey] = useState('');
  const [password, setPassword] = useState('');
  const [hosttags, setHosttags] = useState('');
  const [probe, setProbe] = useState<{ url: string; fingerprint: string }>();
  const [probing, setProbing] = useState(false);
  const [probeError, setProbeError] = useState<ShownError>();
  const [confirmed, setConfirmed] = useState(false);
  const { busy, error, run } = useSubmit(onDone);
  const cluster = kvmClusters.find((c) => c.id === clusterid);
  const apis = useApiCatalog((s) => s.apis);
  // probeHostKey's url rule, as listApis declares it.
  const urlProblem = paramProblem(apis, 'probeHostKey', 'url', url.trim());

  const changeUrl = (value: string) => {
    setUrl(value);
    // A new address needs a new look at its key.
    setProbe(undefined);
    setConfirmed(false);
    setProbeError(undefined);
  };

  const checkKey = async () => {
    setProbing(true);
    setProbeError(undefined);
    setProbe(undefined);
    setConfirmed(false);
    try {
      const r = await kiln.invoke('probeHostKey', { url: url.trim() });
      const key = r['hostkey'] as { url: string; fingerprint: string };
      setProbe({ url: key.url, fingerprint: key.fingerprint });
    } catch (e) {
      setProbeError(shownError(e));
    } finally {
      setProbing(false);
    }
  };

  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!probe || !confirmed || !cluster) return;
    void run(async () => {
      const r = await kiln.invoke('addHost', {
        zoneid: cluster.zoneid, podid: cluster.podid, clusterid: cluster.id, hypervisor: cluster.hypervisortype ?? '', url: probe.url, username: username.trim() || 'root',
        ...(auth === 'key' ? { privatekey } : { password }),
        hosttags: hosttags.trim() || undefined,
        hostkeyfingerprint: probe.fingerprint,
      });
      const host = r['host'] as { name?: string; state?: string } | undefined;
      return `Host ${host?.name ?? probe.url} added${host?.state ? ` (${host.state})` : ''}`;
    });
  };

  const credentials = auth === 'key' ? privatekey.trim() !== '' : password !== '';
  // No cluster to add the host to: nothing here can be filled in yet, and the dialog says why.
  const noCluster = sshHypervisors !== undefined && kvmClusters.length === 0 ? 'No KVM cluster yet: add one first (Add cluster), then add its hosts here.' : undefined;
  return (
    <Modal title="Add a KVM host" onClose={onClose} wide>
      <form className="dialog-form" onSubmit={add} aria-label="Add a KVM host">
        {noCluster && (
          <p className="note" role="note" data-no-cluster>
            {noCluster}
          </p>
        )}
        <fieldset className="bare-fieldset" disabled={!!noCluster}>
          <SelectField
            label="Cluster"
            value={clusterid}
            onChange={setClusterid}
            options={kvmClusters.map((c) => ({ id: c.id, name: `${c.name} (${infra.zones.find((z) => z.id === c.zoneid)?.name ?? '?'} / ${c.podname ?? '?'})` }))}
            placeholder={!sshHypervisors ? 'Loading…' : kvmClusters.length === 0 ? 'No KVM cluster yet' : 'Choose…'}
            required
          />
          <TextField label="Address (URL)" value={url} onChange={changeUrl} placeholder="ssh://10.0.0.5 or ssh://host:2222" problem={urlProblem} mono spellCheck={false} required />
          <TextField label="Username" value={username} onChange={setUsername} autoComplete="off" />
          <fieldset className="fieldset radio-row">
            <legend>Log in with</legend>
            <label>
              <input type="radio" name="host-auth" checked={auth === 'key'} onChange={() => setAuth('key')} /> Private key
            </label>
            <label>
              <input type="radio" name="host-auth" checked={auth === 'password'} onChange={() => setAuth('password')} /> Password
            </label>
        </fieldset>
        {auth === 'key' ? (
          <TextAreaField label="Private key" value={privatekey} onChange={setPrivatekey} placeholder="-----BEGIN OPENSSH PRIVATE KEY-----" hint="OpenSSH or PEM; Kiln stores it encrypted." />
        ) : (
          <TextField label="Password" type="password" value={password} onChange={setPassword} autoComplete="new-password" />
        )}
        <TextField label="Host tags (optional)" value={hosttags} onChange={setHosttags} placeholder="ssd, gpu" hint="Comma-separated; offerings with host tags only use hosts that have them." />

        <TrustCheck
          words={SSH_HOST_KEY_WORDS} probe={probe} probing={probing} error={probeError} disabled={!url.trim() || urlProblem !== undefined}
          onCheck={() => void checkKey()} confirmed={confirmed} onConfirm={setConfirmed}
        />
        </fieldset>
        {error && (
          <div role="alert" className="error-panel form-error">
            <h3>{addHostProblem(error.code)}</h3>
            <p>
              {error.code !== undefined && <span className="error-code">{error.code}: </span>}
              {error.text}
            </p>
          </div>
        )}
        <Buttons busy={busy} label="Add host" busyLabel="Adding… (connecting to the host)" onClose={onClose} disabled={!probe || !confirmed || !cluster || !credentials} title={noCluster} />
      </form>
    </Modal>
  );
}
