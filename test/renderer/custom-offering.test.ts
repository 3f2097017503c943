/** A custom offering's line in the deploy wizard's list: its bounds where it has them, so the two custom offerings read differently. */
import { describe, expect, it } from 'vitest';
import { customSummary } from '../../renderer/src/api/custom-offering';
import type { ServiceOffering } from '../../renderer/src/api/model';

const offering = (o: Partial<ServiceOffering>): ServiceOffering => ({ id: 'o', name: 'o', iscustomized: true, ...o }) as ServiceOffering;

describe('customSummary', () => {
  it('names the bounds and the fixed speed of a constrained offering', () => {
    const constrained = offering({ cpuspeed: 1000, serviceofferingdetails: { mincpunumber: '1', maxcpunumber: '4', minmemory: '512', maxmemory: '8192' } });
    expect(customSummary(constrained)).toBe('Custom: 1–4 vCPU × 1000 MHz, 512–8192 MB');
  });

  it('says what is chosen for an unconstrained one', () => {
    expect(customSummary(offering({ serviceofferingdetails: {} }))).toBe('Custom: choose CPU and memory');
    expect(customSummary(offering({}))).toBe('Custom: choose CPU and memory');
  });

  it('marks a bound given on one side only, and an unbounded value', () => {
    expect(customSummary(offering({ serviceofferingdetails: { maxmemory: '4096' } }))).toBe('Custom: any vCPU, …–4096 MB');
  });
});
