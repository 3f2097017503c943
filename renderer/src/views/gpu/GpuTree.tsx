/** A host's GPU tree (group → vGPU type, then each physical GPU → vGPU type, with capacity bars and resident VMs) and a cluster's summary per group. */
import type { Cluster } from '../../api/model';
import { clusterSummary, pgpuCount, type GpuGroup, type GpuHost, type GpuResident, type Vgpu } from '../../api/gpu';
import { CapacityBar } from './CapacityBar';
import { PgpuNodes } from './PgpuNodes';

const MiB = 1024 * 1024;

/** A type's frame buffer, heads and resolution; pass-through (xapi reports zeros) is the whole GPU. */
function describeType(v: Vgpu): string {
  if (!v.videoram && !v.maxheads) return v.vgputype === 'passthrough' ? 'the whole physical GPU' : '—';
  return [v.videoram ? `${Math.round(v.videoram / MiB)} MiB` : undefined, v.maxheads ? `${v.maxheads} head${v.maxheads === 1 ? '' : 's'}` : undefined, v.maxresolutionx ? `${v.maxresolutionx}×${v.maxresolutiony}` : undefined]
    .filter(Boolean)
    .join(' · ');
}

export function HostGpuTree({ host, residents }: { host: GpuHost; residents: GpuResident[] }) {
  return (
    <details className="gpu-host" open data-host={host.name}>
      <summary>
        <strong>{host.name}</strong>{' '}
        <span className={`badge host-${host.state.toLowerCase()}`} data-state={host.state}>
          {host.state}
        </span>
        <span className="muted small">
          {' '}
          · {host.clustername} · {host.gpugroup!.length} GPU group{host.gpugroup!.length === 1 ? '' : 's'} · {residents.length} VM{residents.length === 1 ? '' : 's'} holding a GPU
        </span>
      </summary>
      {host.gpugroup!.map((g) => (
        <GroupNode key={g.gpugroupname} host={host} group={g} residents={residents.filter((r) => r.gpugroupname === g.gpugroupname)} />
      ))}
    </details>
  );
}

function GroupNode({ host, group, residents }: { host: GpuHost; group: GpuGroup; residents: GpuResident[] }) {
  const pgpus = pgpuCount(group);
  return (
    <details className="gpu-group" open role="group" aria-label={`${group.gpugroupname} on ${host.name}`}>
      <summary>
        <span className="gpu-group-name">{group.gpugroupname}</span>
        {pgpus !== undefined && (
          <span className="muted small">
            {' '}
            · {pgpus} physical GPU{pgpus === 1 ? '' : 's'}
          </span>
        )}
      </summary>
      <table className="plain-table gpu-types" aria-label={`vGPU types of ${group.gpugroupname} on ${host.name}`}>
        <thead>
          <tr>
            <th>vGPU type</th>
            <th>Remaining / maximum</th>
            <th>Per pGPU</th>
            <th>Frame buffer · heads · resolution</th>
            <th>Resident VMs</th>
          </tr>
        </thead>
        <tbody>
          {group.vgpu.map((v) => (
            <TypeRow key={v.vgputype} host={host} vgpu={v} residents={residents.filter((r) => r.vgputype === v.vgputype)} />
          ))}
        </tbody>
      </table>
      <PgpuNodes host={host} group={group} residents={residents} />
    </details>
  );
}

function TypeRow({ host, vgpu: v, residents }: { host: GpuHost; vgpu: Vgpu; residents: GpuResident[] }) {
  return (
    <tr data-vgpu={v.vgputype}>
      <td className="nowrap">
        <strong>{v.vgputype}</strong>
      </td>
      <td className="nowrap">
        <CapacityBar remaining={v.remainingcapacity} max={v.maxcapacity} label={`${v.vgputype} remaining on ${host.name}`} />
      </td>
      <td>{v.maxvgpuperpgpu ?? '—'}</td>
      <td className="small">{describeType(v)}</td>
      <td className="gpu-residents">
        {residents.length === 0 ? (
          <span className="muted">none</span>
        ) : (
          <ul>
            {residents.map((r) => (
              <li key={r.virtualmachineid}>
                <a href={`#/vms/${encodeURIComponent(r.virtualmachineid)}/overview`}>{r.displayname}</a> <span className="muted small">({r.state}, {r.serviceofferingname})</span>
              </li>
            ))}
          </ul>
        )}
      </td>
    </tr>
  );
}

/** One cluster's GPU groups: hosts and physical GPUs, and per type the remaining and maximum over all its hosts. */
export function ClusterGpuSummary({ cluster, hosts }: { cluster: Cluster; hosts: GpuHost[] }) {
  const groups = clusterSummary(cluster, hosts);
  if (groups.length === 0) return null;
  return (
    <div className="gpu-cluster" role="group" aria-label={`GPU summary of ${cluster.name}`}>
      <h3>{cluster.name}</h3>
      {groups.map((g) => (
        <div key={g.gpugroupname} className="gpu-cluster-group" data-group={g.gpugroupname}>
          <div className="gpu-group-name">
            {g.gpugroupname}{' '}
            <span className="muted small">
              · {g.hosts} host{g.hosts === 1 ? '' : 's'} · {g.pgpus} physical GPU{g.pgpus === 1 ? '' : 's'}
            </span>
          </div>
          <ul className="gpu-summary-types">
            {g.types.map((t) => (
              <li key={t.vgputype} data-vgpu={t.vgputype}>
                <span className="gpu-type-name">{t.vgputype}</span>
                <CapacityBar remaining={t.remainingcapacity} max={t.maxcapacity} label={`${t.vgputype} remaining in ${cluster.name}`} />
              </li>
            ))}
          </ul>
        </div>
      ))}
    </div>
  );
}
