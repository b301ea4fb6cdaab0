/**
 * NATIVE calls: a scenario routine written in the host language (the scenario module's own code),
 * called from emulated code like a kernel call. It is driver code too, so its memory accesses
 * fault as an instruction's would; if it throws, the scenario is wrong (a scenario error, exit 1),
 * not the emulated system.
 */

import type { BugCheck } from '../kernel/bugcheck.js';
import { BUGCHECK, BugCheck as BugCheckError } from '../kernel/bugcheck.js';
import { ACCESS_READ, ACCESS_WRITE } from '../isa/interpreter.js';
import { PrcbField } from '../shm/layout.js';
import { STATUS } from '../kernel/status.js';
import { describeThrown } from '../util/errors.js';

/** A native routine as the scenario module exports it. */
export type NativeRoutine = (
  args: readonly number[],
  machine: { cpu: number; irql: number; read(a: number): number; write(a: number, v: number): void },
) => number | undefined;

/** A native routine threw (the processor reports it as a scenario error). */
export class NativeRoutineError extends Error {
  readonly routine: string;
  readonly thrown: unknown;
  readonly thrownText: string;
  constructor(routine: string, thrown: unknown) {
    const thrownText = describeThrown(thrown);
    super(`native routine '${routine}' threw ${thrownText}`);
    this.routine = routine;
    this.thrown = thrown;
    this.thrownText = thrownText;
  }
}

/** What a native call needs of the processor running it. */
export interface NativeHost {
  readonly cpu: number;
  readonly irql: number;
  readonly memory: Int32Array;
  readonly i32: Int32Array;
  readonly prcb: { readonly shared: number };
  readonly config: { readonly nativeNames: readonly string[] };
  currentPc(): number;
  isMapped(address: number): boolean;
  memoryFault(address: number, access: number, pc: number): void;
}

/** Call native routine `id`; returns its result (a number goes to r0). */
export function callNative(host: NativeHost, native: NativeRoutine | undefined, id: number, args: Int32Array): number | undefined {
  if (!native) throw new BugCheckError(BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED, STATUS.NOT_IMPLEMENTED, host.currentPc(), id, 0);
  // a native is driver code too: page 0, addresses outside memory and misaligned ones fault as an
  // instruction's would. The fault is the machine's, whatever the native's own code does with the
  // exception (catches it, wraps it), so it is kept here and raised as it is.
  let memoryFault: BugCheck | null = null;
  const checkAddress = (address: number, access: number): void => {
    if ((address & 3) === 0 && host.isMapped(address)) return;
    try {
      host.memoryFault(address, access, host.currentPc());
    } catch (bugcheck) {
      memoryFault = bugcheck as BugCheck;
      throw bugcheck;
    }
  };
  const memory = host.memory;
  const view = {
    cpu: host.cpu,
    irql: host.irql,
    read: (address: number) => {
      checkAddress(address, ACCESS_READ);
      return memory[address >> 2]!;
    },
    write: (address: number, value: number) => {
      checkAddress(address, ACCESS_WRITE);
      memory[address >> 2] = value;
    },
  };
  // stamped for the main thread's native guard (Machine.checkNatives): a native that never
  // returns stops this worker from answering anything, so only the main thread can end the run
  const prcb = host.prcb.shared;
  Atomics.add(host.i32, prcb + PrcbField.NATIVE_CALLS, 1);
  Atomics.store(host.i32, prcb + PrcbField.NATIVE_ROUTINE, id + 1);
  let result: number | undefined;
  try {
    result = native(Array.from(args), view);
  } catch (thrown) {
    if (memoryFault !== null) throw memoryFault;
    throw new NativeRoutineError(host.config.nativeNames[id] ?? `#${id}`, thrown);
  } finally {
    Atomics.store(host.i32, prcb + PrcbField.NATIVE_ROUTINE, 0);
  }
  if (memoryFault !== null) throw memoryFault;
  return result;
}
