/**
 * The CPU actor's frame stack (innermost last): code frames (an interpreted routine: a thread
 * body, an ISR, a DPC routine, an IPI worker) and kernel frames (a generator playing a kernel
 * routine of src/kernel, such as KiRetireDpcList or KiIpiServiceRoutine, which calls code frames
 * and spins).
 *
 * Each code frame runs in a processor mode (KPROCESSOR_MODE): kernel, or user for a thread
 * declared `mode: 'user'` and the user-mode routines of its user APCs. A routine called from a
 * frame (the CALL instruction) runs in that frame's mode; a kernel call from a user-mode frame
 * must be a system service (src/isa/kcalls.ts), and the return from the kernel to a user-mode frame
 * is the kernel → user transition of src/kernel/service-call.ts.
 */

import type { KernelGenerator } from '../kernel/cpu.js';
import { UserMode } from '../kernel/status.js';

export const FRAME_CODE = 0;
export const FRAME_KERNEL = 1;

export interface CodeFrame {
  kind: typeof FRAME_CODE;
  /** the IRQL when the frame was pushed */
  irql: number;
  /** 'thread' | 'isr' | 'dpc' | 'ipi' | 'routine' */
  role: string;
  /** where the context lives: the shared thread table (a thread: it migrates) or this CPU's frame area */
  ctx: Int32Array;
  base: number;
  routine: number;
  onInterruptStack: boolean;
  /** which DPC or ISR run this is (the DPC watchdog counts ticks per run), 0 for other frames */
  serial: number;
  /** KernelMode 0 or UserMode 1 (src/kernel/status.ts): the mode its code runs in */
  mode: number;
}

export interface KernelFrame {
  kind: typeof FRAME_KERNEL;
  /** the IRQL when the frame was pushed */
  irql: number;
  /** kernel routine name, for reports (KiRetireDpcList, KiIpiServiceRoutine, …) */
  name: string;
  role: string;
  gen: KernelGenerator;
  resume: number;
  /** true for a hardware interrupt frame (counts toward nesting) */
  hardware: boolean;
  /** the pc of the KCALL that pushed it (the instruction a report shows), or −1 */
  callPc: number;
}

export type Frame = CodeFrame | KernelFrame;

/** A code frame running in user mode. */
export function isUserCode(frame: Frame | undefined): boolean {
  return frame !== undefined && frame.kind === FRAME_CODE && frame.mode === UserMode;
}
