/**
 * The linker: runs every routine's builder, lays the routines out one after another in one
 * program image and resolves what the builder left symbolic (labels, call targets, routine ids,
 * and through the caller's `resolve` the DPCs, variables, events, … of the machine). The machine
 * links a scenario's code once; every CPU worker runs the same image (src/isa/interpreter.ts).
 *
 * Image layout (pcs are word indexes into `code`, so the image can sit anywhere in a buffer):
 *   word 0               ILLEGAL, so that a context whose PC was never set faults at once
 *   routines             in list order; a routine that can run past its end gets a RET appended
 *   MAX_INSTRUCTION_WORDS zero (ILLEGAL) words, so that decoding at any pc inside the image never
 *                        reads past its end
 */

import { RoutineBuilder, isSym, type Slot, type SymKind } from './builder.js';
import { MAX_INSTRUCTION_WORDS, Op } from './opcodes.js';

export interface RoutineSource {
  readonly name: string;
  readonly build: (a: RoutineBuilder) => void;
}

export interface LinkedRoutine {
  readonly name: string;
  /** the routine id: what `routine(name)` symbols, CALLR and kernel calls receive */
  readonly index: number;
  /** pc of the first instruction */
  readonly entry: number;
  /** pc just past the last instruction */
  readonly end: number;
}

export interface LinkedProgram {
  readonly code: Int32Array;
  readonly routines: LinkedRoutine[];
  routineByName(name: string): number | undefined;
  /** index of the routine whose code holds pc, or -1 */
  routineAt(pc: number): number;
}

export type Resolver = (kind: SymKind, name: string) => number | undefined;

export class LinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkError';
  }
}

/** Words before the first routine (the ILLEGAL guard at pc 0). */
export const IMAGE_HEADER_WORDS = 1;

const KIND_NAMES: Record<SymKind, string> = {
  var: 'variable',
  dpc: 'DPC',
  routine: 'routine',
  interrupt: 'interrupt',
  native: 'native routine',
  event: 'event',
  lock: 'lock',
  timer: 'timer',
  thread: 'thread',
  semaphore: 'semaphore',
  mutex: 'mutex',
  apc: 'APC',
  file: 'file (device object)',
};

/**
 * Builds and links `routines`. With `into`, the image is written into `into.buffer` from
 * `into.offset` on (for a SharedArrayBuffer view every worker reads) and `code` is a view of it.
 */
export function link(routines: ReadonlyArray<RoutineSource>, resolve: Resolver, into?: { buffer: Int32Array; offset: number }): LinkedProgram {
  const indexByName = new Map<string, number>();
  routines.forEach((source, index) => {
    if (typeof source.name !== 'string' || source.name === '') throw new LinkError(`routine #${index} has no name`);
    if (indexByName.has(source.name)) throw new LinkError(`routine '${source.name}' is defined twice`);
    indexByName.set(source.name, index);
  });

  const built = routines.map((source) => {
    const builder = new RoutineBuilder(source.name);
    source.build(builder);
    if (builder.fallsOffEnd()) builder.ret();
    return builder;
  });

  // Layout: every instruction's pc, every routine's entry and end.
  const layout: Array<{ entry: number; end: number; pcs: number[] }> = [];
  let pc = IMAGE_HEADER_WORDS;
  for (const builder of built) {
    const entry = pc;
    const pcs: number[] = [];
    for (const insn of builder.instructions) {
      pcs.push(pc);
      pc += 1 + insn.slots.length;
    }
    pcs.push(pc); // where a label bound at the end points
    layout.push({ entry, end: pc, pcs });
  }
  const length = pc + MAX_INSTRUCTION_WORDS;

  let code: Int32Array;
  if (into === undefined) {
    code = new Int32Array(length);
  } else {
    const room = into.buffer.length - into.offset;
    if (!Number.isInteger(into.offset) || into.offset < 0 || room < length) {
      throw new LinkError(`the program needs ${length} words but only ${Math.max(0, room)} fit at offset ${into.offset}`);
    }
    code = into.buffer.subarray(into.offset, into.offset + length);
    code.fill(0);
  }
  code[0] = Op.ILLEGAL;

  built.forEach((builder, index) => {
    const { pcs } = layout[index]!;
    const where = (message: string) => new LinkError(`routine '${builder.name}': ${message}`);
    const labelPc = (name: string): number => {
      const at = builder.labels.get(name);
      if (at === undefined) throw where(`label '${name}' is not defined`);
      return pcs[at]!;
    };
    const resolveSlot = (slot: Slot): number => {
      if (typeof slot === 'number') return slot;
      if (isSym(slot)) {
        let value: number | undefined;
        if (slot.sym === 'routine') value = indexByName.get(slot.name);
        else value = resolve(slot.sym, slot.name);
        if (value === undefined) throw where(`unknown ${KIND_NAMES[slot.sym] ?? slot.sym} '${slot.name}'`);
        if (!Number.isInteger(value)) {
          throw where(`${KIND_NAMES[slot.sym] ?? slot.sym} '${slot.name}' resolved to ${value}, not an integer`);
        }
        return (value + (slot.offset ?? 0)) | 0;
      }
      if ('label' in slot) return labelPc(slot.label);
      if (builder.labels.has(slot.call)) return labelPc(slot.call);
      const target = indexByName.get(slot.call);
      if (target === undefined) throw where(`call to unknown routine '${slot.call}'`);
      return layout[target]!.entry;
    };
    builder.instructions.forEach((insn, i) => {
      let at = pcs[i]!;
      code[at++] = insn.word0;
      for (const slot of insn.slots) code[at++] = resolveSlot(slot);
    });
  });

  const linked: LinkedRoutine[] = routines.map((source, index) => ({
    name: source.name,
    index,
    entry: layout[index]!.entry,
    end: layout[index]!.end,
  }));

  return {
    code,
    routines: linked,
    routineByName: (name) => indexByName.get(name),
    routineAt: (at) => {
      // routines are laid out in index order, so entries ascend: binary search
      let lo = 0;
      let hi = linked.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const r = linked[mid]!;
        if (at < r.entry) hi = mid - 1;
        else if (at >= r.end) lo = mid + 1;
        else return mid;
      }
      return -1;
    },
  };
}
