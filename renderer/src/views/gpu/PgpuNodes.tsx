/**
 * The physical GPUs of one group on one host (listHosts' vgpu[].pgpu[], Kiln's addition): each
 * pGPU by its PCI address, with each vGPU type's remaining against maximum slots on it as a bar
 * and the VMs whose vGPU it holds. xapi keeps a pGPU to one type at a time (K1/K2 vGPUs are
 * homogeneous), so a pGPU holding a K140Q shows no free K100 slot.
 */
import type { GpuGroup, GpuHost, GpuResident, Vgpu } from '../../api/gpu';
import { CapacityBar } from './CapacityBar';

/** One type's share of one physical GPU. */
interface PgpuShare {
  pciaddress: string;
  remainingcapacity: number;
  maxcapacity: number;
  virtualmachineids: string[];
}
type VgpuWithPgpus = Vgpu & { pgpu?: PgpuShare[] };

/** Address → the types it offers with their share, in the group's type order. */
function byPgpu(group: GpuGroup): Map<string, { vgputype: string; share: PgpuShare }[]> {
  const out = new Map<string, { vgputype: string; share: PgpuShare }[]>();
  for (const v of group.vgpu as VgpuWithPgpus[]) {
    for (const share of v.pgpu ?? []) out.set(share.pciaddress, [...(out.get(share.pciaddress) ?? []), { vgputype: v.vgputype, share }]);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

export function PgpuNodes({ host, group, residents }: { host: GpuHost; group: GpuGroup; residents: GpuResident[] }) {
  const pgpus = byPgpu(group);
  if (pgpus.size === 0) return null;
  return (
    <div className="gpu-pgpus">
      {[...pgpus].map(([address, types]) => {
        const vms = [...new Set(types.flatMap((t) => t.share.virtualmachineids))];
        return (
          <details key={address} className="gpu-pgpu" open role="group" aria-label={`pGPU ${address} on ${host.name}`} data-pgpu={address}>
            <summary>
              <span className="gpu-pgpu-name">pGPU {address}</span>
              <span className="muted small">
                {' '}
                · {vms.length === 0 ? 'idle' : `${vms.length} VM${vms.length === 1 ? '' : 's'}`}
              </span>
            </summary>
            <table className="plain-table gpu-types" aria-label={`vGPU types of pGPU ${address} on ${host.name}`}>
              <thead>
                <tr>
                  <th>vGPU type</th>
                  <th>Free on this GPU</th>
                  <th>Resident VMs</th>
                </tr>
              </thead>
              <tbody>
                {types.map(({ vgputype, share }) => (
                  <tr key={vgputype} data-vgpu={vgputype}>
                    <td className="nowrap">{vgputype}</td>
                    <td className="nowrap">
                      <CapacityBar remaining={share.remainingcapacity} max={share.maxcapacity} label={`${vgputype} remaining on pGPU ${address} of ${host.name}`} />
                    </td>
                    <td className="gpu-residents">
                      {share.virtualmachineids.length === 0 ? (
                        <span className="muted">none</span>
                      ) : (
                        <ul>
                          {share.virtualmachineids.map((id) => {
                            const r = residents.find((x) => x.virtualmachineid === id);
                            return <li key={id}>{r ? <a href={`#/vms/${encodeURIComponent(id)}/overview`}>{r.displayname}</a> : <span className="muted">a VM Kiln does not manage ({id})</span>}</li>;
                          })}
                        </ul>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        );
      })}
    </div>
  );
}
