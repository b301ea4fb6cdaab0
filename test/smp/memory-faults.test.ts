// Unmapped memory faults in parallel mode, on real workers (the cases: memory-fault-cases.ts; the
// same cases in deterministic mode run in process, test/cpu/memory-faults.test.ts).
import { describeUnmappedMemoryFaults } from './memory-fault-cases.js';
import { runOnWorkers } from './harness.js';

describeUnmappedMemoryFaults('in parallel mode, on workers', {
  run: (definition, options) => runOnWorkers(definition, { ...options, mode: 'parallel' }),
  scenarioOptions: { mode: 'parallel' },
});
