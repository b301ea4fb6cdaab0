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
 * The task-priority register (TPR) is a word here that the kernel writes (src/kernel/irql.ts
 * setIrql): with eager IRQL, at every IRQL change; with lazy IRQL (§1.4, the x86 HALs' scheme),
 * only when an interrupt arrives at or below the IRQL and on the lowers that follow. Delivery still
 * compares with the kernel's IRQL (prcb.irql), which is what the TPR mirrors or lags, so the two
 * schemes deliver the same interrupts at the same moments; only the count of writes differs.
 *
 * Source: Intel SDM vol. 3 ch. 10 (local APIC); xv6 lapic.c for the shape.
 */

/**
 * A FIFO of assertions (time, vector, source) in typed arrays: a ring that doubles when full, so
 * queuing allocates nothing, and a queue that never drains (a saturated line, the stretch of
 * assertions sent ahead) stays the size of its backlog instead of growing with the run.
 */
class AssertionFifo {
  private times = new Float64Array(16);
  private vectors = new Int32Array(16);
  private sources = new Int32Array(16);
  private head = 0;
  size = 0;
  /** what shift() took out */
  shiftedNs = 0;
  shiftedVector = 0;
  shiftedSource = -1;

  push(timeNs: number, vector: number, source: number): void {
    if (this.size === this.times.length) this.grow();
    const at = (this.head + this.size) & (this.times.length - 1);
    this.times[at] = timeNs;
    this.vectors[at] = vector;
    this.sources[at] = source;
    this.size++;
  }

  /** the oldest entry's time (Infinity: empty) */
  firstNs(): number {
    return this.size > 0 ? this.times[this.head]! : Infinity;
  }

  /** Take the oldest entry out (the queue must not be empty) into shifted*. */
  shift(): void {
    const head = this.head;
    this.shiftedNs = this.times[head]!;
    this.shiftedVector = this.vectors[head]!;
    this.shiftedSource = this.sources[head]!;
    this.head = (head + 1) & (this.times.length - 1);
    this.size--;
  }

  /** the sources of the entries left, oldest first */
  sourcesLeft(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.sources[(this.head + i) & (this.times.length - 1)]!);
    return out;
  }

  private grow(): void {
    const capacity = this.times.length;
    const times = new Float64Array(capacity * 2);
    const vectors = new Int32Array(capacity * 2);
    const sources = new Int32Array(capacity * 2);
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) & (capacity - 1);
      times[i] = this.times[from]!;
      vectors[i] = this.vectors[from]!;
      sources[i] = this.sources[from]!;
    }
    this.times = times;
    this.vectors = vectors;
    this.sources = sources;
    this.head = 0;
  }
}

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
  /** the IRQL each vector interrupts at */
  readonly irqlOfVector: Int32Array;
  /**
   * Lazy IRQL (machine.lazyIrql): KeRaiseIrql leaves the TPR alone; the kernel writes it when an
   * interrupt arrives at or below the IRQL, and when lowering below what it holds.
   */
  readonly lazyIrql: boolean;
  /** the task-priority register, as the IRQL it masks up to (eager: always the IRQL; lazy: at most the IRQL) */
  taskPriority = 0;
  /** per vector, the pending assertions beyond the oldest (their times and sources), so latency is per assertion; made on first use */
  private readonly queued: Array<AssertionFifo | undefined> = [];

  /** per IRQL: how many of its vectors have assertions pending, and the vector accepted there last */
  private readonly vectorsPendingAt = new Int32Array(32);
  private readonly lastAccepted = new Int32Array(32);
  /** vectors of each IRQL, highest first: accepting scans only its level's vectors */
  private readonly vectorsByIrql: Int32Array[] = [];

  constructor(irqlOfVector: Int32Array, lazyIrql = false) {
    this.irqlOfVector = irqlOfVector;
    this.lazyIrql = lazyIrql;
    for (let irql = 0; irql < 32; irql++) {
      const vectors: number[] = [];
      for (let v = 255; v >= 0; v--) if (irqlOfVector[v] === irql) vectors.push(v);
      this.vectorsByIrql.push(Int32Array.from(vectors));
      // a vector of this level, so that the hint in accept() never names another level's
      this.lastAccepted[irql] = vectors[0] ?? 0;
    }
  }

  /** The IOAPIC (or an IPI) raised `vector` at emulated time `timeNs`; `source`: the device, −1 for none. */
  post(vector: number, timeNs: number, source = -1): void {
    const irql = this.irqlOfVector[vector]!;
    if (this.pendingCount[vector] === 0) {
      this.oldestAssertNs[vector] = timeNs;
      this.oldestSource[vector] = source;
      this.vectorsPendingAt[irql]! += 1;
    } else {
      (this.queued[vector] ??= new AssertionFifo()).push(timeNs, vector, source);
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
    // the highest pending vector at this level: the one accepted last, when it is the only one
    // pending there (one device per level, the common case); else the first pending, highest first
    let vector = this.lastAccepted[irql]!;
    if (this.vectorsPendingAt[irql] !== 1 || !(this.pendingCount[vector]! > 0)) {
      vector = -1;
      const vectors = this.vectorsByIrql[irql]!;
      for (let i = 0; i < vectors.length; i++) {
        if (this.pendingCount[vectors[i]!]! > 0) {
          vector = vectors[i]!;
          break;
        }
      }
      if (vector < 0) throw new Error(`LocalApic.accept: nothing pending at IRQL ${irql}`);
      this.lastAccepted[irql] = vector;
    }
    this.acceptedAssertNs = this.oldestAssertNs[vector]!;
    this.acceptedSource = this.oldestSource[vector]!;
    this.pendingCount[vector]! -= 1;
    if (this.pendingCount[vector]! > 0) this.oldestAssertNs[vector] = this.nextAssertTime(vector);
    else this.vectorsPendingAt[irql]! -= 1;
    this.pendingByIrql[irql]! -= 1;
    if (this.pendingByIrql[irql] === 0) this.pendingIrqlMask &= ~(1 << irql);
    this.inService.push(vector);
    return vector;
  }

  /** Take the oldest queued assertion of `vector` out: its source becomes the oldest pending one's; returns its time. */
  private nextAssertTime(vector: number): number {
    const queue = this.queued[vector]!;
    queue.shift();
    this.oldestSource[vector] = queue.shiftedSource;
    return queue.shiftedNs;
  }

  // ---- assertions sent ahead of their time (parallel mode on virtual time) ----
  // The coordinator sends a fixed-delivery device's assertions before the machine reaches their
  // time (their routing does not depend on the moment). They wait here, off the IRR, until this
  // CPU's clock reaches them: then post() them, so they are taken exactly when they were raised.
  private readonly held = new AssertionFifo();

  /** An assertion raised at `timeNs`, later than this CPU's clock: keep it until then (in the order sent, which is time order). */
  hold(vector: number, timeNs: number, source: number): void {
    this.held.push(timeNs, vector, source);
  }

  /** When the next held assertion is due (Infinity: none held). */
  nextHeldNs(): number {
    return this.held.firstNs();
  }

  /** How many assertions are held (sent ahead, not yet due). */
  heldCount(): number {
    return this.held.size;
  }

  /** Take the next held assertion out (call when it is due); heldTaken* tell what it was. */
  heldTakenVector = 0;
  heldTakenNs = 0;
  heldTakenSource = -1;
  takeHeld(): void {
    const held = this.held;
    held.shift();
    this.heldTakenVector = held.shiftedVector;
    this.heldTakenNs = held.shiftedNs;
    this.heldTakenSource = held.shiftedSource;
  }

  /** The sources of the assertions still held (the run ended before their time). */
  heldSourcesLeft(): number[] {
    return this.held.sourcesLeft();
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
