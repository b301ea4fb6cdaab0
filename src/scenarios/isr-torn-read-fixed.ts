/**
 * isr-torn-read-fixed: isr-torn-read with each read made through KeSynchronizeExecution. The copy
 * runs at the interrupt's SynchronizeIrql (so the ISR cannot land between the two loads on the
 * reader's CPU) holding the interrupt's spin lock (so it cannot run on another CPU meanwhile either);
 * nt-semantics.md §6.3 calls it the only safe way to share state between an ISR and lower-IRQL code.
 */

import { tornRead } from './isr-torn-read.js';

export default tornRead(true);
