/**
 * The sixteen general registers as values the builder (src/isa/builder.ts) can tell apart from
 * immediates at run time: a register is a frozen object, an immediate is a number. Scenarios write
 * `a.add(R1, R1, 1)`; the brand keeps a plain `{ index: 1 }` from passing as a register.
 *
 * r0 carries kernel-call results and routine return values; routine arguments arrive in r1, r2, …
 */

declare const regBrand: unique symbol;

export interface Reg {
  /** 0..15: the register's slot after ContextField.R0 */
  readonly index: number;
  /** `r0`..`r15`, as the disassembler prints it */
  readonly name: string;
  readonly [regBrand]: true;
}

export const REGISTER_COUNT = 16;

function makeReg(index: number): Reg {
  return Object.freeze({ index, name: `r${index}` }) as Reg;
}

/** All registers by index. */
export const REGS: readonly Reg[] = Object.freeze(Array.from({ length: REGISTER_COUNT }, (_, i) => makeReg(i)));

export const R0 = REGS[0]!;
export const R1 = REGS[1]!;
export const R2 = REGS[2]!;
export const R3 = REGS[3]!;
export const R4 = REGS[4]!;
export const R5 = REGS[5]!;
export const R6 = REGS[6]!;
export const R7 = REGS[7]!;
export const R8 = REGS[8]!;
export const R9 = REGS[9]!;
export const R10 = REGS[10]!;
export const R11 = REGS[11]!;
export const R12 = REGS[12]!;
export const R13 = REGS[13]!;
export const R14 = REGS[14]!;
export const R15 = REGS[15]!;

/** True only for the sixteen register objects above (identity, not shape). */
export function isReg(value: unknown): value is Reg {
  return typeof value === 'object' && value !== null && REGS[(value as { index?: number }).index ?? -1] === value;
}

export function reg(index: number): Reg {
  const r = REGS[index];
  if (r === undefined) throw new RangeError(`no register r${index}`);
  return r;
}
