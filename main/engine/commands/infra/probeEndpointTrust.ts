import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';

export default defineCommand({
  name: 'probeEndpointTrust',
  description: "Kiln: reads what an endpoint is trusted by (a vCenter's TLS certificate thumbprint, SHA-256; an SSH host key) before it is added, sending no credentials, so the admin can confirm it; pass it to addCluster or addHost as trustfingerprint to pin exactly that one.",
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'endpointtrust',
  params: [
    { name: 'hypervisor', type: 'string', required: true, description: 'the hypervisor whose driver reaches the endpoint (listHypervisorCapabilities)' },
    { name: 'url', type: 'string', required: true, maxLength: 2048, description: 'the endpoint URL as addCluster/addHost take it (the driver\'s connectionurlrule)' },
  ],
  async handler({ engine }, args) {
    const hypervisor = args.str('hypervisor')!;
    const driver = engine.hosts.drivers().find((d) => d.hypervisor.toLowerCase() === hypervisor.toLowerCase());
    if (!driver) throw ApiError.param(`hypervisor: no driver for ${hypervisor} in this Kiln (${engine.hosts.drivers().map((d) => d.hypervisor).join(', ')})`);
    const url = args.str('url')!;
    try {
      const trust = await driver.probeTrust(url);
      return { hypervisor: driver.hypervisor, url, fingerprint: trust.fingerprint, trustkind: trust.kind };
    } catch (error) {
      // A URL the driver cannot read at all is the parameter's fault; DriverErrors keep their category.
      if (error instanceof Error && error.name !== 'DriverError') throw ApiError.param(`url: ${error.message} (${driver.connectionForm.urlRule})`);
      throw error;
    }
  },
});
