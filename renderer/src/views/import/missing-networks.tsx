/**
 * The import wizard's missing networks (R51 step 4, R52): a NIC whose VLAN no L2 or shared network
 * of the zone is on is offered "create network from discovery" (createNetwork with the NIC's VLAN,
 * named after its portgroup), and a `kiln discover-networks --format csv` file can be loaded to
 * create every missing network at once (createNetworksFromCsv, which checks the whole file
 * first). Either way the NICs left unmapped are then mapped by VLAN, the way the wizard pre-fills
 * them (prefillNicNetworks), so a created network is the one the import uses.
 */
import { useEffect, useRef, useState } from 'react';
import { kiln } from '../../transport';
import { listOf, shownError, type ShownError } from '../../api/model';
import { prefillNicNetworks, vlanMatches, type ImportNetwork, type UnmanagedNic, type UnmanagedVm, type VmChoices } from '../../api/import-plan';
import { ApiErrorText } from '../../components/Modal';
import '../../styles/import.css';

/** The zone's networks; VERSION reloads them (after networks were created) and says which load the items are from. */
export function useZoneNetworks(zoneid: string | undefined, version: number): { items: ImportNetwork[]; loading: boolean; error?: string; version?: number } {
  const [state, setState] = useState<{ items: ImportNetwork[]; loading: boolean; error?: string; version?: number }>({ items: [], loading: zoneid !== undefined });
  useEffect(() => {
    if (!zoneid) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    kiln.invoke('listNetworks', { zoneid }).then(
      (r) => live && setState({ items: listOf<ImportNetwork>(r, 'network'), loading: false, version }),
      (e: unknown) => live && setState({ items: [], loading: false, error: shownError(e).text, version }),
    );
    return () => {
      live = false;
    };
  }, [zoneid, version]);
  return state;
}

/** The networks on VLAN (L2 or shared), by the wizard's own VLAN rule. */
/** The zone's networks on VLAN (and private VLAN PVLAN, or none), as the engine maps a NIC on them. */
export const networksOnVlan = (vlan: number | undefined, networks: ImportNetwork[], pvlan?: number): ImportNetwork[] => vlanMatches({ id: '', macaddress: '', vlanid: vlan, isolatedpvlan: pvlan }, networks);

/** A network Kiln would create for a NIC or portgroup: named after the portgroup, else after its VLAN. */
export const discoveryName = (portgroup: string | undefined, vlan: number): string => portgroup?.trim() || `VLAN ${vlan}`;

/** One network to create per missing VLAN (with its private VLAN, if any): the first portgroup on it names it. */
export function missingVlans(found: { portgroup: string; vlan?: number; isolatedpvlan?: number }[], inKiln: (vlan: number, pvlan?: number) => boolean): { vlan: number; pvlan?: number; name: string }[] {
  const out = new Map<string, { vlan: number; pvlan?: number; name: string }>();
  for (const n of found) {
    const key = `${n.vlan}/${n.isolatedpvlan ?? ''}`;
    if (n.vlan !== undefined && !inKiln(n.vlan, n.isolatedpvlan) && !out.has(key)) out.set(key, { vlan: n.vlan, pvlan: n.isolatedpvlan, name: discoveryName(n.portgroup, n.vlan) });
  }
  return [...out.values()].sort((a, b) => a.vlan - b.vlan || (a.pvlan ?? 0) - (b.pvlan ?? 0));
}

/** createNetwork for a discovered VLAN (and private VLAN PVLAN): an L2 network (Kiln hands out no addresses on it); its id. */
export async function createNetworkFromDiscovery(zoneid: string, name: string, vlan: number, pvlan?: number): Promise<string> {
  const onVlan = pvlan === undefined ? `VLAN ${vlan}` : `VLAN ${vlan}, private VLAN ${pvlan}`;
  const r = await kiln.invoke('createNetwork', { zoneid, name, displaytext: `${name} (${onVlan}, from discovery)`, guestiptype: 'L2', vlan: String(vlan), ...(pvlan !== undefined ? { isolatedpvlan: String(pvlan) } : {}) });
  return String((r['network'] as { id: string }).id);
}

/** The NIC mappings each VM gains from NETWORKS: only NICs without a network get one, by VLAN. */
export function fillUnmapped(vms: UnmanagedVm[], choices: Record<string, VmChoices>, networks: ImportNetwork[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const vm of vms) {
    const have = choices[vm.name]?.nicNetworks ?? {};
    const set = Object.fromEntries(Object.entries(have).filter(([, id]) => id));
    const filled = { ...prefillNicNetworks(vm, networks), ...set };
    if (Object.keys(filled).some((nic) => filled[nic] !== have[nic])) out[vm.name] = filled;
  }
  return out;
}

/** The "create network from discovery" offer beside a NIC that no network of the zone matches by VLAN. */
export function CreateNicNetwork({ nic, zoneid, onCreated }: { nic: UnmanagedNic; zoneid: string; onCreated(networkId: string, vlan: number, pvlan?: number): void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError>();
  if (nic.vlanid === undefined) return null;
  const vlan = nic.vlanid;
  const name = discoveryName(nic.networkname, vlan);
  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await createNetworkFromDiscovery(zoneid, name, vlan, nic.isolatedpvlan), vlan, nic.isolatedpvlan);
    } catch (e) {
      setError(shownError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="create-network">
      <button type="button" onClick={() => void create()} disabled={busy || !zoneid}>
        {busy ? 'Creating…' : `Create network ${name} on VLAN ${vlan}${nic.isolatedpvlan !== undefined ? ` (private VLAN ${nic.isolatedpvlan})` : ''}`}
      </button>
      <ApiErrorText error={error} prefix={`Network ${name} was not created:`} />
    </span>
  );
}

interface NetworkCsvResult {
  total: number;
  created: number;
  skipped: number;
  row?: { line: number; name: string; vlan?: number; status: 'created' | 'skipped'; reason?: string }[];
}

/** Loads a discovery CSV and creates the networks it lists that the zone lacks (createNetworksFromCsv). */
export function DiscoveryCsv({ zoneid, onCreated }: { zoneid: string; onCreated(): void }) {
  const input = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<{ file: string; busy: boolean; result?: NetworkCsvResult; error?: ShownError }>();
  const load = async (file: File) => {
    setState({ file: file.name, busy: true });
    try {
      const r = await kiln.invoke('createNetworksFromCsv', { zoneid, csv: await file.text() });
      const result = (r['networkimport'] ?? r) as NetworkCsvResult;
      setState({ file: file.name, busy: false, result });
      onCreated();
    } catch (e) {
      setState({ file: file.name, busy: false, error: shownError(e) });
    }
  };
  return (
    <section className="discovery-csv" aria-label="Networks from a discovery CSV">
      <div className="csv-load">
        <button type="button" onClick={() => input.current?.click()} disabled={!zoneid || state?.busy}>
          Create networks from a discovery CSV
        </button>
        <input
          ref={input} type="file" accept=".csv,text/csv" hidden aria-label="Discovery CSV file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = '';
            if (file) void load(file);
          }}
        />
        <span className="hint">
          the file <span className="mono">kiln discover-networks --format csv</span> writes; the networks the zone lacks are created
        </span>
      </div>
      <ApiErrorText error={state?.error} prefix={state ? `${state.file} was refused; no network was created:` : undefined} />
      {state?.result && (
        <>
          <p role="status">
            {state.file}: {state.result.created} created, {state.result.skipped} already in Kiln, of {state.result.total}.
          </p>
          <table className="plain-table" aria-label="Networks from the CSV">
            <thead>
              <tr>
                <th>Line</th>
                <th>Network</th>
                <th>VLAN</th>
                <th>Result</th>
              </tr>
            </thead>
            <tbody>
              {(state.result.row ?? []).map((r) => (
                <tr key={r.line} data-result={r.status}>
                  <td>{r.line}</td>
                  <td>{r.name}</td>
                  <td>{r.vlan ?? 'untagged'}</td>
                  <td>{r.status === 'created' ? 'Created' : `Skipped: ${r.reason ?? ''}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
