/**
 * Every shared-memory offset of the machine, in one place. The machine is one SharedArrayBuffer
 * viewed as an Int32Array; every number here is an index in 32-bit words. test/shm/layout.test.ts
 * pins these values: changing one is a format change, so change the test with it on purpose.
 *
 * Records (fixed field offsets inside a record) come first; the machine map (where each record
 * sits for a given CPU count) is computed by computeLayout().
 */

/** Header of one single-producer single-consumer ring (src/shm/spsc-ring.ts). */
export const RingHeader = {
  /** total words the producer has published (monotonic, wraps at 2^31 by masking) */
  WRITE: 0,
  /** total words the consumer has released */
  READ: 1,
  /** capacity in words of the data area (a power of two) */
  CAPACITY: 2,
  /** reserved, keeps the data area 16-byte aligned */
  RESERVED: 3,
  WORDS: 4,
} as const;

/** Per-actor doorbell (src/shm/doorbell.ts): producers bump COUNT after publishing. */
export const DoorbellField = {
  /** incremented (Atomics.add) by every producer after it publishes into one of this actor's rings */
  COUNT: 0,
  /** 1 while the owner is (about to be) asleep in Atomics.wait on COUNT; producers notify only then */
  SLEEPING: 1,
  WORDS: 2,
} as const;

/**
 * One execution context: what an interpreted routine needs to resume. A thread's context lives in
 * the shared thread table, so any CPU can resume it (threads migrate); ISR/DPC contexts live in the
 * owning CPU's frame area. src/isa/interpreter.ts reads and writes these fields.
 */
export const ContextField = {
  /** index (in words) of the next instruction in the program image */
  PC: 0,
  /** stack pointer: a byte address in emulated memory; the stack grows down */
  SP: 1,
  /** lowest byte address the stack may reach; a push below it is a stack overflow */
  STACK_LIMIT: 2,
  /** index of the routine this context entered (for reports) */
  ROUTINE: 3,
  /** general registers r0..r15; r0 carries kernel-call results and routine return values */
  R0: 4,
  REGISTER_COUNT: 16,
  /**
   * cycles still to burn of the WORK instruction (or KeStallExecutionProcessor) at PC: a long burn
   * stops at the end of the CPU's cycle budget so interrupts land inside it, and resumes from here
   * (on whichever CPU resumes the context). 0: no burn in progress.
   */
  WORK_LEFT: 20,
  WORDS: 21,
} as const;

/** Machine-wide control words. */
export const ControlField = {
  /** MachineState below */
  STATE: 0,
  /** the CPU that won the right to bugcheck (−1: none); the first CAS wins, later ones just freeze */
  BUGCHECK_OWNER: 1,
  /** KeIpiGenericCall's global lock (0 free, else 1 + owning CPU) */
  GENERIC_LOCK: 2,
  /** the barrier count of §7.2: starts at the CPU count, targets decrement it, the source zeroes it */
  GENERIC_COUNT: 3,
  GENERIC_ROUTINE: 4,
  GENERIC_ARGUMENT: 5,
  /** targets still running the broadcast routine */
  GENERIC_REMAINING: 6,
  /** (generation << 8) | the CPU running the current generic call */
  GENERIC_SOURCE: 7,
  /** words 8–9, a BigInt64: process.hrtime.bigint() at the start of the run (emulated time 0 in parallel mode) */
  EPOCH: 8,
  /** KeSetSystemTime's offset of system time from boot time + interrupt time (100 ns, two words; written by the coordinator) */
  SYSTEM_TIME_BIAS_LO: 10,
  SYSTEM_TIME_BIAS_HI: 11,
  /**
   * words 12–13, a Float64: the emulated time the whole machine has reached, written by the
   * coordinator (deterministic: the earliest running CPU's clock, or the last event's time while
   * all are halted; parallel: the host clock), read by the main thread's progress line
   */
  EMULATED_NS: 12,
  /**
   * Parallel mode's virtual time (src/shm/virtual-time.ts). GVT_WAITERS: CPUs waiting for the
   * global virtual time to rise (publishers look for them only then); WAKE_EPOCH: bumped by every
   * take-out of a halted CPU from the idle set, so the coordinator can tell that a scan that found
   * every CPU halted was not overtaken by a wake; COORDINATOR_CALLED: 1 once a CPU has rung the
   * coordinator because its next event is due (cleared by the coordinator when it looks)
   */
  GVT_WAITERS: 14,
  WAKE_EPOCH: 15,
  COORDINATOR_CALLED: 16,
  /** words 18–19, a Float64: the time of the next event the coordinator has not delivered yet (parallel mode) */
  NEXT_EVENT_NS: 18,
  /** words 20–21, a Float64: the latest event the coordinator has delivered (parallel mode): where time stands while every CPU is halted */
  DELIVERED_NS: 20,
  WORDS: 22,
} as const;

export const MachineState = { BOOTING: 0, RUNNING: 1, STOPPING: 2, BUGCHECKED: 3 } as const;

/**
 * The public part of a PRCB: written by its own CPU, except the DPC request state that NT's
 * KeInsertQueueDpc changes under the target's DPC lock: any inserter adds to DPC_QUEUE_DEPTH and
 * claims DPC_INTERRUPT_REQUESTED with a compare-exchange (Atomics for both, on every side).
 */
export const PrcbField = {
  IRQL: 0,
  DPC_QUEUE_DEPTH: 1,
  DPC_ROUTINE_ACTIVE: 2,
  DPC_INTERRUPT_REQUESTED: 3,
  MAXIMUM_DPC_QUEUE_DEPTH: 4,
  /**
   * non-zero while the CPU is halted in its idle loop (asleep on its doorbell): 1, or on virtual
   * time the number of that halt (src/shm/virtual-time.ts)
   */
  IDLE: 5,
  /**
   * clock ticks this CPU has answered: the ticks delivered to it up to its latest clock interrupt
   * (ticks that arrived while one was pending coalesced into it); the clock watchdog compares it
   * with the ticks sent
   */
  TICKS_TAKEN: 6,
  /** set (Atomics) to the generation of the generic call this CPU has arrived at */
  GENERIC_ARRIVED: 7,
  /** KiIpiSendPacket from this CPU: the worker routine, its argument, and targets still to finish */
  PACKET_ROUTINE: 8,
  PACKET_ARGUMENT: 9,
  PACKET_REMAINING: 10,
  /** bit per CPU (CPUs 0–31 / 32–63) of targets that have not finished this CPU's packet */
  PACKET_PENDING_LO: 11,
  PACKET_PENDING_HI: 12,
  /**
   * the native routine (scenario host code) this CPU is inside: its index + 1, 0 when none. With
   * NATIVE_CALLS (native calls entered so far) the main thread tells a native that never returns
   * from a run of short ones, and ends the run after the host-time limit (Machine's native guard)
   */
  NATIVE_ROUTINE: 13,
  NATIVE_CALLS: 14,
  /** parallel mode: the doorbell count this CPU had drained when it halted (a different count: a message waits for it) */
  DOORBELL_AT_HALT: 15,
  WORDS: 16,
} as const;

/**
 * Per-CPU counters, as Float64 values (ns and cycle counts outgrow Int32). Written by the owning CPU
 * only; the main thread reads them at any time (progress) and at the end (summary).
 * Index into a Float64Array over the same buffer (see MachineLayout.counters).
 */
export const CounterField = {
  INTERRUPTS: 0,
  DPCS: 1,
  IPIS_SENT: 2,
  IPIS_RECEIVED: 3,
  MAX_NESTING: 4,
  MAX_DPC_QUEUE_DEPTH: 5,
  CYCLES: 6,
  INSTRUCTIONS: 7,
  CLOCK_TICKS: 8,
  /** emulated ns spent halted in the idle loop */
  IDLE_NS: 9,
  /** this CPU's emulated time */
  TIME_NS: 10,
  /** interrupts the local APIC found no ISR claiming (level-triggered re-fire) */
  UNCLAIMED_INTERRUPTS: 11,
  /**
   * parallel mode: this CPU's virtual clock as published for the others (at every run chunk, at a
   * halt, and by a CPU that wakes it), which the global virtual time is the minimum of
   */
  VIRTUAL_NS: 13,
  /** parallel mode: the global virtual time this CPU waits for (it reached the slack), 0 when it does not wait */
  WAITING_FOR_NS: 14,
  /** emulated ns at each IRQL (0..31), not counting halted idle time */
  TIME_AT_IRQL: 16,
  /** threads switched in on this CPU (SwapContext) */
  CONTEXT_SWITCHES: 12,
  /** interrupts taken per vector (0..255) */
  BY_VECTOR: 48,
  /**
   * writes of the local APIC's task-priority register (src/kernel/irql.ts): eager IRQL writes it at
   * every IRQL change, lazy IRQL only when an interrupt arrives at or below the IRQL and on the
   * lowers that follow
   */
  TASK_PRIORITY_WRITES: 48 + 256,
  /** lazy IRQL: the writes eager IRQL would have made minus those it made (0 with eager IRQL) */
  TASK_PRIORITY_WRITES_SAVED: 48 + 256 + 1,
  WORDS: 48 + 256 + 2,
} as const;

/**
 * One device's interrupts at one CPU, as Float64 values written by that CPU only (index into a
 * Float64Array, see MachineLayout.deviceCounters). With the assertions the coordinator counts, they
 * account for every assertion at the end of a run: asserted = taken − reasserted + pending + the
 * assertions still in a coordinator → CPU ring (RunResult.interruptAccounting).
 */
export const DeviceCounterField = {
  /** IRQ_ASSERT messages this CPU took from its inbox and posted in its local APIC */
  RECEIVED: 0,
  /** accepted from the local APIC into KiInterruptDispatch (an ISR chain ran or began) */
  TAKEN: 1,
  /** posted again by KiInterruptDispatch: no ISR claimed it and the line is level-triggered */
  REASSERTED: 2,
  /** in the local APIC now, waiting for the IRQL to drop below the vector's */
  PENDING: 3,
  /** IRQ_ASSERT messages still in this CPU's inbox when it stopped or froze: never posted */
  UNDELIVERED: 4,
  /** written by the coordinator as it exits: IRQ_ASSERT messages for this CPU still in its outbox (the ring was full) */
  BACKLOGGED: 5,
  WORDS: 6,
} as const;

/** A KDPC in shared memory: any CPU may claim it (KeInsertQueueDpc is callable from any CPU). */
export const DpcField = {
  /** routine index in the program image */
  ROUTINE: 0,
  CONTEXT: 1,
  /** Low 0, Medium 1, High 2, MediumHigh 3 */
  IMPORTANCE: 2,
  /** −1 untargeted, else the target CPU */
  TARGET: 3,
  /** 0: not queued (the NT DpcData == NULL); else tag = (generation << 8) | (cpu + 1), claimed by compare-exchange */
  DPC_DATA: 4,
  SYSTEM_ARGUMENT1: 5,
  SYSTEM_ARGUMENT2: 6,
  /** bumped at each insert so a stale queue entry (removed, then re-queued) is recognised */
  GENERATION: 7,
  WORDS: 8,
} as const;

/**
 * A KTHREAD's shared half, one record per thread (the idle thread of each CPU first, then the
 * scenario's threads, in object-id order: thread id N is record N − 1). The dispatcher state (state,
 * priority, wait blocks…) lives in the coordinator's dispatcher database; what lives here is what a
 * CPU needs to run the thread and what the CPUs count about it.
 */
export const ThreadField = {
  /** the execution context (ContextField): written by whichever CPU runs the thread, so it can resume on any CPU */
  CONTEXT: 0,
  /**
   * SwapBusy: 1 from the moment the CPU running the thread asks the dispatcher something that may
   * switch it out until that CPU has finished switching away from it. A CPU told to run the thread
   * waits for 0 first (the SMP hand-off of §4.8).
   */
  SWAP_BUSY: ContextField.WORDS,
  /** bit per CPU it has run on (CPUs 0–31 / 32–63), set with Atomics.or by the CPU switching it in */
  RAN_ON_LO: ContextField.WORDS + 1,
  RAN_ON_HI: ContextField.WORDS + 2,
  /**
   * The thread's APC words (src/kernel/apc-state.ts, ApcThreadWords; why they live here is in that
   * module's header). KERNEL_APC_DISABLE and SPECIAL_APC_DISABLE: NT's KernelApcDisable and
   * SpecialApcDisable (0, or negative inside a critical / guarded region), written by whoever owns
   * the thread's execution (the CPU running it, or the dispatcher while it is blocked in a call).
   * KERNEL_APC_IN_PROGRESS: 1 while a normal kernel APC's NormalRoutine runs on it.
   */
  KERNEL_APC_DISABLE: ContextField.WORDS + 3,
  SPECIAL_APC_DISABLE: ContextField.WORDS + 4,
  KERNEL_APC_IN_PROGRESS: ContextField.WORDS + 5,
  /** ApcPendingBit: KernelApcPending, UserApcPending (Atomics.or / Atomics.and: the dispatcher and the running CPU both write it) */
  APC_PENDING: ContextField.WORDS + 6,
  /** ApcQueuedBit: the kernel / user APC list is non-empty (written by the dispatcher, which owns the lists) */
  APC_QUEUED: ContextField.WORDS + 7,
  /**
   * 1 + the kernel-call id of the system service the thread entered from user mode and has not yet
   * returned from (0: none). It travels with the thread: a service that blocks returns to user mode
   * on whichever CPU switches the thread back in, where the system-service exit checks it (src/kernel/service-call.ts).
   */
  SYSTEM_SERVICE: ContextField.WORDS + 8,
  WORDS: ContextField.WORDS + 9,
} as const;

/** Bits of ThreadField.APC_PENDING. */
export const ApcPendingBit = { KERNEL: 1, USER: 2 } as const;
/** Bits of ThreadField.APC_QUEUED. */
export const ApcQueuedBit = { KERNEL: 1, USER: 2 } as const;

/** Per-thread counters, as Float64 values, written by the CPU running the thread (index into a Float64Array, see MachineLayout.threadCounters). */
export const ThreadCounterField = {
  /** emulated ns it ran (switched in until switched out) */
  RUN_NS: 0,
  CONTEXT_SWITCHES: 1,
  WORDS: 2,
} as const;

/** Trace record (per-CPU trace ring, CPU → main), fixed size. */
export const TraceField = {
  TIME_LO: 0,
  TIME_HI: 1,
  EVENT: 2,
  A: 3,
  B: 4,
  C: 5,
  WORDS: 6,
} as const;

/**
 * One word per KINTERRUPT: its ActualLock, the interrupt spin lock an ISR holds while it runs and
 * KeSynchronizeExecution takes (0 free, else 1 + the owning CPU). Objects declared with the same
 * `lock` name share one word.
 */
export const InterruptLockField = { OWNER: 0, WORDS: 1 } as const;

export interface LayoutParams {
  cpus: number;
  /** thread records: the idle threads (one per CPU) and the scenario's threads */
  threads: number;
  dpcs: number;
  /** interrupt spin locks (KINTERRUPT ActualLock words) */
  interruptLocks: number;
  codeWords: number;
  memoryWords: number;
  /** data words of each message ring (power of two) */
  ringCapacity: number;
  /** data words of each CPU's trace ring (power of two) */
  traceCapacity: number;
  /** the scenario's devices (interrupt sources), for the per-CPU device counters; default 0 */
  devices?: number;
}

export interface MachineLayout {
  readonly params: LayoutParams;
  readonly actors: number;
  readonly totalWords: number;
  readonly control: number;
  doorbell(actor: number): number;
  prcb(cpu: number): number;
  /** index into a Float64Array over the buffer */
  counters(cpu: number): number;
  dpc(index: number): number;
  /** page `page` of emulated memory: 0 resident, 1 out of memory (pageable pages only; any CPU reads and writes it) */
  pageState(page: number): number;
  /** the record of thread table index `index` (thread id − 1) */
  thread(index: number): number;
  /** index into a Float64Array over the buffer */
  threadCounters(index: number): number;
  interruptLock(index: number): number;
  /** index into a Float64Array over the buffer: device `device`'s DeviceCounterField record at CPU `cpu` */
  deviceCounters(cpu: number, device: number): number;
  /** the ring carrying messages from actor `from` to actor `to` */
  ring(from: number, to: number): number;
  trace(cpu: number): number;
  readonly code: number;
  readonly memory: number;
}

const RING_WORDS = (capacity: number): number => RingHeader.WORDS + capacity;

/** Where everything sits, for a given machine. Word indices; Float64 regions are 8-byte aligned. */
export function computeLayout(params: LayoutParams): MachineLayout {
  const { cpus } = params;
  const actors = cpus + 2;
  let next = 0;
  const take = (words: number): number => {
    const at = next;
    next += words;
    return at;
  };
  const align2 = (): void => {
    if (next % 2 !== 0) next += 1;
  };
  const control = take(ControlField.WORDS);
  const doorbells = take(actors * DoorbellField.WORDS);
  const prcbs = take(cpus * PrcbField.WORDS);
  align2();
  const counters = take(cpus * CounterField.WORDS * 2);
  const threadCounters = take(Math.max(1, params.threads) * ThreadCounterField.WORDS * 2);
  const threads = take(Math.max(1, params.threads) * ThreadField.WORDS);
  const dpcs = take(Math.max(1, params.dpcs) * DpcField.WORDS);
  const pageStates = take(Math.ceil((params.memoryWords * 4) / 4096) + 1);
  const interruptLocks = take(Math.max(1, params.interruptLocks) * InterruptLockField.WORDS);
  const ringWords = RING_WORDS(params.ringCapacity);
  const rings = take(actors * actors * ringWords);
  const traceWords = RING_WORDS(params.traceCapacity);
  const traces = take(cpus * traceWords);
  const code = take(params.codeWords);
  const memory = take(params.memoryWords);
  align2();
  const devices = params.devices ?? 0;
  const deviceCounters = take(cpus * devices * DeviceCounterField.WORDS * 2);
  // the whole buffer is also viewed as Float64 (counters), so its size must be a multiple of 8 bytes
  align2();
  return {
    params,
    actors,
    totalWords: next,
    control,
    doorbell: (actor) => doorbells + actor * DoorbellField.WORDS,
    prcb: (cpu) => prcbs + cpu * PrcbField.WORDS,
    counters: (cpu) => counters / 2 + cpu * CounterField.WORDS,
    dpc: (index) => dpcs + index * DpcField.WORDS,
    pageState: (page) => pageStates + page,
    thread: (index) => threads + index * ThreadField.WORDS,
    threadCounters: (index) => threadCounters / 2 + index * ThreadCounterField.WORDS,
    interruptLock: (index) => interruptLocks + index * InterruptLockField.WORDS,
    deviceCounters: (cpu, device) => deviceCounters / 2 + (cpu * devices + device) * DeviceCounterField.WORDS,
    ring: (from, to) => rings + (from * actors + to) * ringWords,
    trace: (cpu) => traces + cpu * traceWords,
    code,
    memory,
  };
}
