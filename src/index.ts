/**
 * irqlab's public API: define scenarios, load them, run them. Everything else is internal.
 *
 *   import { defineScenario, R0, R1 } from 'irqlab';
 *   export default defineScenario({ name, description, routines: { … }, … });
 */

export { defineScenario, relativeTime, largeInteger } from './scenario/define.js';
export type {
  ScenarioDefinition,
  MachineDefaults,
  MemoryDeclaration,
  DpcDeclaration,
  DpcImportance,
  InterruptDeclaration,
  DeviceDeclaration,
  ThreadDeclaration,
  EventDeclaration,
  SemaphoreDeclaration,
  MutexDeclaration,
  TimerDeclaration,
  NativeRoutine,
  NativeMachineView,
  RunView,
  CheckDeclaration,
} from './scenario/define.js';
export * from './isa/registers.js';
export type { RoutineBuilder } from './isa/builder.js';
export { KERNEL_CALLS } from './isa/kcalls.js';
export type { KernelCallName } from './isa/kcalls.js';
export { loadScenario } from './scenario/load.js';
export type { LoadedScenario } from './scenario/load.js';
export { runScenario } from './machine/run.js';
export type { RunOptions, RunScenarioOptions, RunEventHandlers, MachineEvents } from './machine/run.js';
export type { Pace } from './contract/config.js';
export { DEFAULT_SLACK_NS } from './contract/config.js';
export type { BugcheckReport, ReportFrame } from './ipc/messages.js';
export { TraceEvent, traceEventName } from './kernel/trace-events.js';
export { ExitCode } from './machine/result.js';
export type { RunResult, CpuSummary, ThreadSummary, LatencySummary, BugcheckInfo, CheckResult, RunMode, Arch } from './machine/result.js';
export { BUGCHECK, bugcheckName } from './kernel/bugcheck.js';
export { BreaktraceStopped } from './machine/latency-breaktrace.js';
export type { BreaktraceInfo, BreaktraceOptions } from './machine/latency-breaktrace.js';
export type {
  LatencyReport,
  LatencyDistribution,
  LatencySeriesReport,
  RoutineExecutionReport,
  DriverExecutionReport,
  LatencyBudgetResult,
  CpuFrozenState,
  FrozenDpc,
  FrozenSpinLock,
  FrozenReadyThread,
} from './machine/result.js';
export { replayFile } from './explore/replay.js';
export type { ReplayFileOptions, ReplayVerdict, RecordedRun } from './explore/replay.js';
export type { ReplayFile, ReplayRecord, ReplayScenario, ReplayOutcome } from './explore/replay-file.js';
