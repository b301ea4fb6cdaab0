/**
 * The kernel calls an emulated program can make, by their WDK (or ReactOS Ki*) names so they can be
 * searched. A `kcall` instruction names one of these by id; its arguments are operands (registers
 * or immediates) and its result lands in r0. The numbers are part of the program image format:
 * append new calls, never renumber.
 *
 * Each is implemented by one handler in the kernel module of its object (src/kernel/dpc.ts,
 * spinlock.ts, …; the table, checked by the compiler: src/kernel/kcall-table.ts); the builder (src/isa/builder.ts) offers
 * a typed method for each. Who may call what at which IRQL is enforced by the implementation,
 * not here; who may call what in which processor mode is marked here (`service`, `user`) and
 * enforced by the CPU (src/cpu/cpu-core.ts kernelCall; src/kernel/service-call.ts's header).
 */

export interface KernelCallSpec {
  readonly id: number;
  readonly name: string;
  /** argument names, for the builder, the disassembler and error messages */
  readonly args: readonly string[];
  /** one line for docs and `irqlab` help */
  readonly doc: string;
  /**
   * A system service: user-mode code may call it. The call enters kernel mode for its duration,
   * and its return to user mode is a system-service exit (the 0x4A / 0x1 checks, then one pending
   * user APC): src/kernel/service-call.ts. Every other call is kernel-only: from user mode it is
   * 0x1E STATUS_PRIVILEGED_INSTRUCTION (emulator policy).
   */
  readonly service?: boolean;
  /** Callable from user mode without entering the kernel (what a Win32 program reads from its TEB or the hardware). */
  readonly user?: boolean;
}

const table = [
  { name: 'KeGetCurrentIrql', args: [], doc: 'r0 = the current IRQL' },
  { name: 'KeRaiseIrql', args: ['newIrql'], doc: 'raise to newIrql (0x9 if lower than the current IRQL); r0 = old IRQL' },
  { name: 'KeLowerIrql', args: ['newIrql'], doc: 'lower to newIrql (0xA if higher than the current IRQL); pending interrupts are delivered' },
  { name: 'KeRaiseIrqlToDpcLevel', args: [], doc: 'raise to DISPATCH_LEVEL; r0 = old IRQL' },
  { name: 'KeGetCurrentProcessorNumber', args: [], doc: "r0 = this CPU's number (user mode too: GetCurrentProcessorNumber)", user: true },
  { name: 'KeInitializeDpc', args: ['dpc', 'routine', 'context'], doc: 'reinitialise a declared KDPC: routine, context, Medium importance, untargeted' },
  {
    name: 'KeInsertQueueDpc',
    args: ['dpc', 'systemArgument1', 'systemArgument2'],
    doc: 'queue a DPC; r0 = FALSE if it was already queued (arguments then dropped)',
  },
  { name: 'KeRemoveQueueDpc', args: ['dpc'], doc: 'dequeue a DPC; r0 = TRUE if it was queued' },
  { name: 'KeSetImportanceDpc', args: ['dpc', 'importance'], doc: 'Low 0, Medium 1, High 2, MediumHigh 3; takes effect at the next insert' },
  { name: 'KeSetTargetProcessorDpc', args: ['dpc', 'cpu'], doc: 'target the DPC at a CPU; takes effect at the next insert' },
  { name: 'KeIsExecutingDpc', args: [], doc: 'r0 = TRUE while a DPC routine is running on this CPU' },
  { name: 'KeIpiGenericCall', args: ['routine', 'argument'], doc: 'run routine(argument) on every CPU at IPI_LEVEL at once; r0 = its result on this CPU' },
  {
    name: 'KiIpiSendPacket',
    args: ['targetMask', 'routine', 'argument'],
    doc: 'run routine(argument) at IPI_LEVEL on each CPU in targetMask; returns when all have acknowledged',
  },
  { name: 'KeBugCheckEx', args: ['code', 'p1', 'p2', 'p3', 'p4'], doc: 'stop the machine with this bugcheck' },
  { name: 'KeStallExecutionProcessor', args: ['microseconds'], doc: 'busy-wait this many emulated microseconds (interrupts still taken)' },
  { name: 'KeQueryInterruptTime', args: [], doc: 'r0 = interrupt time in 100 ns units as of the last clock tick (low 32 bits)' },
  { name: 'KeQueryTickCount', args: [], doc: 'r0 = clock ticks since boot' },
  {
    name: 'HalRequestSoftwareInterrupt',
    args: ['irql'],
    doc: 'request a DISPATCH (2) or APC (1) software interrupt on this CPU: taken when the IRQL drops below that level (APC: KiDeliverApc on the running thread)',
  },
  {
    name: 'KeSynchronizeExecution',
    args: ['interrupt', 'routine', 'context'],
    doc: "raise to the interrupt's SynchronizeIrql, take its lock, r0 = routine(context)",
  },
  { name: 'KeQueryPerformanceCounter', args: [], doc: 'r0 = emulated time in ns (a 1 GHz performance counter), low 32 bits (user mode too)', user: true },
  // ---- threads and the dispatcher
  { name: 'KeRaiseIrqlToSynchLevel', args: [], doc: 'raise to SYNCH_LEVEL; r0 = old IRQL' },
  { name: 'KeGetCurrentThread', args: [], doc: 'r0 = the running thread (its object id; user mode too: GetCurrentThreadId)', user: true },
  {
    name: 'KeSetEvent',
    args: ['event', 'increment', 'wait'],
    doc: 'signal an event; r0 = previous state; wakes waiters (boosted by increment); Wait = TRUE keeps the dispatcher lock for the wait that must follow',
  },
  { name: 'KeResetEvent', args: ['event'], doc: 'reset an event; r0 = previous state' },
  { name: 'KeClearEvent', args: ['event'], doc: 'reset an event' },
  { name: 'KePulseEvent', args: ['event', 'increment', 'wait'], doc: 'release the waiters, then reset; r0 = previous state' },
  { name: 'KeReadStateEvent', args: ['event'], doc: "r0 = the event's signal state" },
  {
    name: 'KeReleaseSemaphore',
    args: ['semaphore', 'increment', 'adjustment', 'wait'],
    doc: 'add adjustment to the count; r0 = previous count; past the limit raises STATUS_SEMAPHORE_LIMIT_EXCEEDED',
  },
  { name: 'KeReadStateSemaphore', args: ['semaphore'], doc: "r0 = the semaphore's count" },
  { name: 'KeReleaseMutex', args: ['mutex', 'wait'], doc: 'release a mutex the caller owns; r0 = previous state; a non-owner raises STATUS_MUTANT_NOT_OWNED' },
  { name: 'KeReleaseMutant', args: ['mutant', 'increment', 'abandon', 'wait'], doc: 'release (or abandon) a mutant; r0 = previous state' },
  { name: 'KeReadStateMutex', args: ['mutex'], doc: "r0 = the mutex's signal state (1 free, ≤ 0 owned)" },
  {
    name: 'KeWaitForSingleObject',
    args: ['object', 'waitReason', 'waitMode', 'alertable', 'timeout'],
    doc: 'wait for an object; timeout = address of a LARGE_INTEGER (0: none, wait forever; *timeout == 0: poll); r0 = STATUS_WAIT_0, STATUS_ABANDONED_WAIT_0 or STATUS_TIMEOUT',
  },
  {
    name: 'KeWaitForMultipleObjects',
    args: ['count', 'objects', 'waitType', 'waitReason', 'waitMode', 'alertable', 'timeout', 'waitBlockArray'],
    doc: 'wait for count objects listed at address objects; WaitAll 0 / WaitAny 1; more than 3 need a waitBlockArray; r0 = STATUS_WAIT_0 + index, …',
  },
  { name: 'ZwYieldExecution', args: [], doc: 'give the CPU to a ready thread of this CPU; r0 = STATUS_SUCCESS or STATUS_NO_YIELD_PERFORMED' },
  { name: 'KeSetPriorityThread', args: ['thread', 'priority'], doc: "set the thread's priority (1–31); r0 = old priority" },
  { name: 'KeQueryPriorityThread', args: ['thread'], doc: "r0 = the thread's current priority" },
  {
    name: 'PsCreateSystemThread',
    args: ['thread', 'startContext'],
    doc: "start a declared thread with start: 'created' (startContext in r1); r0 = STATUS_SUCCESS",
  },
  { name: 'PsTerminateSystemThread', args: ['exitStatus'], doc: 'end the calling thread (its thread object becomes signaled)' },
  { name: 'KeAcquireSpinLock', args: ['lock'], doc: 'raise to DISPATCH_LEVEL and take the spin lock (spinning with interrupts on); r0 = old IRQL' },
  { name: 'KeReleaseSpinLock', args: ['lock', 'newIrql'], doc: 'release the spin lock, then lower to newIrql' },
  { name: 'KeAcquireSpinLockAtDpcLevel', args: ['lock'], doc: 'take the spin lock without raising (callers are at DISPATCH_LEVEL)' },
  { name: 'KeReleaseSpinLockFromDpcLevel', args: ['lock'], doc: 'release the spin lock without lowering' },
  { name: 'KeTryToAcquireSpinLockAtDpcLevel', args: ['lock'], doc: 'take the spin lock if it is free; r0 = TRUE if taken' },
  {
    name: 'KeAcquireInStackQueuedSpinLock',
    args: ['lock', 'handle'],
    doc: 'raise to DISPATCH_LEVEL and take a queued spin lock (FIFO); handle = address of a 3-word KLOCK_QUEUE_HANDLE',
  },
  { name: 'KeReleaseInStackQueuedSpinLock', args: ['handle'], doc: "release a queued spin lock to the next waiter, then lower to the handle's old IRQL" },
  { name: 'KeAcquireInStackQueuedSpinLockAtDpcLevel', args: ['lock', 'handle'], doc: 'take a queued spin lock without raising' },
  { name: 'KeReleaseInStackQueuedSpinLockFromDpcLevel', args: ['handle'], doc: 'release a queued spin lock without lowering' },
  // ---- time and timers
  { name: 'KeQuerySystemTime', args: ['currentTime'], doc: 'write the system time (100 ns since 1601, a LARGE_INTEGER) at address currentTime' },
  { name: 'KeQueryTimeIncrement', args: [], doc: 'r0 = the clock increment in 100 ns units (156250 for 15.625 ms)' },
  { name: 'KeInitializeTimer', args: ['timer'], doc: 'reinitialise a timer as a notification timer, not set, not signaled' },
  { name: 'KeInitializeTimerEx', args: ['timer', 'type'], doc: 'reinitialise a timer: NotificationTimer 0, SynchronizationTimer 1' },
  {
    name: 'KeSetTimer',
    args: ['timer', 'dueTime', 'dpc'],
    doc: 'set a timer; dueTime = address of a LARGE_INTEGER (negative: relative, 100 ns; positive: absolute system time); dpc may be 0; r0 = TRUE if it was already set',
  },
  {
    name: 'KeSetTimerEx',
    args: ['timer', 'dueTime', 'period', 'dpc'],
    doc: 'KeSetTimer with a period in milliseconds (re-armed at each expiry); r0 = TRUE if it was already set',
  },
  { name: 'KeCancelTimer', args: ['timer'], doc: 'cancel a timer; r0 = TRUE if it was set (a DPC already queued stays queued)' },
  { name: 'KeReadStateTimer', args: ['timer'], doc: "r0 = the timer's signal state" },
  {
    name: 'KeDelayExecutionThread',
    args: ['waitMode', 'alertable', 'interval'],
    doc: 'sleep; interval = address of a LARGE_INTEGER (negative: relative); r0 = STATUS_SUCCESS; from a DPC: 0xB8',
  },
  { name: 'KeSetSystemTime', args: ['newTime'], doc: 'set the system time (absolute timers move with it); r0 = the change, low 32 bits' },
  {
    name: 'KeQueryDpcWatchdogInformation',
    args: ['information'],
    doc: 'write DpcTimeLimit, DpcTimeCount, DpcWatchdogLimit, DpcWatchdogCount (ticks; counts are the time remaining) at address information; r0 = STATUS_SUCCESS inside a DPC, else STATUS_UNSUCCESSFUL',
  },
  // ---- APCs (nt-semantics.md §5)
  {
    name: 'KeInitializeApc',
    args: ['apc', 'thread', 'environment'],
    doc: 'initialise a declared KAPC for a thread (0: the current one) with its declared routines, mode and context; environment: OriginalApcEnvironment 0, CurrentApcEnvironment 2; r0 = FALSE if it is still inserted',
  },
  {
    name: 'KeInsertQueueApc',
    args: ['apc', 'systemArgument1', 'systemArgument2', 'increment'],
    doc: 'queue an APC to its thread (specials ahead of normal kernel APCs); r0 = FALSE if already inserted, not initialised or the thread is exiting; a thread running elsewhere gets IPI(APC), a waiting one is unwaited',
  },
  { name: 'KeRemoveQueueApc', args: ['apc'], doc: 'unlink a queued APC; r0 = TRUE if it was queued' },
  { name: 'KeAreApcsDisabled', args: [], doc: 'r0 = TRUE inside a critical or guarded region' },
  { name: 'KeAreAllApcsDisabled', args: [], doc: 'r0 = TRUE inside a guarded region or at APC_LEVEL or above' },
  { name: 'KeEnterCriticalRegion', args: [], doc: 'hold off normal kernel APCs and user APCs for the running thread (nests)' },
  { name: 'KeLeaveCriticalRegion', args: [], doc: 'leave a critical region; at the outermost, queued kernel APCs are delivered (at once at PASSIVE_LEVEL)' },
  { name: 'KeEnterGuardedRegion', args: [], doc: 'hold off every APC, special kernel APCs too, for the running thread (nests)' },
  { name: 'KeLeaveGuardedRegion', args: [], doc: 'leave a guarded region; at the outermost, queued kernel APCs are delivered' },
  {
    name: 'KeAlertThread',
    args: ['thread', 'mode'],
    doc: 'alert a thread (KernelMode 0, UserMode 1): an alertable wait of that mode ends with STATUS_ALERTED; r0 = the previous Alerted',
  },
  {
    name: 'KeTestAlertThread',
    args: ['mode'],
    doc: 'r0 = TRUE (and cleared) if the running thread was alerted in mode; in user mode with user APCs queued, one is made pending',
  },
  // ---- user mode and system services (helper U; src/kernel/service-call.ts)
  {
    name: 'ExGetPreviousMode',
    args: [],
    doc: 'r0 = the previous processor mode: UserMode 1 in a user-mode routine or in kernel code a user-mode call entered (a system service, a driver it calls), else KernelMode 0',
    user: true,
  },
  {
    name: 'NtWaitForSingleObject',
    args: ['object', 'alertable', 'timeout'],
    doc: "service: WaitForSingleObjectEx: wait in the caller's mode (UserRequest); timeout = address of a LARGE_INTEGER (0: none); r0 = STATUS_WAIT_0, STATUS_TIMEOUT, STATUS_USER_APC (0xC0, WAIT_IO_COMPLETION: an alertable user-mode wait ran a user APC on its way out) or STATUS_ALERTED",
    service: true,
  },
  {
    name: 'SleepEx',
    args: ['milliseconds', 'alertable'],
    doc: 'service: NtDelayExecution for milliseconds (0xFFFFFFFF: INFINITE); r0 = 0, or WAIT_IO_COMPLETION (0xC0) when an alertable sleep was ended by a user APC, which has run by the time it returns',
    service: true,
  },
  {
    name: 'NtTestAlert',
    args: [],
    doc: 'service: r0 = STATUS_ALERTED if the thread was alerted in user mode, else STATUS_SUCCESS; with user APCs queued, one runs on the return to user mode',
    service: true,
  },
  {
    name: 'QueueUserAPC',
    args: ['routine', 'thread', 'data'],
    doc: 'service: NtQueueApcThread: queue a user APC to a user-mode thread (0: the caller) that runs routine(data) in user mode at its next alertable wait or NtTestAlert; r0 = TRUE, or FALSE if the thread is no user-mode thread or is exiting',
    service: true,
  },
  // ---- the I/O path (nt-semantics.md §8; helper IO, src/kernel/io-call.ts)
  { name: 'IoMarkIrpPending', args: ['irp'], doc: 'mark the IRP pending (SL_PENDING_RETURNED): the dispatch routine must then return STATUS_PENDING (0x103)' },
  {
    name: 'IoCompleteRequest',
    args: ['irp', 'boost'],
    doc: "complete an IRP with the IoStatus stored in its record (words 0 Status, 1 Information); at ≤ DISPATCH_LEVEL (else 0xC9); a pended IRP's completion APC runs IopCompleteRequest in the issuing thread",
  },
  {
    name: 'NtReadFile',
    args: ['file', 'event', 'apcRoutine', 'apcContext', 'iosb', 'buffer', 'length'],
    doc: "service: send IRP_MJ_READ to the file's driver; event 0: none; apcRoutine −1: none, else run in user mode as apcRoutine(apcContext, iosb, 0) after completion (an alertable wait); r0 = the NTSTATUS (STATUS_PENDING: completes later; a synchronous file waits for the final status)",
    service: true,
  },
  {
    name: 'ReadFile',
    args: ['file', 'buffer', 'length', 'iosb'],
    doc: 'service: NtReadFile without event or completion routine; on a synchronous file it waits for completion; r0 = the NTSTATUS (the final one on a synchronous file); iosb may be 0',
    service: true,
  },
  {
    name: 'ReadFileEx',
    args: ['file', 'buffer', 'length', 'overlapped', 'completionRoutine'],
    doc: "service: NtReadFile with a completion routine run in user mode as completionRoutine(overlapped, overlapped, 0) at the thread's next alertable wait; the OVERLAPPED's first two words receive Status and Information; r0 = the NTSTATUS (STATUS_PENDING: queued)",
    service: true,
  },
  {
    name: 'DeviceIoControl',
    args: ['file', 'ioControlCode', 'buffer', 'length', 'iosb'],
    doc: "service: send IRP_MJ_DEVICE_CONTROL (the code in the IRP record's word 7) to the file's driver; waits like ReadFile on a synchronous file; r0 = the NTSTATUS",
    service: true,
  },
  // ---- APCs, continued (src/kernel/apc-call.ts)
  {
    name: 'KeFlushQueueApc',
    args: ['thread', 'mode'],
    doc: "remove every APC of mode (KernelMode 0, UserMode 1) from a thread's queue (0: the current one), each no longer inserted and none run (the caller owns them), and clear that mode's APC-pending flag; r0 = how many were removed (emulator policy: NT returns the list, NULL when empty: 0 here)",
  },
] as const;

export type KernelCallName = (typeof table)[number]['name'];

export const KERNEL_CALLS: readonly KernelCallSpec[] = table.map((entry, id) => ({ id, ...entry }));

const byName = new Map<string, KernelCallSpec>(KERNEL_CALLS.map((spec) => [spec.name, spec]));

export function kernelCallByName(name: string): KernelCallSpec | undefined {
  return byName.get(name);
}

export function kernelCallById(id: number): KernelCallSpec | undefined {
  return KERNEL_CALLS[id];
}

/** Kernel call ids by name, for switch statements in the implementation. */
export const KC = Object.fromEntries(KERNEL_CALLS.map((spec) => [spec.name, spec.id])) as {
  readonly [K in KernelCallName]: number;
};
