/** The deploy wizard's draft: every choice so far, and the step being shown. */
import { create } from 'zustand';
import { paramProblem, useApiCatalog, type ApiInfo } from './api-catalog-store';

export interface DeployDraft {
  zoneid: string;
  podid: string;
  clusterid: string;
  hostid: string;
  source: 'template' | 'iso';
  templateid: string;
  isoid: string;
  diskofferingid: string;
  disksize: string;
  serviceofferingid: string;
  cpuNumber: string;
  cpuSpeed: string;
  memory: string;
  networkids: string[];
  affinitygroupids: string[];
  name: string;
  displayname: string;
  group: string;
  startvm: boolean;
  /** Key-pair names (keypairs=). */
  keypairs: string[];
  /** Base64 user data as sent; userdataText is what the user typed (or the file's text), userdataFile its file. */
  userdata: string;
  userdataText: string;
  userdataFile: string;
  /** An appliance template's choices: deployment option, property values by key, network id by NIC InstanceID, the EULA accepted. */
  configurationId: string;
  properties: Record<string, string>;
  nicNetworks: Record<string, string>;
  eulaAccepted: boolean;
}

export const EMPTY_DRAFT: DeployDraft = {
  zoneid: '', podid: '', clusterid: '', hostid: '', source: 'template', templateid: '', isoid: '', diskofferingid: '', disksize: '',
  serviceofferingid: '', cpuNumber: '', cpuSpeed: '', memory: '', networkids: [], affinitygroupids: [], name: '', displayname: '', group: '', startvm: true,
  keypairs: [], userdata: '', userdataText: '', userdataFile: '', configurationId: '', properties: {}, nicNetworks: {}, eulaAccepted: false,
};

export const DEPLOY_STEPS = ['Placement', 'Image', 'Offering', 'Network', 'Names', 'SSH keys', 'User data', 'Review'] as const;
export const REVIEW_STEP = DEPLOY_STEPS.indexOf('Review');

interface DeployForm {
  draft: DeployDraft;
  step: number;
  /** The furthest step reached: earlier ones may be revisited directly. */
  reached: number;
  set(patch: Partial<DeployDraft>): void;
  goTo(step: number): void;
  reset(): void;
  /** Bumped when "Deploy VM" is chosen while the wizard shows a finished deploy: start afresh. */
  restart: number;
  newDeploy(): void;
}

export const useDeployForm = create<DeployForm>((set, get) => ({
  draft: EMPTY_DRAFT,
  step: 0,
  reached: 0,
  set: (patch) => set({ draft: { ...get().draft, ...patch } }),
  goTo: (step) => set({ step, reached: Math.max(get().reached, step) }),
  reset: () => set({ draft: EMPTY_DRAFT, step: 0, reached: 0 }),
  restart: 0,
  newDeploy: () => set({ restart: get().restart + 1 }),
}));

/**
 * The engine's hostname rule for a VM name, as listApis declares it for COMMAND's `name`
 * (deployVirtualMachine, updateVirtualMachine): the engine's own words, or undefined when the
 * name is fine (or empty, or the catalog is not loaded yet: the engine's 431 stays the last word).
 */
export function hostnameProblem(name: string, apis: Map<string, ApiInfo> = useApiCatalog.getState().apis, command = 'deployVirtualMachine'): string | undefined {
  return paramProblem(apis, command, 'name', name);
}
