// Unmapped memory faults (nt-semantics.md §1.5: 0x50, 0xD1, 0xA) in process (the in-process
// backend), deterministic mode; the cases: test/smp/memory-fault-cases.ts, which
// test/smp/memory-faults.test.ts runs in parallel mode on workers.
import { describeUnmappedMemoryFaults } from '../smp/memory-fault-cases.js';
import { runInProcess } from '../smp/harness.js';

describeUnmappedMemoryFaults('in deterministic mode, in process', {
  run: runInProcess,
  scenarioOptions: { mode: 'deterministic', backend: 'in-process' },
});
