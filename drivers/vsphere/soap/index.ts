/** Kiln's typed vim25 SOAP layer (see README.md in drivers/vsphere). */
export { SoapConnectionError } from './transport.js';
export { VimClient, type VimClientOptions, type ServiceContent, type CallOptions } from './client.js';
export { encodeRequest, decodeResponse, decodeNode, decodeFault, SoapEncodeError } from './codec.js';
export { VimFault, isVimFault, faultFromLocalized, SoapProtocolError, type KnownFaultType } from './faults.js';
export { ThumbprintMismatchError, TlsConnectError, normalizeThumbprint, thumbprintOf, probeThumbprint } from '../../tls-trust.js';
export { retrieveProperties, retrieveInventory, getProperties, withContainerView, waitForUpdatesEx, createCollector, createFilter, filterSpec, UpdateWatcher, type WatchSpec, type ObjectProps, type PropertySpec, type UpdateSet, type ObjectUpdate } from './property-collector.js';
export { waitForTask, type TaskInfo, type TaskState, type WaitForTaskOptions } from './tasks.js';
export * from './values.js';
export * as vm from './vm-methods.js';
export { reattachTask, type TaskHandle, type MigrateArgs, type RelocateSpec, type CloneArgs } from './vm-methods.js';
