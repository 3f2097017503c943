/**
 * The deploy wizard's appliance parts (R37–R38), for a template that is an OVA: the deployment
 * options (choosing one filters the offerings to those meeting its vCPUs and memory), the
 * properties as typed inputs (password fields masked, a choice list as a select, a flag as a
 * checkbox) checked with the engine's own rule, the EULA to accept, and one network per NIC of
 * the appliance. Everything comes from the template's published deploy-as-is details.
 */
import { useId } from 'react';
import type { ApplianceProperty } from '../../../../drivers/appliance-values';
import { checkApplianceValue } from '../../../../drivers/appliance-values';
import { chosenOption, propertyValue, type ApplianceView } from '../../api/appliance';
import type { Named } from '../../api/model';
import type { DeployDraft } from '../../stores/deploy-form-store';

type SetDraft = (patch: Partial<DeployDraft>) => void;

function PropertyInput({ p, value, onChange, showProblem }: { p: ApplianceProperty; value: string; onChange(v: string): void; showProblem: boolean }) {
  const id = useId();
  const label = p.label || p.key;
  const problem = showProblem && (value !== '' || p.minLength) ? checkApplianceValue(p, value) : undefined;
  const hint = [p.description, p.minLength ? `at least ${p.minLength} character${p.minLength === 1 ? '' : 's'}` : '', p.maxLength ? `at most ${p.maxLength}` : ''].filter(Boolean).join(' · ');
  if (p.type === 'boolean') {
    return (
      <label className="check" data-property={p.key}>
        <input type="checkbox" checked={value === 'true'} disabled={!p.userConfigurable} onChange={(e) => onChange(e.target.checked ? 'true' : 'false')} /> {label}
        {p.description && <span className="muted"> — {p.description}</span>}
      </label>
    );
  }
  return (
    <div className="form-row" data-property={p.key}>
      <label htmlFor={id}>{label}</label>
      {p.choices && p.choices.length > 0 ? (
        <select id={id} value={value} disabled={!p.userConfigurable} onChange={(e) => onChange(e.target.value)}>
          {!p.choices.includes(value) && <option value={value}>Choose…</option>}
          {p.choices.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      ) : (
        <input
          id={id} value={value} disabled={!p.userConfigurable} onChange={(e) => onChange(e.target.value)}
          type={p.password ? 'password' : p.type === 'int' || p.type === 'real' ? 'number' : 'text'} min={p.min} max={p.max}
          autoComplete={p.password ? 'new-password' : 'off'} aria-invalid={problem ? true : undefined} aria-describedby={`${id}-hint`}
        />
      )}
      <span id={`${id}-hint`} className={problem ? 'hint error' : 'hint'}>
        {problem ?? (p.userConfigurable ? hint : `${hint ? `${hint} · ` : ''}set by the appliance`)}
      </span>
    </div>
  );
}

/** Options, properties and EULA: shown on the Image step when the template is an appliance. */
export function ApplianceChoices({ appliance, draft, set, showProblems }: { appliance: ApplianceView; draft: DeployDraft; set: SetDraft; showProblems: boolean }) {
  const option = chosenOption(appliance, draft.configurationId);
  return (
    <section className="appliance" aria-label="Appliance settings">
      {appliance.options.length > 0 && (
        <fieldset className="fieldset offering-list">
          <legend>Deployment option</legend>
          {appliance.options.map((o) => (
            <label key={o.id} className={option?.id === o.id ? 'offering chosen' : 'offering'}>
              <input type="radio" name="configuration" checked={option?.id === o.id} onChange={() => set({ configurationId: o.id, serviceofferingid: '' })} />
              <span className="offering-name">{o.label}</span>
              <span className="offering-text muted">
                {o.cpuNumber ?? '?'} vCPU, {o.memory ?? '?'} MB{o.description ? ` — ${o.description}` : ''}
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {appliance.properties.length > 0 && (
        <fieldset className="fieldset">
          <legend>Properties</legend>
          {appliance.properties.map((p) => (
            <PropertyInput key={p.key} p={p} value={propertyValue(p, draft.properties)} showProblem={showProblems} onChange={(v) => set({ properties: { ...draft.properties, [p.key]: v } })} />
          ))}
        </fieldset>
      )}
      {appliance.eulas.map((e, i) => (
        <fieldset key={i} className="fieldset eula">
          <legend>{e.info || 'Licence agreement'}</legend>
          <pre className="eula-text" tabIndex={0} aria-label="Licence text" style={{ maxHeight: "12rem", overflow: "auto", whiteSpace: "pre-wrap" }}>
            {e.license}
          </pre>
        </fieldset>
      ))}
      {appliance.eulas.length > 0 && (
        <label className="check">
          <input type="checkbox" checked={draft.eulaAccepted} onChange={(e) => set({ eulaAccepted: e.target.checked })} /> I accept the licence agreement
        </label>
      )}
    </section>
  );
}

/** One network per NIC of the appliance: shown on the Network step instead of the checklist. */
export function ApplianceNetworks({ appliance, networks, draft, set }: { appliance: ApplianceView; networks: Named[]; draft: DeployDraft; set: SetDraft }) {
  return (
    <fieldset className="fieldset" aria-label="Appliance NICs">
      <legend>One network for each NIC of the appliance</legend>
      {appliance.nics.map((nic) => {
        const id = `appliance-nic-${nic.instanceID}`;
        return (
          <div key={nic.instanceID} className="form-row">
            <label htmlFor={id}>
              {nic.elementName || `NIC ${nic.index + 1}`} <span className="muted">(appliance network {nic.network}{nic.resourceSubType ? `, ${nic.resourceSubType}` : ''})</span>
            </label>
            <select id={id} value={draft.nicNetworks[nic.instanceID] ?? ''} onChange={(e) => set({ nicNetworks: { ...draft.nicNetworks, [nic.instanceID]: e.target.value } })}>
              <option value="">Choose…</option>
              {networks.map((n) => (
                <option key={n.id} value={n.id}>
                  {n.name}
                </option>
              ))}
            </select>
          </div>
        );
      })}
    </fieldset>
  );
}
