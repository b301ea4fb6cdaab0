/**
 * Local APIC of one emulated CPU: the pending-interrupt register (IRR), the in-service stack (ISR),
 * EOI, and the priority rule that decides what may be delivered. Owned by its CPU only; other actors
 * reach it by message (IRQ_ASSERT from the IOAPIC, IPI from another CPU's ICR write), and the CPU
 * posts them here when it drains its inbox.
 *
 * Eager masking (nt-semantics.md §1.4): the IRQL is the TPR, so "deliverable" is simply "the level of
 * the highest pending vector > the current IRQL". A masked interrupt stays pending; nothing is lost.
 * Unlike a real IRR bit, each device assertion is counted, so N assertions are N interrupts and the
 * "N interrupts, 1 DPC" coalescing the scenarios show happens in KeInsertQueueDpc, where NT does it.
 * IPIs coalesce through their request bits, as in NT.
 *
 * Source: Intel SDM vol. 3 ch. 10 (local APIC); xv6 lapic.c for the shape.
 */

export class LocalApic {
  /** pending assertions per vector */
  private readonly pendingCount = new Int32Array(256);
  /** the emulated time the oldest pending assertion of each vector was raised (for latency) */
  private readonly oldestAssertNs: Float64Array = new Float64Array(256);
  /**
   * which source (the scenario's device index, −1 for none) raised the oldest pending assertion of
   * each vector; devices may share a vector, and the run's accounting counts per device
   */
  private readonly oldestSource = new Int32Array(256);
  /** pending assertions per IRQL, and a bitmask of IRQLs that have any */
  private readonly pendingByIrql = new Int32Array(32);
  private pendingIrqlMask = 0;
  /** vectors in service, innermost last (the ISR register as a stack) */
  readonly inService: number[] = [];
  private readonly irqlOfVector: Int32Array;
  /** per-vector FIFO of assertion times (beyond the oldest) so latency is per assertion; read from `assertHead` */
  private readonly assertTimes: number[][] = [];
  /** the source of each queued assertion in assertTimes, index for index */
  private readonly assertSources: number[][] = [];
  private readonly assertHead = new Int32Array(256);

  /** vectors of each IRQL, highest first: accepting scans only its level's vectors */
  private readonly vectorsByIrql: Int32Array[] = [];

  constructor(irqlOfVector: Int32Array) {
    this.irqlOfVector = irqlOfVector;
    for (let v = 0; v < 256; v++) {
      this.assertTimes.push([]);
      this.assertSources.push([]);
    }
    for (let irql = 0; irql < 32; irql++) {
      const vectors: number[] = [];
      for (let v = 255; v >= 0; v--) if (irqlOfVector[v] === irql) vectors.push(v);
      this.vectorsByIrql.push(Int32Array.from(vectors));
    }
  }

  /** The IOAPIC (or an IPI) raised `vector` at emulated time `timeNs`; `source`: the device, −1 for none. */
  post(vector: number, timeNs: number, source = -1): void {
    const irql = this.irqlOfVector[vector]!;
    if (this.pendingCount[vector] === 0) {
      this.oldestAssertNs[vector] = timeNs;
      this.oldestSource[vector] = source;
    } else {
      this.assertTimes[vector]!.push(timeNs);
      this.assertSources[vector]!.push(source);
    }
    this.pendingCount[vector]! += 1;
    this.pendingByIrql[irql]! += 1;
    this.pendingIrqlMask |= 1 << irql;
  }

  /** Post `vector` once unless it is already pending (IPI vectors: requests coalesce). */
  postOnce(vector: number, timeNs: number): void {
    if (this.pendingCount[vector] === 0) this.post(vector, timeNs);
  }

  /** Highest IRQL with a pending vector, or −1. */
  highestPendingIrql(): number {
    return this.pendingIrqlMask === 0 ? -1 : 31 - Math.clz32(this.pendingIrqlMask);
  }

  isPending(vector: number): boolean {
    return this.pendingCount[vector]! > 0;
  }

  /**
   * Accept the highest pending vector at `irql` into service. Returns the vector; `acceptedAssertNs`
   * holds when it was asserted, `acceptedSource` who asserted it.
   */
  acceptedAssertNs = 0;
  acceptedSource = -1;
  accept(irql: number): number {
    // the highest pending vector at this level
    for (const vector of this.vectorsByIrql[irql]!) {
      if (this.pendingCount[vector]! > 0) {
        this.acceptedAssertNs = this.oldestAssertNs[vector]!;
        this.acceptedSource = this.oldestSource[vector]!;
        this.pendingCount[vector]! -= 1;
        if (this.pendingCount[vector]! > 0) this.oldestAssertNs[vector] = this.nextAssertTime(vector);
        this.pendingByIrql[irql]! -= 1;
        if (this.pendingByIrql[irql] === 0) this.pendingIrqlMask &= ~(1 << irql);
        this.inService.push(vector);
        return vector;
      }
    }
    throw new Error(`LocalApic.accept: nothing pending at IRQL ${irql}`);
  }

  /** Pop the oldest queued assertion time of `vector` (O(1): a moving head, compacted when drained). */
  private nextAssertTime(vector: number): number {
    const times = this.assertTimes[vector]!;
    const sources = this.assertSources[vector]!;
    const head = this.assertHead[vector]!;
    const time = times[head]!;
    this.oldestSource[vector] = sources[head]!;
    if (head + 1 >= times.length) {
      times.length = 0;
      sources.length = 0;
      this.assertHead[vector] = 0;
    } else if (head >= 4096 && head * 2 >= times.length) {
      // never fully drained (a saturated line): drop the consumed half now and then
      times.splice(0, head + 1);
      sources.splice(0, head + 1);
      this.assertHead[vector] = 0;
    } else {
      this.assertHead[vector] = head + 1;
    }
    return time;
  }

  // ---- assertions sent ahead of their time (parallel mode on virtual time) ----
  // The coordinator sends a fixed-delivery device's assertions before the machine reaches their
  // time (their routing does not depend on the moment). They wait here, off the IRR, until this
  // CPU's clock reaches them: then post() them, so they are taken exactly when they were raised.
  private readonly heldVectors: number[] = [];
  private readonly heldTimes: number[] = [];
  private readonly heldSources: number[] = [];
  private heldHead = 0;

  /** An assertion raised at `timeNs`, later than this CPU's clock: keep it until then (in the order sent, which is time order). */
  hold(vector: number, timeNs: number, source: number): void {
    this.heldVectors.push(vector);
    this.heldTimes.push(timeNs);
    this.heldSources.push(source);
  }

  /** When the next held assertion is due (Infinity: none held). */
  nextHeldNs(): number {
    return this.heldHead < this.heldTimes.length ? this.heldTimes[this.heldHead]! : Infinity;
  }

  /** Take the next held assertion out (call when it is due); heldTaken* tell what it was. */
  heldTakenVector = 0;
  heldTakenNs = 0;
  heldTakenSource = -1;
  takeHeld(): void {
    const head = this.heldHead;
    this.heldTakenVector = this.heldVectors[head]!;
    this.heldTakenNs = this.heldTimes[head]!;
    this.heldTakenSource = this.heldSources[head]!;
    if (head + 1 >= this.heldTimes.length) {
      this.heldVectors.length = 0;
      this.heldTimes.length = 0;
      this.heldSources.length = 0;
      this.heldHead = 0;
    } else {
      this.heldHead = head + 1;
    }
  }

  /** The sources of the assertions still held (the run ended before their time). */
  heldSourcesLeft(): number[] {
    return this.heldSources.slice(this.heldHead);
  }

  /** End of interrupt: the innermost vector leaves service. */
  eoi(): number | undefined {
    return this.inService.pop();
  }

  pendingVectors(): number[] {
    const out: number[] = [];
    for (let v = 0; v < 256; v++) if (this.pendingCount[v]! > 0) out.push(v);
    return out;
  }
}
