/** Every API command Kiln serves. Adding a command is adding its module here; no transport changes. */
import type { CommandDef } from '../registry/types.js';
import listZones from './infra/listZones.js';
import listPods from './infra/listPods.js';
import listClusters from './infra/listClusters.js';
import listHosts from './infra/listHosts.js';
import listServiceOfferings from './offerings/listServiceOfferings.js';
import createServiceOffering from './offerings/createServiceOffering.js';
import listDiskOfferings from './offerings/listDiskOfferings.js';
import listTemplates from './images/listTemplates.js';
import listTemplateOvfProperties from './images/listTemplateOvfProperties.js';
import listIsos from './images/listIsos.js';
import listOsTypes from './images/listOsTypes.js';
import listOsCategories from './images/listOsCategories.js';
import listNetworks from './network/listNetworks.js';
import createNetwork from './network/createNetwork.js';
import deployVirtualMachine from './vm/deployVirtualMachine.js';
import listVirtualMachines from './vm/listVirtualMachines.js';
import startVirtualMachine from './vm/startVirtualMachine.js';
import stopVirtualMachine from './vm/stopVirtualMachine.js';
import rebootVirtualMachine from './vm/rebootVirtualMachine.js';
import destroyVirtualMachine from './vm/destroyVirtualMachine.js';
import recoverVirtualMachine from './vm/recoverVirtualMachine.js';
import expungeVirtualMachine from './vm/expungeVirtualMachine.js';
import queryAsyncJobResult from './jobs/queryAsyncJobResult.js';
import listAsyncJobs from './jobs/listAsyncJobs.js';
import listApis from './meta/listApis.js';
import listCapabilities from './meta/listCapabilities.js';
import listConfigurations from './config/listConfigurations.js';
import updateConfiguration from './config/updateConfiguration.js';
import listEvents from './events/listEvents.js';
import updateVirtualMachine from './vm/updateVirtualMachine.js';
import changeServiceForVirtualMachine from './vm/changeServiceForVirtualMachine.js';
import scaleVirtualMachine from './vm/scaleVirtualMachine.js';
import restoreVirtualMachine from './vm/restoreVirtualMachine.js';
import listDetailOptions from './vm/listDetailOptions.js';
import updateTemplate from './images/updateTemplate.js';
import createConsoleEndpoint from './vm/createConsoleEndpoint.js';
import createAffinityGroup from './affinity/createAffinityGroup.js';
import deleteAffinityGroup from './affinity/deleteAffinityGroup.js';
import listAffinityGroups from './affinity/listAffinityGroups.js';
import listAffinityGroupTypes from './affinity/listAffinityGroupTypes.js';
import updateVMAffinityGroup from './affinity/updateVMAffinityGroup.js';
import migrateVirtualMachine from './vm/migrateVirtualMachine.js';
import findHostsForMigration from './vm/findHostsForMigration.js';
import migrateVirtualMachineWithVolume from './vm/migrateVirtualMachineWithVolume.js';
import checkClusterHeadroom from './infra/checkClusterHeadroom.js';
import listHypervisorCapabilities from './infra/listHypervisorCapabilities.js';
import updateHypervisorCapabilities from './infra/updateHypervisorCapabilities.js';
import explainPlacement from './infra/explainPlacement.js';
import listGpuResidents from './infra/listGpuResidents.js';
import createZone from './infra/createZone.js';
import createPod from './infra/createPod.js';
import updateZone from './infra/updateZone.js';
import deleteZone from './infra/deleteZone.js';
import removeResourceDetail from './infra/removeResourceDetail.js';
import addResourceDetail from './infra/addResourceDetail.js';
import listResourceDetails from './infra/listResourceDetails.js';
import updatePod from './infra/updatePod.js';
import deletePod from './infra/deletePod.js';
import updateCluster from './infra/updateCluster.js';
import deleteCluster from './infra/deleteCluster.js';
import addCluster from './infra/addCluster.js';
import addHost from './infra/addHost.js';
import updateHost from './infra/updateHost.js';
import deleteHost from './infra/deleteHost.js';
import acceptHostKey from './infra/acceptHostKey.js';
import probeHostKey from './infra/probeHostKey.js';
import probeEndpointTrust from './infra/probeEndpointTrust.js';
import registerTemplate from './images/registerTemplate.js';
import listAccounts from './accounts/listAccounts.js';
import createAccount from './accounts/createAccount.js';
import registerUserKeys from './accounts/registerUserKeys.js';
import createDomain from './accounts/createDomain.js';
import listDomains from './accounts/listDomains.js';
import updateUser from './accounts/updateUser.js';
import enableUser from './accounts/enableUser.js';
import listUsers from './accounts/listUsers.js';
import createVMSnapshot from './snapshots/createVMSnapshot.js';
import listVMSnapshot from './snapshots/listVMSnapshot.js';
import revertToVMSnapshot from './snapshots/revertToVMSnapshot.js';
import deleteVMSnapshot from './snapshots/deleteVMSnapshot.js';
import listVolumes from './volumes/listVolumes.js';
import createVolume from './volumes/createVolume.js';
import attachVolume from './volumes/attachVolume.js';
import detachVolume from './volumes/detachVolume.js';
import resizeVolume from './volumes/resizeVolume.js';
import deleteVolume from './volumes/deleteVolume.js';
import migrateVolume from './volumes/migrateVolume.js';
import createTags from './tags/createTags.js';
import deleteTags from './tags/deleteTags.js';
import listTags from './tags/listTags.js';
import createSSHKeyPair from './keys/createSSHKeyPair.js';
import registerSSHKeyPair from './keys/registerSSHKeyPair.js';
import listSSHKeyPairs from './keys/listSSHKeyPairs.js';
import deleteSSHKeyPair from './keys/deleteSSHKeyPair.js';
import resetSSHKeyForVirtualMachine from './keys/resetSSHKeyForVirtualMachine.js';
import getVirtualMachineUserData from './vm/getVirtualMachineUserData.js';
import listUnmanagedInstances from './import/listUnmanagedInstances.js';
import importUnmanagedInstance from './import/importUnmanagedInstance.js';
import unmanageVirtualMachine from './import/unmanageVirtualMachine.js';
import importVm from './import/importVm.js';
import listVmsForImport from './import/listVmsForImport.js';
import exportUnmanagedInstances from './import/exportUnmanagedInstances.js';
import importUnmanagedInstances from './import/importUnmanagedInstances.js';
import discoverEndpointNetworks from './discovery/discoverEndpointNetworks.js';
import createNetworksFromCsv from './discovery/createNetworksFromCsv.js';
import attachIso from './vm/attachIso.js';
import detachIso from './vm/detachIso.js';
import addNicToVirtualMachine from './vm/addNicToVirtualMachine.js';
import removeNicFromVirtualMachine from './vm/removeNicFromVirtualMachine.js';
import registerIso from './images/registerIso.js';
import deleteTemplate from './images/deleteTemplate.js';
import deleteIso from './images/deleteIso.js';
import { BACKUP_COMMANDS } from '../backup/commands/index.js';
import { STORAGE_COMMANDS } from './storage/index.js';

export const ALL_COMMANDS: CommandDef[] = [
  listZones, listPods, listClusters, listHosts,
  listServiceOfferings, createServiceOffering, listDiskOfferings,
  listTemplates, listTemplateOvfProperties, listIsos, listOsTypes, listOsCategories, listNetworks, createNetwork,
  deployVirtualMachine, listVirtualMachines, startVirtualMachine, stopVirtualMachine, rebootVirtualMachine,
  destroyVirtualMachine, recoverVirtualMachine, expungeVirtualMachine,
  updateVirtualMachine, changeServiceForVirtualMachine, scaleVirtualMachine, restoreVirtualMachine, listDetailOptions, updateTemplate, createConsoleEndpoint,
  queryAsyncJobResult, listAsyncJobs, listApis, listCapabilities, listConfigurations, updateConfiguration, listEvents,
  createAffinityGroup, deleteAffinityGroup, listAffinityGroups, listAffinityGroupTypes, updateVMAffinityGroup,
  migrateVirtualMachine, migrateVirtualMachineWithVolume, findHostsForMigration, checkClusterHeadroom, explainPlacement, listGpuResidents,
  listHypervisorCapabilities, updateHypervisorCapabilities,
  createZone, updateZone, deleteZone, addResourceDetail, removeResourceDetail, listResourceDetails, createPod, updatePod, deletePod, addCluster, updateCluster, deleteCluster, addHost, updateHost, deleteHost, acceptHostKey, probeHostKey, probeEndpointTrust, registerTemplate,
  listAccounts, createAccount, registerUserKeys, createDomain, listDomains, updateUser, enableUser, listUsers,
  createVMSnapshot, listVMSnapshot, revertToVMSnapshot, deleteVMSnapshot, listVolumes,
  createVolume, attachVolume, detachVolume, resizeVolume, deleteVolume, migrateVolume,
  createTags, deleteTags, listTags,
  createSSHKeyPair, registerSSHKeyPair, listSSHKeyPairs, deleteSSHKeyPair, resetSSHKeyForVirtualMachine, getVirtualMachineUserData,
  listUnmanagedInstances, importUnmanagedInstance, unmanageVirtualMachine, importVm, listVmsForImport, exportUnmanagedInstances, importUnmanagedInstances,
  discoverEndpointNetworks, createNetworksFromCsv,
  ...BACKUP_COMMANDS,
  ...STORAGE_COMMANDS,
  attachIso, detachIso, registerIso, deleteTemplate, deleteIso,
  addNicToVirtualMachine, removeNicFromVirtualMachine,
];
