/**
 * The program `npm run profile` puts under clinic: one scenario run on the in-process backend
 * (deterministic mode), so the coordinator, every CPU and the interpreter run in this one thread
 * and a sampling profiler that sees only the main thread sees all of them. Run by perf/profile.ts;
 * `node dist/perf/profile-target.js <scenario> [--cpus N] [--duration MS] [--seed S] [--repeat K]`.
 */

import { parseArgs } from 'node:util';
import { loadScenario, runScenario } from '../src/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { cpus: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' }, repeat: { type: 'string' } },
});
const name = positionals[0];
if (name === undefined) {
  process.stderr.write('irqlab profile: name a scenario (a built-in or a file)\n');
  process.exit(1);
}
const loaded = await loadScenario(name);
const repeat = values.repeat === undefined ? 1 : Number(values.repeat);
const started = performance.now();
let instructions = 0;
for (let i = 0; i < repeat; i++) {
  const result = await runScenario(loaded, {
    mode: 'deterministic',
    backend: 'in-process',
    ...(values.cpus !== undefined ? { cpus: Number(values.cpus) } : {}),
    ...(values.duration !== undefined ? { durationNs: Number(values.duration) * 1e6 } : {}),
    ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
  });
  instructions += result.perCpu.reduce((sum, cpu) => sum + cpu.instructions, 0);
}
const ms = performance.now() - started;
process.stderr.write(
  `irqlab profile: ${repeat} run(s) of ${loaded.definition.name}, ${instructions} emulated instructions in ${ms.toFixed(0)} ms of host time\n`,
);
loaded.dispose();
