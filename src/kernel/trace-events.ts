/**
 * Trace event codes: what a CPU's kernel routines record (into its running trace hash, its last-events window, and
 * the trace file when one was asked for). Append only: the numbers feed the trace hash.
 */
export const TraceEvent = {
  IRQL: 1,
  ISR_ENTER: 2,
  ISR_EXIT: 3,
  DPC_INSERT: 4,
  DPC_START: 5,
  DPC_END: 6,
  IPI_SEND: 7,
  IPI_RECEIVE: 8,
  CLOCK: 9,
  USER: 10,
  BUGCHECK: 11,
  THREAD_EXIT: 12,
  GENERIC_CALL: 13,
  IPI_PACKET: 14,
  HALT: 15,
  WAKE: 16,
  /** SwapContext: a = old thread, b = new thread, c = the IRQL the new thread resumes at */
  CONTEXT_SWITCH: 17,
  /** a dispatcher request answered: a = the operation's code (src/ipc/dispatcher-ops.ts), b = status, c = reply flags */
  DISPATCHER: 18,
  /** a = lock address, b = 1 acquired / 0 released / 2 found held (spinning starts) */
  SPIN_LOCK: 19,
  /** a timer's DPC handed out by the expiration: a = the KDPC */
  TIMER_EXPIRED: 20,
  /** a = address, b = access (0 read, 1 write, 8 execute), c = pc */
  PAGE_FAULT: 21,
  /** a = address of the page, b = the thread */
  PAGE_IN: 22,
  /** KeInsertQueueApc answered: a = the KAPC, b = TRUE/FALSE, c = 1 APC interrupt here, 2 IPI(APC) sent, 0 neither */
  APC_INSERT: 23,
  /** KiDeliverApc calls an APC routine: a = the KAPC, b = the routine, c = 1 KernelRoutine, 2 NormalRoutine, 3 user */
  APC_DELIVER: 24,
  /** that routine returned: a = the KAPC, b = the routine, c = as APC_DELIVER */
  APC_DELIVER_END: 25,
  /** an IRP's life (src/kernel/io.ts IrpTraceStage): a = the IRP's id, b = the stage, c = the stage's word */
  IRP: 26,
} as const;

const NAMES: Record<number, string> = {
  1: 'irql',
  2: 'isr-enter',
  3: 'isr-exit',
  4: 'dpc-insert',
  5: 'dpc-start',
  6: 'dpc-end',
  7: 'ipi-send',
  8: 'ipi-receive',
  9: 'clock',
  10: 'trace',
  11: 'bugcheck',
  12: 'thread-exit',
  13: 'generic-call',
  14: 'ipi-packet',
  15: 'halt',
  16: 'wake',
  17: 'switch',
  18: 'dispatcher',
  19: 'spin-lock',
  20: 'timer',
  21: 'page-fault',
  22: 'page-in',
  23: 'apc-insert',
  24: 'apc-deliver',
  25: 'apc-deliver-end',
  26: 'irp',
};

export function traceEventName(event: number): string {
  return NAMES[event] ?? `event-${event}`;
}
