// Worker entry for one `irqlab run` (the command's pipeline): wiring only. The main thread
// supervises it (src/cli/supervisor.ts): it relays this worker's output and stops it on a signal
// or when the scenario's own code does not return within --code-timeout.
import { parentPort, workerData } from 'node:worker_threads';
import { runCli } from '../src/cli/main.js';
import type { PipelineData } from '../src/cli/supervisor.js';
import type { PipelineMessage } from '../src/ipc/messages.js';

const data = workerData as PipelineData;
const post = (message: PipelineMessage): void => parentPort!.postMessage(message);
const stderr = { isTTY: data.stderrIsTTY, write: (text: string) => post({ type: 'stderr', text }) };
const code = await runCli(
  data.argv,
  {
    stdout: { write: (text: string) => post({ type: 'stdout', text }) },
    stderr: data.stderrColumns === undefined ? stderr : { ...stderr, columns: data.stderrColumns },
    env: process.env,
  },
  { scenarioCode: { enter: (scenario, what) => post({ type: 'enter', scenario, what }), leave: () => post({ type: 'leave' }) }, handleSignals: false },
);
post({ type: 'exit', code });
