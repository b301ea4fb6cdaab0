// KeInsertQueueDpc's request rules and KeUpdateRunTime's rate adaptation (nt-semantics.md §2.3, §2.6),
// as pure functions. The same rules run end to end on real workers in test/smp/.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DPC_TUNABLES,
  DpcImportanceValue,
  dpcTag,
  dpcTagCpu,
  shouldRequestLocalDpc,
  shouldRequestRemoteDpc,
  updateDpcRate,
} from '../../src/kernel/dpc.js';
import type { DpcRateState } from '../../src/kernel/dpc.js';

const rate = (overrides: Partial<DpcRateState> = {}): DpcRateState => ({
  maximumDpcQueueDepth: 4,
  minimumDpcRate: 3,
  dpcRequestRate: 5,
  dpcLastCount: 0,
  dpcCount: 0,
  adjustDpcThreshold: 20,
  ...overrides,
});
const { Low, Medium, High, MediumHigh } = DpcImportanceValue;

describe('KeInsertQueueDpc request rule, target is the current CPU', () => {
  it('a Medium DPC requests a DISPATCH interrupt', () => {
    expect(shouldRequestLocalDpc(Medium, 1, rate(), false, false)).toBe(true);
  });
  it('a Low DPC with depth below the maximum and a healthy rate requests nothing', () => {
    expect(shouldRequestLocalDpc(Low, 1, rate(), false, false)).toBe(false);
  });
  it('a Low DPC requests once the queue depth reaches MaximumDpcQueueDepth (the fourth of five)', () => {
    const results = [1, 2, 3, 4, 5].map((depth) => shouldRequestLocalDpc(Low, depth, rate(), false, false));
    expect(results).toEqual([false, false, false, true, true]);
  });
  it('a Low DPC requests when the DPC request rate is below MinimumDpcRate', () => {
    expect(shouldRequestLocalDpc(Low, 1, rate({ dpcRequestRate: 2 }), false, false)).toBe(true);
  });
  it('nothing is requested while a DPC routine is active or a request is outstanding', () => {
    expect(shouldRequestLocalDpc(High, 1, rate(), true, false)).toBe(false);
    expect(shouldRequestLocalDpc(High, 1, rate(), false, true)).toBe(false);
  });
});

describe('KeInsertQueueDpc request rule, target is another CPU', () => {
  it('a Medium DPC to a busy CPU sends no IPI', () => {
    expect(shouldRequestRemoteDpc(Medium, 1, 4, false, false)).toBe(false);
  });
  it('a Low DPC to another CPU sends no IPI', () => {
    expect(shouldRequestRemoteDpc(Low, 1, 4, false, false)).toBe(false);
  });
  it('High and MediumHigh DPCs send an IPI', () => {
    expect(shouldRequestRemoteDpc(High, 1, 4, false, false)).toBe(true);
    expect(shouldRequestRemoteDpc(MediumHigh, 1, 4, false, false)).toBe(true);
  });
  it('a deep target queue sends an IPI whatever the importance', () => {
    expect(shouldRequestRemoteDpc(Medium, 4, 4, false, false)).toBe(true);
  });
  it('no IPI while the target is already retiring DPCs or has a request outstanding', () => {
    expect(shouldRequestRemoteDpc(High, 1, 4, true, false)).toBe(false);
    expect(shouldRequestRemoteDpc(High, 1, 4, false, true)).toBe(false);
  });
});

describe('KeUpdateRunTime DPC rate and depth adaptation', () => {
  it('the request rate is the running average of inserts per tick', () => {
    const state = rate({ dpcRequestRate: 0, dpcCount: 8 });
    updateDpcRate(state, 0, false, DEFAULT_DPC_TUNABLES);
    expect(state.dpcRequestRate).toBe(4);
    state.dpcCount += 8;
    updateDpcRate(state, 0, false, DEFAULT_DPC_TUNABLES);
    expect(state.dpcRequestRate).toBe(6);
  });
  it('a tick with DPCs still queued and none running requests a DISPATCH interrupt and lowers the maximum depth', () => {
    const state = rate({ dpcRequestRate: 0 });
    expect(updateDpcRate(state, 2, false, DEFAULT_DPC_TUNABLES)).toBe(true);
    expect(state.maximumDpcQueueDepth).toBe(3);
  });
  it('quiet ticks raise the maximum depth back toward its default after AdjustDpcThreshold ticks', () => {
    const state = rate({ maximumDpcQueueDepth: 2, adjustDpcThreshold: 20 });
    for (let i = 0; i < 19; i++) expect(updateDpcRate(state, 0, false, DEFAULT_DPC_TUNABLES)).toBe(false);
    expect(state.maximumDpcQueueDepth).toBe(2);
    updateDpcRate(state, 0, false, DEFAULT_DPC_TUNABLES);
    expect(state.maximumDpcQueueDepth).toBe(3);
  });
});

describe('DpcData tag', () => {
  it('names the queue CPU and is never NULL', () => {
    for (const cpu of [0, 1, 63]) {
      const tag = dpcTag(cpu, 12345);
      expect(tag).not.toBe(0);
      expect(dpcTagCpu(tag)).toBe(cpu);
    }
    expect(dpcTag(1, 1)).not.toBe(dpcTag(1, 2));
  });
});
