// Worker entry for the coordinator: wiring only. It builds the views, the transport and the
// Coordinator from its startup data, reports ready, waits for the run to start, and runs the mode's loop.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerData } from '../src/contract/config.js';
import { computeLayout } from '../src/shm/layout.js';
import { COORDINATOR_ACTOR, Kind, MAIN_ACTOR } from '../src/ipc/messages.js';
import { createWorkerPort, spinBeforeSleepFor, waitForRunStart, workerHostClock } from '../src/ipc/worker-port.js';
import { Coordinator } from '../src/coordinator/coordinator.js';
import { VirtualTimeBoard } from '../src/shm/virtual-time.js';

const data = workerData as WorkerData;
const config = data.compiled.machine;
const layout = computeLayout(config.layout);
const port = createWorkerPort(data.sab, layout, COORDINATOR_ACTOR, parentPort!, -1, config.mode === 'parallel', spinBeforeSleepFor(config));
const clock = workerHostClock(data.sab, layout, config.timeScale);
const coordinator = new Coordinator(config, data.compiled.devices, data.sab, layout, port, clock.now);
port.send(MAIN_ACTOR, Kind.READY, 1, COORDINATOR_ACTOR);
port.flush();
waitForRunStart(data.sab, layout);
clock.calibrate();
coordinator.bootThreads();
if (config.mode === 'deterministic') coordinator.runDeterministic();
else if (config.pace === 'host') coordinator.runHostPaced();
else coordinator.runVirtualTime(new VirtualTimeBoard(new Int32Array(data.sab), new Float64Array(data.sab), layout));
// after a bugcheck the frozen CPUs read nothing more: nothing to wait for
port.drain(coordinator.endedBy === 'bugcheck' ? 0 : 5000);
coordinator.countBackloggedInterrupts();
