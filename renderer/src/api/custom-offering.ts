/**
 * A custom service offering's CPU and memory, as the forms that choose an offering send them
 * (deployVirtualMachine, changeServiceForVirtualMachine and scaleVirtualMachine all take
 * `details[0].cpuNumber`, `.memory`, and `.cpuSpeed` when the offering fixes none). The bounds
 * shown are the offering's own (serviceofferingdetails min/max); the engine checks them.
 */
import type { ApiParams } from '../../../preload/api';
import type { ServiceOffering } from './model';

export interface CustomSize {
  cpuNumber: string;
  memory: string;
  cpuSpeed: string;
}

/** " (1–4)" for an offering that bounds the value, else "". */
export function rangeHint(offering: ServiceOffering, what: 'cpunumber' | 'memory'): string {
  const d = offering.serviceofferingdetails ?? {};
  const min = d[`min${what}`];
  const max = d[`max${what}`];
  return min || max ? ` (${min ?? '…'}–${max ?? '…'})` : '';
}

/**
 * What a custom offering lets one choose, for its line in a list of offerings: "Custom: 1–4 vCPU,
 * 512–8192 MB" where it bounds them (so a constrained one is told apart from an unconstrained
 * one), "Custom: choose CPU and memory" where it does not.
 */
export function customSummary(offering: ServiceOffering): string {
  const cpu = rangeHint(offering, 'cpunumber').replace(/^ \((.*)\)$/, '$1');
  const memory = rangeHint(offering, 'memory').replace(/^ \((.*)\)$/, '$1');
  if (!cpu && !memory) return 'Custom: choose CPU and memory';
  return `Custom: ${cpu ? `${cpu} vCPU` : 'any vCPU'}${offering.cpuspeed ? ` × ${offering.cpuspeed} MHz` : ''}, ${memory ? `${memory} MB` : 'any memory'}`;
}

/** True when the offering leaves the CPU speed to the caller (custom unconstrained). */
export function asksCpuSpeed(offering: ServiceOffering): boolean {
  return offering.iscustomized === true && offering.cpuspeed === undefined;
}

/** What is missing before a custom size can be sent (empty for a fixed offering). */
export function customSizeProblems(offering: ServiceOffering | undefined, size: CustomSize): string[] {
  if (!offering?.iscustomized) return [];
  const positive = (v: string) => /^\d+$/.test(v) && Number(v) > 0;
  const problems: string[] = [];
  if (!positive(size.cpuNumber)) problems.push('Give the number of CPU cores.');
  if (!positive(size.memory)) problems.push('Give the memory in MiB.');
  if (asksCpuSpeed(offering) && !positive(size.cpuSpeed)) problems.push('Give the CPU speed in MHz.');
  return problems;
}

/** The details parameters for a custom offering (none for a fixed one). */
export function customSizeParams(offering: ServiceOffering | undefined, size: CustomSize): ApiParams {
  if (!offering?.iscustomized) return {};
  return {
    'details[0].cpuNumber': size.cpuNumber,
    'details[0].memory': size.memory,
    ...(asksCpuSpeed(offering) ? { 'details[0].cpuSpeed': size.cpuSpeed } : {}),
  };
}
