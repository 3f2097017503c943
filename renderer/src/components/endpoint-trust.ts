/**
 * The trust step's state for an endpoint not added yet, shared by the add-cluster dialog and the
 * network discovery dialog: probeEndpointTrust reads the anchor (TLS thumbprint, SSH host key)
 * without sending credentials, the admin confirms it, and the caller passes exactly that one on
 * (trustfingerprint). Changing the hypervisor or URL drops what was read and confirmed.
 */
import { useState } from 'react';
import { kiln } from '../transport';
import { shownError, type ShownError } from '../api/model';
import type { TrustWords } from './TrustCheck';

export interface EndpointProbe {
  url: string;
  fingerprint: string;
  trustkind: string;
}

/** The trust step's words per trust kind (the driver's connection form names the kind). */
export const TRUST_WORDS: Record<string, TrustWords> = {
  'tls-certificate': {
    title: 'TLS certificate',
    intro: "Before Kiln logs in, check that the endpoint presents its own TLS certificate and not someone else's.",
    check: 'Check certificate',
    again: 'Read it again',
    reading: 'Reading…',
    errorPrefix: 'Could not read the TLS certificate:',
    presents: 'presents this TLS certificate (SHA-256):',
    compare: "Compare it with the certificate's SHA-256 thumbprint shown on the endpoint itself (its console or management page). Kiln will accept exactly this certificate and refuse any other.",
    confirm: "The thumbprint matches the endpoint's",
  },
  'ssh-host-key': {
    title: 'SSH host key',
    intro: "Before Kiln logs in, check that the endpoint presents its own SSH host key and not someone else's.",
    check: 'Check host key',
    again: 'Read it again',
    reading: 'Reading…',
    errorPrefix: 'Could not read the SSH host key:',
    presents: 'presents this SSH host key:',
    compare: "Compare it with the host's own key, read on the host itself. Kiln will accept exactly this key and refuse any other.",
    confirm: "The fingerprint matches the host's key",
  },
};

export const trustWords = (kind: string | undefined): TrustWords => TRUST_WORDS[kind ?? ''] ?? TRUST_WORDS['tls-certificate']!;

export function useEndpointTrust() {
  const [probe, setProbe] = useState<EndpointProbe>();
  const [probing, setProbing] = useState(false);
  const [probeError, setProbeError] = useState<ShownError>();
  const [confirmed, setConfirmed] = useState(false);

  const resetTrust = () => {
    setProbe(undefined);
    setConfirmed(false);
    setProbeError(undefined);
  };

  const check = async (hypervisor: string, url: string) => {
    setProbing(true);
    resetTrust();
    try {
      const r = await kiln.invoke('probeEndpointTrust', { hypervisor, url: url.trim() });
      setProbe(r['endpointtrust'] as EndpointProbe);
    } catch (e) {
      setProbeError(shownError(e));
    } finally {
      setProbing(false);
    }
  };

  /** The probe, once the admin confirmed it: what may be passed on as trustfingerprint. */
  const trusted = probe && confirmed ? probe : undefined;
  return { probe, probing, probeError, confirmed, setConfirmed, resetTrust, check, trusted };
}
