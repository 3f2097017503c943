/**
 * Network discovery for an endpoint Kiln has not added (R52: the UI's `kiln discover-networks`):
 * the drivers that can (listHypervisorCapabilities' networkdiscovery, never a hypervisor's name),
 * the endpoint's URL and credentials, its certificate read first and confirmed (the add-cluster
 * dialog's trust step, useEndpointTrust), then discoverEndpointNetworks lists every network with a
 * VM: cluster, host, portgroup, switch, VLAN and the VMs. Each VLAN is matched against the zone's
 * networks; the missing ones are created here (createNetwork, named after their portgroup). The
 * password is sent for that one read and kept nowhere else.
 */
import { useState, type FormEvent } from 'react';
import { kiln } from '../../transport';
import { listOf, shownError, type ShownError } from '../../api/model';
import { useApiList } from '../../api/use-api-list';
import { Modal, ApiErrorText } from '../../components/Modal';
import { TrustCheck } from '../../components/TrustCheck';
import { SelectField, TextField } from '../../components/FormFields';
import { trustWords, useEndpointTrust } from '../../components/endpoint-trust';
import { useConnectionForms } from '../hosts/AddEndpointDialog';
import { createNetworkFromDiscovery, missingVlans, networksOnVlan, useZoneNetworks } from './missing-networks';

interface DiscoveredNetwork {
  clustername: string;
  hostname: string;
  portgroup: string;
  switchtype: string;
  switchname: string;
  vlan?: number;
  /** The portgroup's private (secondary) VLAN, when it is a PVLAN portgroup. */
  isolatedpvlan?: number;
  virtualmachine?: { name: string; powerstate: string; nic?: { id: string; macaddress: string }[] }[];
}

const vlanText = (vlan: number, pvlan?: number) => (pvlan === undefined ? `VLAN ${vlan}` : `VLAN ${vlan}, private VLAN ${pvlan}`);

export function DiscoverNetworksDialog({ zoneid: initialZone, onClose, onCreated }: { zoneid: string; onClose(): void; onCreated(): void }) {
  const forms = (useConnectionForms() ?? []).filter((f) => f.networkdiscovery);
  const zones = useApiList<{ id: string; name: string }>('listZones', 'zone', {});
  const [zoneid, setZoneid] = useState(initialZone);
  const [hypervisor, setHypervisor] = useState('');
  const chosen = hypervisor || (forms.length === 1 ? forms[0]!.hypervisor : '');
  const form = forms.find((f) => f.hypervisor === chosen);
  const [url, setUrl] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [cluster, setCluster] = useState('');
  const trust = useEndpointTrust();
  const [found, setFound] = useState<DiscoveredNetwork[]>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError>();
  const [version, setVersion] = useState(0);
  const networks = useZoneNetworks(zoneid || undefined, version);
  const [created, setCreated] = useState<string[]>([]);

  const discover = async (e: FormEvent) => {
    e.preventDefault();
    if (!trust.trusted) return;
    setBusy(true);
    setError(undefined);
    setFound(undefined);
    try {
      const r = await kiln.invoke('discoverEndpointNetworks', {
        hypervisor: chosen, url: trust.trusted.url, username: username.trim(), password, trustfingerprint: trust.trusted.fingerprint, ...(cluster.trim() ? { cluster: cluster.trim() } : {}),
      });
      setFound(listOf<DiscoveredNetwork>(r, 'discoverednetwork'));
    } catch (err) {
      setError(shownError(err));
    } finally {
      setBusy(false);
    }
  };

  const inKiln = (vlan: number, pvlan?: number) => networksOnVlan(vlan, networks.items, pvlan)[0];
  const missing = found ? missingVlans(found, (v, p) => inKiln(v, p) !== undefined) : [];
  const createMissing = async () => {
    setBusy(true);
    setError(undefined);
    const made: string[] = [];
    try {
      for (const m of missing) {
        await createNetworkFromDiscovery(zoneid, m.name, m.vlan, m.pvlan);
        made.push(`${m.name} (${vlanText(m.vlan, m.pvlan)})`);
      }
    } catch (err) {
      setError(shownError(err));
    } finally {
      setCreated((c) => [...c, ...made]);
      setVersion((v) => v + 1);
      setBusy(false);
      if (made.length > 0) onCreated();
    }
  };

  const filled = !!chosen && url.trim() !== '' && username.trim() !== '' && password !== '';
  const zoneName = zones.items.find((z) => z.id === zoneid)?.name;
  return (
    <Modal title="Discover an endpoint's networks" onClose={onClose} wide>
      <form className="dialog-form" onSubmit={(e) => void discover(e)} aria-label="Discover an endpoint's networks">
        <p className="hint">For a vCenter or host Kiln has not added yet: its networks with VMs, to create the missing ones before an import. Nothing is added and the password is not kept.</p>
        {forms.length === 0 && <p className="empty">No driver of this Kiln can discover an endpoint&apos;s networks.</p>}
        <SelectField label="Hypervisor" value={chosen} onChange={(h) => { setHypervisor(h); trust.resetTrust(); }} options={forms.map((f) => ({ id: f.hypervisor, name: f.hypervisor }))} required />
        <TextField label="Endpoint URL" value={url} onChange={(v) => { setUrl(v); trust.resetTrust(); }} placeholder={form?.connectionurlexample} hint={form?.connectionurlrule} mono spellCheck={false} required />
        <TextField label="Username" value={username} onChange={setUsername} autoComplete="off" required />
        <TextField label="Password" type="password" value={password} onChange={setPassword} autoComplete="new-password" required />
        <TextField label="Cluster (optional)" value={cluster} onChange={setCluster} hint="Only this cluster's networks; the URL's cluster, if it names one, otherwise." />
        <TrustCheck words={trustWords(form?.trustkind)} probe={trust.probe} probing={trust.probing} error={trust.probeError} disabled={!chosen || !url.trim()} onCheck={() => void trust.check(chosen, url)} confirmed={trust.confirmed} onConfirm={trust.setConfirmed} />
        <ApiErrorText error={error} prefix="Discovery failed:" />
        <div className="dialog-buttons">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" className="primary" disabled={busy || !filled || !trust.trusted}>
            {busy && !found ? 'Discovering…' : 'Discover networks'}
          </button>
        </div>
      </form>
      {found && (
        <section className="discovered" aria-label="Discovered networks">
          <SelectField label="Zone for new networks" value={zoneid} onChange={setZoneid} options={zones.items} required />
          {found.length === 0 && <p className="empty">The endpoint has no network with a VM.</p>}
          {found.length > 0 && (
            <table className="plain-table" aria-label="Discovered networks">
              <thead>
                <tr>
                  <th>Cluster</th>
                  <th>Host</th>
                  <th>Portgroup</th>
                  <th>Switch</th>
                  <th>VLAN</th>
                  <th>VMs</th>
                  <th>In Kiln{zoneName ? ` (${zoneName})` : ''}</th>
                </tr>
              </thead>
              <tbody>
                {found.map((n) => {
                  const have = n.vlan === undefined ? undefined : inKiln(n.vlan, n.isolatedpvlan);
                  return (
                    <tr key={`${n.clustername}/${n.hostname}/${n.portgroup}`} data-missing={n.vlan !== undefined && !have ? true : undefined}>
                      <td>{n.clustername}</td>
                      <td>{n.hostname}</td>
                      <td>{n.portgroup}</td>
                      <td>
                        {n.switchname || '—'} <span className="muted">({n.switchtype})</span>
                      </td>
                      <td>{n.vlan === undefined ? 'untagged' : n.isolatedpvlan === undefined ? n.vlan : `${n.vlan} (private ${n.isolatedpvlan})`}</td>
                      <td>{(n.virtualmachine ?? []).map((vm) => vm.name).join(', ')}</td>
                      <td>{n.vlan === undefined ? <span className="muted">untagged: map by hand</span> : have ? have.name : <span className="error">Missing</span>}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
          {created.length > 0 && <p role="status">Created {created.join(', ')}.</p>}
          <div className="dialog-buttons">
            <button type="button" className="primary" onClick={() => void createMissing()} disabled={busy || missing.length === 0 || !zoneid || networks.loading}>
              {missing.length === 0 ? 'No network missing' : `Create ${missing.length} missing network${missing.length === 1 ? '' : 's'}`}
            </button>
          </div>
        </section>
      )}
    </Modal>
  );
}
