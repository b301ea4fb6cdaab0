/**
 * The child process of perf/sample.ts: `node dist/perf/sample-child.js '<RunSpec[] as JSON>'` runs
 * the specs one after another and prints one JSON line, a RunSample per spec; a failed run (a
 * bugcheck, a bad spec) is one line on stderr starting `irqlab bench: `, exit 1. Owned by perf/.
 */

import { holdingEventLoop } from './common.js';
import { type RunSpec, runSpecsAndPrint } from './sample.js';

try {
  await holdingEventLoop(() => runSpecsAndPrint(JSON.parse(process.argv[2] ?? '[]') as RunSpec[]));
} catch (error) {
  process.stderr.write(`irqlab bench: ${((error as Error).message ?? String(error)).split('\n', 1)[0]}\n`);
  process.exit(1);
}
