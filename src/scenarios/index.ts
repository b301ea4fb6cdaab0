/**
 * The built-in scenarios, run by name (`irqlab run interrupt-storm`). Each entry names its module
 * so that `irqlab list` does not load every scenario, and so that workers can import a scenario's
 * native routines by path.
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
];

export function findBuiltinScenario(name: string): BuiltinScenario | undefined {
  return BUILTIN_SCENARIOS.find((scenario) => scenario.name === name);
}
