/**
 * dpc-list-race-fixed: dpc-list-race with the list's spin lock. The thread takes it with
 * KeAcquireSpinLock, which raises it to DISPATCH_LEVEL first (so the DPC cannot cut in on its own
 * CPU either); the DPC, already at DISPATCH_LEVEL, takes it with KeAcquireSpinLockAtDpcLevel
 * (nt-semantics.md §6.1). Every request completes exactly once, on every seed and in parallel mode.
 */

import { listRace } from './dpc-list-race.js';

export default listRace(true);
