/**
 * IOAPIC: the redirection table from device lines to (vector, destination CPUs, delivery mode).
 * Owned by the coordinator. Fixed delivery cycles through the destination set in order (with one
 * destination it is plain fixed delivery); lowest-priority delivery sends to the destination whose
 * IRQL (read from its published PRCB) is lowest, ties broken round-robin as the APIC bus does.
 * Source: Intel 82093AA IOAPIC datasheet; nt-semantics.md §9.3 step 1.
 */

export interface RedirectionEntry {
  line: number;
  vector: number;
  delivery: 'fixed' | 'lowest-priority';
  destinations: number[];
}

export class IoApic {
  private readonly entries = new Map<number, RedirectionEntry>();
  private readonly rotation = new Map<number, number>();

  program(entry: RedirectionEntry): void {
    this.entries.set(entry.line, entry);
    this.rotation.set(entry.line, 0);
  }

  entry(line: number): RedirectionEntry | undefined {
    return this.entries.get(line);
  }

  /** The CPU an assertion of `line` goes to now. `irqlOf(cpu)` reads a CPU's current IRQL. */
  route(line: number, irqlOf: (cpu: number) => number): number {
    const entry = this.entries.get(line);
    if (!entry) throw new Error(`IOAPIC: line ${line} is not programmed`);
    const dests = entry.destinations;
    const start = this.rotation.get(line)!;
    if (entry.delivery === 'fixed') {
      this.rotation.set(line, (start + 1) % dests.length);
      return dests[start]!;
    }
    let best = -1;
    let bestIrql = Infinity;
    for (let i = 0; i < dests.length; i++) {
      const cpu = dests[(start + i) % dests.length]!;
      const irql = irqlOf(cpu);
      if (irql < bestIrql) {
        bestIrql = irql;
        best = cpu;
      }
    }
    this.rotation.set(line, (start + 1) % dests.length);
    return best;
  }
}
