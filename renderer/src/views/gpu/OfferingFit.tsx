/**
 * Where the GPU offerings fit now, and why not on a chosen host: both read the placement
 * explainer's verdict for each host (explainPlacement with zoneid and serviceofferingid, one
 * call per offering and zone), so the view never re-implements the GPU filter.
 */
import { useState } from 'react';
import type { HostVerdict, ServiceOffering } from '../../api/model';
import { offeringGpu, type GpuHost } from '../../api/gpu';
import { PlacementTable } from '../../components/PlacementTable';
import type { OfferingPlacement } from './use-gpu-data';

/** Every host verdict for an offering, over the zones it was asked for. */
function verdictsOf(placements: OfferingPlacement[], offeringId: string): { verdicts: Map<string, HostVerdict>; order: string[]; errors: string[] } {
  const verdicts = new Map<string, HostVerdict>();
  const order: string[] = [];
  const errors: string[] = [];
  for (const p of placements.filter((x) => x.offering.id === offeringId)) {
    for (const h of p.placement?.hosts ?? []) verdicts.set(h.hostName, h);
    order.push(...(p.placement?.order ?? []));
    if (p.error) errors.push(p.error);
  }
  return { verdicts, order, errors };
}

function gpuLabel(offering: ServiceOffering): string {
  const gpu = offeringGpu(offering)!;
  return `${gpu.vgpuType} in ${gpu.group}`;
}

export function OfferingFit({ offerings, placements, hosts }: { offerings: ServiceOffering[]; placements: OfferingPlacement[]; hosts: GpuHost[] }) {
  return (
    <section className="card" aria-labelledby="gpu-fit-title">
      <h2 id="gpu-fit-title">Where the GPU offerings fit</h2>
      {offerings.length === 0 ? (
        <p className="empty">No service offering asks for a GPU (serviceofferingdetails pciDevice and vgpuType).</p>
      ) : (
        <div className="table-scroll">
          <table className="plain-table gpu-fit" aria-label="GPU offerings by host">
            <thead>
              <tr>
                <th>Offering</th>
                {hosts.map((h) => (
                  <th key={h.id}>{h.name}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {offerings.map((o) => {
                const { verdicts, errors } = verdictsOf(placements, o.id);
                return (
                  <tr key={o.id} data-offering={o.name}>
                    <td>
                      <strong>{o.name}</strong>
                      <div className="muted small">{gpuLabel(o)}</div>
                      {errors.map((e) => (
                        <div key={e} className="error small">
                          {e}
                        </div>
                      ))}
                    </td>
                    {hosts.map((h) => {
                      const v = verdicts.get(h.name);
                      const fit = v ? (v.suitable ? 'fits' : 'refused') : 'not-asked';
                      return (
                        <td key={h.id} data-host={h.name} data-fit={fit} title={v?.reason}>
                          <span className={`badge gpu-fit-${fit}`}>{fit === 'fits' ? 'Fits' : fit === 'refused' ? 'No' : '—'}</span>
                        </td>
                      );
                    })}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function WhyNotHere({ offerings, placements, hosts }: { offerings: ServiceOffering[]; placements: OfferingPlacement[]; hosts: GpuHost[] }) {
  const [offeringId, setOfferingId] = useState<string>();
  const [hostName, setHostName] = useState<string>();
  const offering = offerings.find((o) => o.id === offeringId) ?? offerings[0];
  if (!offering) return null;
  const { verdicts, order } = verdictsOf(placements, offering.id);
  const host = hostName ?? [...verdicts.values()].find((v) => !v.suitable)?.hostName ?? hosts[0]?.name;
  const verdict = host ? verdicts.get(host) : undefined;
  const placement = placements.find((p) => p.offering.id === offering.id && p.placement?.hosts?.some((h) => h.hostName === host))?.placement;
  let answer: string;
  if (!host) answer = 'No host to ask about.';
  else if (!verdict) answer = `${host} was not considered for ${offering.name}: it is not in a zone with GPU hosts.`;
  else if (verdict.suitable) answer = `${offering.name} can start on ${host}${order.includes(host) ? ` (tried #${order.indexOf(host) + 1})` : ''}: it passes every filter.`;
  else answer = `${offering.name} would not start on ${host}: ${verdict.reason}`;
  return (
    <section className="card gpu-why" aria-labelledby="gpu-why-title">
      <h2 id="gpu-why-title">Why not here?</h2>
      <div className="gpu-why-pick">
        <label>
          Offering
          <select value={offering.id} onChange={(e) => setOfferingId(e.target.value)}>
            {offerings.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name} ({gpuLabel(o)})
              </option>
            ))}
          </select>
        </label>
        <label>
          Host
          <select value={host ?? ''} onChange={(e) => setHostName(e.target.value)}>
            {hosts.map((h) => (
              <option key={h.id} value={h.name}>
                {h.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className={verdict && !verdict.suitable ? 'gpu-why-answer refused' : 'gpu-why-answer'} role="status" aria-label="Placement answer" data-verdict={verdict ? (verdict.suitable ? 'suitable' : 'refused') : 'none'}>
        {answer}
      </p>
      {placement && <PlacementTable placement={placement} chosen={placement.hostname} label={`Placement of ${offering.name}`} />}
    </section>
  );
}
