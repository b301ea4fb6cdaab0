/**
 * KiIdleLoop (nt-semantics.md §2.7): the idle thread's loop, the bottom frame of a CPU with nothing
 * to run. It drains DPCs at DISPATCH_LEVEL, switches to a NextThread the dispatcher placed here,
 * and otherwise halts until a message arrives. Switching away replaces its frame with the thread's;
 * the loop resumes where it was when the CPU next switches to its idle thread.
 */

import type { Cpu, KernelGenerator } from './cpu.js';
import { SIGNAL_HALT, SIGNAL_SWITCHED } from './cpu.js';
import { dispatcherCall } from './dispatcher-call.js';
import { dpcQueueDepth, retireDpcList } from './dpc.js';
import { DISPATCH_LEVEL, PASSIVE_LEVEL, setIrql } from './irql.js';
import { ReplyFlag } from '../ipc/dispatcher-ops.js';

export function* idleLoop(cpu: Cpu): KernelGenerator {
  const prcb = cpu.prcb;
  for (;;) {
    if (dpcQueueDepth(cpu) > 0 || prcb.timerRequest) {
      prcb.softPending &= ~(1 << DISPATCH_LEVEL);
      setIrql(cpu, DISPATCH_LEVEL);
      yield* retireDpcList(cpu);
      setIrql(cpu, PASSIVE_LEVEL);
      continue;
    }
    if (prcb.reschedulePending) {
      prcb.reschedulePending = false;
      prcb.softPending &= ~(1 << DISPATCH_LEVEL);
      setIrql(cpu, DISPATCH_LEVEL);
      const reply = yield* dispatcherCall(cpu, { op: 'KiDispatchInterrupt', quantumEnd: false }, PASSIVE_LEVEL);
      if (reply.flags & ReplyFlag.SWITCH) {
        setIrql(cpu, reply.nextWaitIrql);
        yield SIGNAL_SWITCHED;
        continue;
      }
      setIrql(cpu, PASSIVE_LEVEL);
      continue;
    }
    yield SIGNAL_HALT;
  }
}
