/**
 * timer-cancel-race-fixed: timer-cancel-race with a rundown. The DPC's last act is
 * KeSetEvent(DpcDone); an unload whose KeCancelTimer returned FALSE (the timer already expired, so
 * its DPC is queued, running or done) waits for that event before it frees the context. The free can
 * no longer overtake the DPC, on any seed or CPU.
 */

import { timerCancelRace } from './timer-cancel-race.js';

export default timerCancelRace(true);
