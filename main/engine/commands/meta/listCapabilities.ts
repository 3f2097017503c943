import { defineCommand, ALL_ROLES } from '../../registry/types.js';

export const KILN_VERSION = '0.1.0';
/** The CloudStack API level Kiln's command set follows. */
export const CLOUDSTACK_VERSION = '4.20.0';

export default defineCommand({
  name: 'listCapabilities',
  description: 'Lists capabilities',
  kind: 'sync',
  roles: ALL_ROLES,
  response: 'capability',
  params: [],
  handler({ engine, caller }) {
    return {
      cloudstackversion: CLOUDSTACK_VERSION,
      kilnversion: KILN_VERSION,
      userpublictemplateenabled: true,
      allowusercreateprojects: false,
      allowuserviewdestroyedvm: false,
      allowuserexpungerecovervm: false,
      dynamicrolesenabled: false,
      kubernetesserviceenabled: false,
      kubernetesclusterexperimentalfeaturesenabled: false,
      apilimitinterval: 1,
      apilimitmax: -1,
      defaultuipagesize: engine.settings.int('default.page.size'),
      instancesnapshotenabled: true,
      dynamicscalingenabled: engine.settings.bool('enable.dynamic.scale.vm'),
      customdiskofferingminsize: 1,
      customdiskofferingmaxsize: 1024,
      sharedfsvmmincpucount: 1,
      role: caller.role,
    };
  },
});
