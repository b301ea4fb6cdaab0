/**
 * IRQL: the interrupt request levels of NT, for x64 (0–15) and x86 (0–31), and the mapping from an
 * interrupt vector to its IRQL (x64: vector >> 4, the APIC priority class; x86: the APIC HAL's
 * table). Pure data and functions; the per-CPU current IRQL lives in the Prcb (src/kernel/prcb.ts)
 * and only its own CPU changes it. Source: nt-semantics.md §1.1–1.2.
 */

/** Which IRQL table a machine uses. */
export type Arch = 'x64' | 'x86';

export const PASSIVE_LEVEL = 0;
export const APC_LEVEL = 1;
export const DISPATCH_LEVEL = 2;

/** The architecture-dependent levels. Everything that compares against SYNCH/CLOCK/IPI/HIGH reads them from here. */
export interface IrqlTable {
  readonly arch: Arch;
  readonly count: number;
  readonly minDevice: number;
  readonly maxDevice: number;
  readonly synch: number;
  readonly clock: number;
  readonly ipi: number;
  readonly profile: number;
  readonly high: number;
  /** the vector of the clock interrupt on the clock owner, and of the clock IPI on the others */
  readonly clockVector: number;
  readonly clockIpiVector: number;
  readonly ipiVector: number;
  readonly apcVector: number;
  readonly dpcVector: number;
  /** device vectors a scenario may use */
  readonly minDeviceVector: number;
  readonly maxDeviceVector: number;
}

export const X64: IrqlTable = {
  arch: 'x64',
  count: 16,
  minDevice: 3,
  maxDevice: 11,
  synch: 12,
  clock: 13,
  ipi: 14,
  profile: 15,
  high: 15,
  clockVector: 0xd1,
  clockIpiVector: 0xd2,
  ipiVector: 0xe1,
  apcVector: 0x1f,
  dpcVector: 0x2f,
  minDeviceVector: 0x30,
  maxDeviceVector: 0xcf,
};

export const X86: IrqlTable = {
  arch: 'x86',
  count: 32,
  minDevice: 3,
  maxDevice: 26,
  synch: 27,
  clock: 28,
  ipi: 29,
  profile: 27,
  high: 31,
  clockVector: 0xd1,
  clockIpiVector: 0xd2,
  ipiVector: 0xe1,
  apcVector: 0x3d,
  dpcVector: 0x41,
  minDeviceVector: 0x30,
  maxDeviceVector: 0xbf,
};

export function irqlTable(arch: Arch): IrqlTable {
  return arch === 'x86' ? X86 : X64;
}

/** The IRQL a vector interrupts at. x64: the APIC priority class; x86: ReactOS HalpVectorToIrql. */
export function vectorToIrql(table: IrqlTable, vector: number): number {
  if (table.arch === 'x64') return vector >> 4;
  if (vector === X86.apcVector) return APC_LEVEL;
  if (vector === X86.dpcVector) return DISPATCH_LEVEL;
  const cls = vector >> 4;
  if (cls <= 0x4) return 3; // the lowest device level
  if (cls <= 0xb) return cls - 1; // 0x5..0xB → IRQL 4..10
  if (cls === 0xc) return 27;
  if (cls === 0xd) return 28;
  if (cls === 0xe) return 29;
  return 31;
}

const X64_NAMES: Record<number, string> = {
  0: 'PASSIVE_LEVEL',
  1: 'APC_LEVEL',
  2: 'DISPATCH_LEVEL',
  12: 'SYNCH_LEVEL',
  13: 'CLOCK_LEVEL',
  14: 'IPI_LEVEL',
  15: 'HIGH_LEVEL',
};

const X86_NAMES: Record<number, string> = {
  0: 'PASSIVE_LEVEL',
  1: 'APC_LEVEL',
  2: 'DISPATCH_LEVEL',
  27: 'PROFILE_LEVEL',
  28: 'CLOCK2_LEVEL',
  29: 'IPI_LEVEL',
  30: 'POWER_LEVEL',
  31: 'HIGH_LEVEL',
};

/** The name `!irql` prints for a level, e.g. 'DISPATCH_LEVEL', 'DIRQL 5'. */
export function irqlName(arch: Arch, irql: number): string {
  const names = arch === 'x86' ? X86_NAMES : X64_NAMES;
  return names[irql] ?? (irql >= 3 && irql <= (arch === 'x86' ? 26 : 11) ? `DIRQL ${irql}` : `IRQL ${irql}`);
}
