/**
 * A VM's NICs (listVirtualMachines `nic`), with "Add a NIC" (addNicToVirtualMachine: a network of
 * the VM's zone, an optional IP address) and Remove on each NIC but the default one
 * (removeNicFromVirtualMachine, after a confirmation). Both are offered while the VM is in one of
 * the commands' listApis `vmstates`, and on a running VM only where its host has the capability
 * the commands publish (`nics`: it hot-plugs NICs); otherwise a note says why. The engine's 431
 * stays the final word and is shown as it came. The NICs are read again (listVirtualMachines)
 * when a NIC job is accepted and when it ends: a NIC change does not change the VM's own record.
 */
import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import type { Nic, Vm } from '../../api/model';
import { listOf } from '../../api/model';
import { kiln } from '../../transport';
import { appliesInState, hasApi, useApiCatalog } from '../../stores/api-catalog-store';
import { useConfirm } from '../../stores/confirm-store';
import { useHostCapabilityMap } from '../../stores/host-capabilities-store';
import { hostCanRun } from '../../actions/vm-actions';
import { ApiErrorText } from '../../components/Modal';
import { useSnapshotJob, type SnapshotJob } from './use-snapshot-job';

interface Network {
  id: string;
  name: string;
  type?: string;
}

/** The VM's NICs as listVirtualMachines has them now (the store's VM until the first read), and a reload. */
function useNics(vm: Vm): { nics: Nic[]; reload(): void } {
  const [nics, setNics] = useState<Nic[]>(vm.nic ?? []);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    kiln.invoke('listVirtualMachines', { id: vm.id, listall: true }).then(
      (r) => live && setNics(listOf<Vm>(r, 'virtualmachine')[0]?.nic ?? []),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [vm.id, generation]);
  return { nics, reload: useCallback(() => setGeneration((g) => g + 1), []) };
}

export function VmNics({ vm }: { vm: Vm }) {
  const apis = useApiCatalog((s) => s.apis);
  const hostCapabilities = useHostCapabilityMap(vm.hostid, hasApi(apis, 'listHosts'));
  const { nics, reload } = useNics(vm);
  const job = useSnapshotJob(reload);
  const vmName = vm.displayname || vm.name;
  const can = (command: string) => appliesInState(apis, command, vm.state) && hostCanRun(vm, apis, command, hostCapabilities);
  const add = can('addNicToVirtualMachine');
  const remove = can('removeNicFromVirtualMachine');
  const hostLacks = hasApi(apis, 'addNicToVirtualMachine') && appliesInState(apis, 'addNicToVirtualMachine', vm.state) && !add;

  const removeNic = async (nic: (typeof nics)[number]) => {
    const answer = await useConfirm.getState().ask({
      title: `Remove the NIC on ${nic.networkname} from ${vmName}?`,
      body: `NIC ${nic.macaddress}${nic.ipaddress ? ` (${nic.ipaddress})` : ''} leaves ${vmName}${vm.state === 'Running' ? ' at once' : ''}.`,
      choices: [{ value: 'cancel', label: 'Cancel' }, { value: 'go', label: 'Remove', danger: true }],
    });
    if (answer !== 'go') return;
    await job.run({
      command: 'removeNicFromVirtualMachine',
      params: { virtualmachineid: vm.id, nicid: nic.id },
      running: `Removing the NIC on ${nic.networkname}…`,
      done: () => `${vmName}: NIC on ${nic.networkname} removed`,
      failed: `NIC on ${nic.networkname} not removed`,
    });
  };

  return (
    <section className="vm-nics" aria-labelledby="vm-nics-title">
      <h2 id="vm-nics-title" className="visually-hidden">
        NICs
      </h2>
      {hostLacks && (
        <p className="note" role="note">
          NICs of {vmName} can be added or removed while it is stopped: its host cannot change the NICs of a running VM.
        </p>
      )}
      {add && <AddNicForm vm={vm} nics={nics} job={job} />}
      {job.running && (
        <p className="snapshot-job" role="status">
          {job.running.text}
        </p>
      )}
      <ApiErrorText error={job.error} prefix={job.error?.prefix} />
      {nics.length === 0 ? (
        <p className="empty">No NICs.</p>
      ) : (
        <table className="plain-table" aria-label="NICs">
          <thead>
            <tr>
              <th>Device</th>
              <th>Network</th>
              <th>Type</th>
              <th>IP</th>
              <th>MAC</th>
              <th>Gateway / netmask</th>
              <th>VLAN</th>
              <th>Default</th>
              {remove && <th aria-label="Actions" />}
            </tr>
          </thead>
          <tbody>
            {nics.map((n) => (
              <tr key={n.id} data-nic={n.networkname}>
                <td>{n.deviceid}</td>
                <td>{n.networkname}</td>
                <td>{n.type}</td>
                <td className="mono">{n.ipaddress ?? '—'}</td>
                <td className="mono">{n.macaddress}</td>
                <td className="mono">{n.gateway ? `${n.gateway} / ${n.netmask ?? ''}` : '—'}</td>
                <td>{n.broadcasturi ?? '—'}</td>
                <td>{n.isdefault ? 'Yes' : 'No'}</td>
                {remove && (
                  <td className="nowrap">
                    {!n.isdefault && (
                      <button type="button" className="danger" disabled={job.running !== undefined} aria-label={`Remove NIC on ${n.networkname}`} onClick={() => void removeNic(n)}>
                        Remove
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** "Add a NIC": a network of the VM's zone it has no NIC on, and an IP address (optional). */
function AddNicForm({ vm, nics, job }: { vm: Vm; nics: Nic[]; job: SnapshotJob }) {
  const id = useId();
  const [networks, setNetworks] = useState<Network[]>([]);
  const [networkId, setNetworkId] = useState('');
  const [ip, setIp] = useState('');
  useEffect(() => {
    kiln.invoke('listNetworks', { zoneid: vm.zoneid }).then(
      (r) => setNetworks(listOf<Network>(r, 'network')),
      () => setNetworks([]),
    );
  }, [vm.zoneid]);
  const onNetworks = new Set(nics.map((n) => n.networkid));
  const choices = networks.filter((n) => !onNetworks.has(n.id));
  const network = choices.find((n) => n.id === networkId);
  const vmName = vm.displayname || vm.name;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!network) return;
    const ok = await job.run({
      command: 'addNicToVirtualMachine',
      params: { virtualmachineid: vm.id, networkid: network.id, ipaddress: ip.trim() || undefined },
      running: `Adding a NIC on ${network.name} to ${vmName}…`,
      done: () => `${vmName}: NIC on ${network.name} added`,
      failed: `NIC on ${network.name} not added`,
    });
    if (ok) {
      setNetworkId('');
      setIp('');
    }
  };

  return (
    <form className="snapshot-form nic-form" aria-label="Add a NIC" onSubmit={(e) => void submit(e)}>
      <label className="inline-label" htmlFor={`${id}-network`}>
        Network
      </label>
      <select id={`${id}-network`} value={networkId} onChange={(e) => setNetworkId(e.target.value)}>
        <option value="">Choose…</option>
        {choices.map((n) => (
          <option key={n.id} value={n.id}>
            {n.name}
          </option>
        ))}
      </select>
      <label className="inline-label" htmlFor={`${id}-ip`}>
        IP address
      </label>
      <input id={`${id}-ip`} value={ip} placeholder="(first free)" onChange={(e) => setIp(e.target.value)} />
      <button type="submit" className="primary" disabled={job.running !== undefined || !network}>
        {job.running ? 'Working…' : 'Add NIC'}
      </button>
    </form>
  );
}
