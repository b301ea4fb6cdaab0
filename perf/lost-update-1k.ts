// The scaled-down lost-update perf/explore.ts explores: 1,000 increments per thread in each phase, 1 ms of emulated time.
import { lostUpdateScenario } from '../src/scenarios/lost-update.js';

export default lostUpdateScenario(1000, 1);
