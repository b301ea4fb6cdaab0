// Worker entry for one emulated CPU: wiring only. It builds the views, the transport and the
// Processor from its startup data, reports ready, waits for the run to start, and runs the
// mode's driver loop until the run stops or the machine freezes.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerData } from '../src/contract/config.js';
import { computeLayout } from '../src/shm/layout.js';
import { actorOfCpu, Kind, MAIN_ACTOR } from '../src/ipc/messages.js';
import { createWorkerPort, spinBeforeSleepFor, waitForRunStart, workerHostClock, loadNatives } from '../src/ipc/worker-port.js';
import { Processor } from '../src/cpu/processor.js';
import { runDeterministicLoop, runHostPacedLoop, runVirtualTimeLoop } from '../src/cpu/driver.js';
import { VirtualTimeBoard } from '../src/shm/virtual-time.js';

const data = workerData as WorkerData;
const config = data.compiled.processors[data.cpu]!;
const layout = computeLayout(config.layout);
const traceCpu = config.traceToMain ? data.cpu : -1;
const port = createWorkerPort(data.sab, layout, actorOfCpu(data.cpu), parentPort!, traceCpu, config.mode === 'parallel', spinBeforeSleepFor(config));
const clock = workerHostClock(data.sab, layout, config.timeScale);
const processor = new Processor(config, data.sab, layout, port, clock.now);
processor.natives = await loadNatives(config.nativeModule, config.nativeNames);
port.send(MAIN_ACTOR, Kind.READY, 1, actorOfCpu(data.cpu));
port.flush();
waitForRunStart(data.sab, layout);
clock.calibrate();
if (config.mode === 'deterministic') runDeterministicLoop(processor, port);
else if (config.pace === 'host') runHostPacedLoop(processor, port, clock.now);
else runVirtualTimeLoop(processor, port, new VirtualTimeBoard(new Int32Array(data.sab), new Float64Array(data.sab), layout));
processor.countUndeliveredInterrupts();
port.drain(100);
