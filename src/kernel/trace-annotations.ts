/**
 * Timeline annotations: records a CPU sends beside its trace records (Cpu.annotate) when the run is
 * traced (--trace, --breaktrace, an API trace handler), for what the Chrome trace draws but the trace
 * records do not carry. They are not trace events: never hashed, never among the last events or the
 * inspector's events, so a run's trace hash and every pinned trace are the same with or without them.
 * Their codes start at TRACE_ANNOTATION_BASE, apart from TraceEvent's; the main thread routes them
 * to the machine's `annotation` event, not `trace`.
 */

export const TRACE_ANNOTATION_BASE = 0x1000;

export const TraceAnnotation = {
  /** a dispatcher operation ended a thread's wait (after its DISPATCHER record): a = the wake serial, b = the operation's code */
  WAKE_READIED: 0x1001,
  /** a woken thread switched in (after its CONTEXT_SWITCH record): a = the wake serial, b = the thread */
  WAKE_SWITCH_IN: 0x1002,
  /** a CPU's ready-queue length changed (after a dispatcher reply): a = the CPU whose queue, b = its length */
  READY_QUEUE: 0x1003,
  /**
   * --breaktrace: a routine ran past the bound as it returned (the annotation's time is its end):
   * a = routine × 2 + kind (0 ISR, 1 DPC), b = its exclusive execution ns, c = ns from its start to its end
   */
  BREACH: 0x1004,
} as const;

export function isTraceAnnotation(event: number): boolean {
  return event >= TRACE_ANNOTATION_BASE;
}
