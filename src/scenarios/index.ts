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
    description: 'devices at different DIRQLs hammer N CPUs; ISRs queue DPCs; shows masking and nesting',
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
];

export function findBuiltinScenario(name: string): BuiltinScenario | undefined {
  return BUILTIN_SCENARIOS.find((scenario) => scenario.name === name);
}
