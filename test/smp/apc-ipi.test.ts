// Cross-processor APC delivery on real workers (nt-semantics.md §5.4 step 4): a kernel APC queued
// from CPU 0 to a thread running on CPU 1 travels as IPI(APC) between two worker threads and runs
// there, in that thread, at APC_LEVEL. The thread announces that it runs before the APC is queued,
// so the IPI is sent in every interleaving (no reliance on a race).
import { describe, expect, it } from 'vitest';
import apcDelivery from '../../src/scenarios/apc-delivery.js';
import { runOnWorkers } from './harness.js';

describe('cross-processor APC delivery between real CPU workers', () => {
  it('parallel mode: IPI(APC) from CPU 0, S4 runs on CPU 1 in U at APC_LEVEL, and the self-queued APCs keep their order', async () => {
    const run = await runOnWorkers(apcDelivery, { cpus: 2, mode: 'parallel', durationMs: 5 });
    expect(run.result.bugcheck).toBeNull();
    for (const check of run.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(run.result.results.s4Cpu).toBe(1);
    expect(run.result.results.s4InU).toBe(true);
    expect(run.result.perCpu[0]!.ipisSent).toBeGreaterThanOrEqual(1);
    expect(run.result.perCpu[1]!.ipisReceived).toBeGreaterThanOrEqual(1);
  });

  it('deterministic mode on workers: exactly one IPI, sent by CPU 0 and received by CPU 1', async () => {
    const run = await runOnWorkers(apcDelivery, { cpus: 2, seed: 1 });
    for (const check of run.result.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(run.result.results.ipisSentByCpu0).toBe(1);
    expect(run.result.results.ipisReceivedByCpu1).toBe(1);
  });
});
