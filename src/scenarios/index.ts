/**
 * The built-in scenarios, run by name (`irqlab run interrupt-storm`). Each entry names its module
 * so that `irqlab list` does not load every scenario, and so that workers can import a scenario's
 * native routines by path.
 *
 * Two of them reproduce the drivers of the articles the project started from (README, "The source
 * articles"); they are named by the articles' titles, never as "seeds", which `--seed` means.
 */

export interface BuiltinScenario {
  name: string;
  description: string;
  /** module file name next to this one (built: dist/src/scenarios/<file>) */
  file: string;
}

export const BUILTIN_SCENARIOS: readonly BuiltinScenario[] = [
  {
    name: 'interrupt-storm',
    description: 'devices at different DIRQLs hammer N CPUs; ISRs queue DPCs, the NIC DPC wakes a receive thread; shows masking and nesting',
    file: 'interrupt-storm.js',
  },
  {
    name: 'ipi-pingpong',
    description: 'two CPUs bounce an IPI packet back and forth; measures the IPI round trip',
    file: 'ipi-pingpong.js',
  },
  {
    name: 'dpc-importance',
    description: 'KeInsertQueueDpc request rules side by side: Low/Medium/High, local and remote, busy and idle targets',
    file: 'dpc-importance.js',
  },
  {
    name: 'lost-update',
    description: 'two CPUs add 1 to a shared counter N times each: plain load/add/store loses updates, a spin lock and an interlocked add do not',
    file: 'lost-update.js',
  },
  {
    name: 'priority-preemption',
    description: 'a PASSIVE thread sets an event that wakes a higher-priority thread on its CPU and is preempted inside KeSetEvent; head vs tail queueing',
    file: 'priority-preemption.js',
  },
  {
    name: 'dpc-spinlock-deadlock',
    description: 'a PASSIVE thread takes a spin lock without raising; its DPC on the same CPU spins on it forever; the deadlock detector names both',
    file: 'dpc-spinlock-deadlock.js',
  },
  {
    name: 'scheduler-mix',
    description: 'threads of several priorities and affinities on N CPUs waiting on a semaphore and events: migration, stealing, round robin',
    file: 'scheduler-mix.js',
  },
  {
    name: 'periodic-dpc-timer',
    description:
      "the DPC timer driver of the Chinese article on IRQL, APC and DPC (section 'DPC 延迟调用'): a KTIMER re-armed from its own DPC every 3 s; DriverUnload cancels it",
    file: 'periodic-dpc-timer.js',
  },
  {
    name: 'irql-test',
    description: "the driver of the article 'Windows IRQL 1': a DPC set by a 10 s timer calls KeDelayExecutionThread and crashes with 0xB8",
    file: 'irql-test.js',
  },
  {
    name: 'paged-at-dispatch',
    description: 'a paged-pool touch at PASSIVE pages in and continues; the same touch under a spin lock is 0xD1 with P2 = 2',
    file: 'paged-at-dispatch.js',
  },
  {
    name: 'dpc-watchdog',
    description: 'a DPC routine that polls forever: 0x133 DPC_WATCHDOG_VIOLATION with P1 = 0 after DpcTimeLimit ticks',
    file: 'dpc-watchdog.js',
  },
  {
    name: 'dpc-list-race',
    description: 'a PASSIVE thread pushes requests on a list a DPC drains, no lock: lost nodes, requests completed twice, a cycle that ends in 0x139',
    file: 'dpc-list-race.js',
  },
  {
    name: 'dpc-list-race-fixed',
    description: 'dpc-list-race with the spin lock: KeAcquireSpinLock in the thread, KeAcquireSpinLockAtDpcLevel in the DPC; every request completes once',
    file: 'dpc-list-race-fixed.js',
  },
  {
    name: 'dpc-double-insert',
    description: 'two CPUs KeInsertQueueDpc one KDPC at once; the second insert returns FALSE and a driver counting work per insert loses an item',
    file: 'dpc-double-insert.js',
  },
  {
    name: 'dpc-double-insert-fixed',
    description: 'dpc-double-insert with an interlocked work count the DPC drains: a coalesced insert loses nothing',
    file: 'dpc-double-insert-fixed.js',
  },
  {
    name: 'timer-cancel-race',
    description: "KeCancelTimer returns FALSE while the timer's DPC runs on another CPU; the driver frees the DPC's context anyway: 0xD5",
    file: 'timer-cancel-race.js',
  },
  {
    name: 'timer-cancel-race-fixed',
    description: 'timer-cancel-race with a rundown: when KeCancelTimer returns FALSE the unload waits for the DPC to signal an event before freeing',
    file: 'timer-cancel-race-fixed.js',
  },
  {
    name: 'isr-torn-read',
    description: 'an ISR writes a two-word value that PASSIVE readers load word by word: a torn read when the interrupt lands between the loads',
    file: 'isr-torn-read.js',
  },
  {
    name: 'isr-torn-read-fixed',
    description: 'isr-torn-read with the reads under KeSynchronizeExecution: the ISR cannot run between the two loads, no read is torn',
    file: 'isr-torn-read-fixed.js',
  },
  {
    name: 'apc-delivery',
    description:
      "kernel APCs of the article 'System mechanisms 05 - APC': special vs normal in a critical region, a guarded region, APC_LEVEL, and an IPI(APC) to a thread on the other CPU",
    file: 'apc-delivery.js',
  },
  {
    name: 'irql-test-fixed',
    description:
      "the driver of the article 'Windows IRQL 1' without the KeDelayExecutionThread in its DPC: the DPC completes the IRP, ReadFile returns STATUS_SUCCESS",
    file: 'irql-test-fixed.js',
  },
  {
    name: 'readfileex-completion',
    description:
      "a ReadFileEx completion routine (articles 'System mechanisms 05 - APC' and 'Software IRQL'): not run in a non-alertable wait though the IOSB is written; run by an alertable SleepEx in user mode; QueueUserAPC + SleepEx",
    file: 'readfileex-completion.js',
  },
  {
    name: 'apc-index-mismatch',
    description: 'a DeviceIoControl dispatch routine enters a guarded region and returns without leaving it: the return to user mode is 0x1 APC_INDEX_MISMATCH',
    file: 'apc-index-mismatch.js',
  },
];

export function findBuiltinScenario(name: string): BuiltinScenario | undefined {
  return BUILTIN_SCENARIOS.find((scenario) => scenario.name === name);
}
