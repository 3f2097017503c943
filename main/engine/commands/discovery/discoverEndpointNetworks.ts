import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { discoveredNetworkView, discoveryDriver } from '../../discovery/endpoint-networks.js';

export default defineCommand({
  name: 'discoverEndpointNetworks',
  description:
    "Kiln: lists the networks of an endpoint that is not added yet (a vCenter or ESXi: every portgroup with at least one VM, its cluster, host, switch, VLAN and the VMs' NICs), the same discovery as `kiln discover-networks`, so the missing networks can be created before an import. Read its trust anchor first with probeEndpointTrust and pass the one you confirmed; the password is used for this one read and never stored.",
  kind: 'list',
  roles: ADMIN_ONLY,
  response: 'discoverednetwork',
  sensitive: ['password'],
  params: [
    { name: 'hypervisor', type: 'string', required: true, description: 'the hypervisor whose driver reaches the endpoint; listHypervisorCapabilities says which can (networkdiscovery=true)' },
    { name: 'url', type: 'string', required: true, maxLength: 2048, description: "the endpoint as the driver's connection form takes it (connectionurlrule); a datacenter and cluster in it narrow the list" },
    { name: 'username', type: 'string', required: true, description: 'the endpoint user' },
    { name: 'password', type: 'string', required: true, description: "the user's password (used for this read only; never stored or logged)" },
    { name: 'trustfingerprint', type: 'string', required: true, description: "the endpoint's trust anchor as probeEndpointTrust read it and the admin confirmed it; a different one presented is refused" },
    { name: 'cluster', type: 'string', description: 'only the networks of this cluster (its name on the endpoint)' },
  ],
  async handler({ engine }, args) {
    const { driver, facet } = discoveryDriver(engine, args.str('hypervisor')!);
    const input = { url: args.str('url')!, username: args.str('username')!, password: args.str('password')! };
    let url: string;
    try {
      url = driver.validateConnection(input, 'host').url;
    } catch (error) {
      if (error instanceof Error && error.name !== 'DriverError') throw ApiError.param(`url: ${error.message} (${driver.connectionForm.urlRule})`);
      throw error;
    }
    const nets = await facet.discover({
      ...input, url, trust: { kind: driver.connectionForm.trust, fingerprint: args.str('trustfingerprint')! }, cluster: args.str('cluster'),
    });
    return nets.map(discoveredNetworkView);
  },
});
