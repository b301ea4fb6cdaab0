/**
 * KDPC: deferred procedure calls (nt-semantics.md §2). The KDPC objects themselves live in shared
 * memory (layout DpcField) because any CPU may queue any DPC; each CPU's DPC queue is private to
 * that CPU (src/cpu/processor.ts). This module holds the pure rules: KeInsertQueueDpc's decision
 * to request a DISPATCH interrupt (locally) or an IPI (remotely), the DpcData tag that marks a DPC
 * as queued, and the per-tick rate/depth adaptation of KeUpdateRunTime.
 */

export const DpcImportanceValue = { Low: 0, Medium: 1, High: 2, MediumHigh: 3 } as const;

/** NT 5.2 defaults (KiMaximumDpcQueueDepth, KiMinimumDpcRate, KiAdjustDpcThreshold, KiIdealDpcRate). */
export interface DpcTunables {
  maximumDpcQueueDepth: number;
  minimumDpcRate: number;
  adjustDpcThreshold: number;
  idealDpcRate: number;
}

export const DEFAULT_DPC_TUNABLES: DpcTunables = {
  maximumDpcQueueDepth: 4,
  minimumDpcRate: 3,
  adjustDpcThreshold: 20,
  idealDpcRate: 20,
};

/** The PRCB fields the request rules and the tick adaptation read and write. */
export interface DpcRateState {
  maximumDpcQueueDepth: number;
  minimumDpcRate: number;
  dpcRequestRate: number;
  dpcLastCount: number;
  /** cumulative inserts into this CPU's queue (DpcCount) */
  dpcCount: number;
  adjustDpcThreshold: number;
}

/**
 * DpcData tag: which CPU's queue holds the DPC, plus a generation so an entry left behind by a
 * KeRemoveQueueDpc (then re-queued) is recognised as stale. 0 is NULL: not queued.
 */
export function dpcTag(cpu: number, generation: number): number {
  return ((generation & 0xffffff) << 8) | (cpu + 1);
}

export function dpcTagCpu(tag: number): number {
  return (tag & 0xff) - 1;
}

/**
 * KeInsertQueueDpc, target == current CPU (§2.3 step 5): request a DISPATCH interrupt unless one is
 * already running or requested, if the DPC is not Low, or the queue is deep, or the request rate low.
 */
export function shouldRequestLocalDpc(
  importance: number,
  depthAfterInsert: number,
  rate: DpcRateState,
  dpcRoutineActive: boolean,
  dpcInterruptRequested: boolean,
): boolean {
  if (dpcRoutineActive || dpcInterruptRequested) return false;
  return importance !== DpcImportanceValue.Low || depthAfterInsert >= rate.maximumDpcQueueDepth || rate.dpcRequestRate < rate.minimumDpcRate;
}

/**
 * KeInsertQueueDpc, target ≠ current CPU: an IPI only for High/MediumHigh importance or a deep
 * queue, and only if the target is not already retiring or requested. (The "idle but not halted"
 * exception of NT never applies: an idle emulated CPU is halted, and the DPC link message that
 * carries the DPC wakes it, so its idle loop drains the queue without an IPI.)
 */
export function shouldRequestRemoteDpc(
  importance: number,
  targetDepthAfterInsert: number,
  targetMaximumDepth: number,
  targetRoutineActive: boolean,
  targetInterruptRequested: boolean,
): boolean {
  if (targetRoutineActive || targetInterruptRequested) return false;
  return importance === DpcImportanceValue.High || importance === DpcImportanceValue.MediumHigh || targetDepthAfterInsert >= targetMaximumDepth;
}

/**
 * KeUpdateRunTime's DPC part (§2.6), once per clock tick. Returns whether to request a DISPATCH
 * interrupt (how Low DPCs and unsignalled remote DPCs eventually run).
 */
export function updateDpcRate(rate: DpcRateState, queueDepth: number, dpcRoutineActive: boolean, tunables: DpcTunables): boolean {
  rate.dpcRequestRate = Math.floor((rate.dpcCount - rate.dpcLastCount + rate.dpcRequestRate) / 2);
  rate.dpcLastCount = rate.dpcCount;
  if (queueDepth > 0 && !dpcRoutineActive) {
    rate.adjustDpcThreshold = tunables.adjustDpcThreshold;
    if (rate.dpcRequestRate < tunables.idealDpcRate && rate.maximumDpcQueueDepth > 1) rate.maximumDpcQueueDepth--;
    return true;
  }
  rate.adjustDpcThreshold--;
  if (rate.adjustDpcThreshold <= 0) {
    rate.adjustDpcThreshold = tunables.adjustDpcThreshold;
    if (rate.maximumDpcQueueDepth !== tunables.maximumDpcQueueDepth) rate.maximumDpcQueueDepth++;
  }
  return false;
}

export function importanceFromName(name: string | undefined): number {
  switch (name) {
    case 'Low':
      return DpcImportanceValue.Low;
    case 'High':
      return DpcImportanceValue.High;
    case 'MediumHigh':
      return DpcImportanceValue.MediumHigh;
    default:
      return DpcImportanceValue.Medium;
  }
}
