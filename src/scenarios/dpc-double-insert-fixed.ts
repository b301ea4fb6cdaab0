/**
 * dpc-double-insert-fixed: dpc-double-insert with the pattern nt-semantics.md §9.4 asks for. Each
 * ISR adds its item to an interlocked count, then queues the DPC; the DPC takes the count with an
 * interlocked exchange until it reads 0. An insert that returns FALSE (the DPC already queued on the
 * other CPU) loses nothing: the queued run, or the one running, does its item.
 */

import { doubleInsert } from './dpc-double-insert.js';

export default doubleInsert(true);
