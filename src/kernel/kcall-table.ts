/**
 * The kernel-call table, assembled from the handler objects each kernel module exports for the
 * calls of its object (dpcCalls in dpc.ts, spinLockCalls in spinlock.ts, …). Adding a kernel call
 * means one entry in src/isa/kcalls.ts and one handler in its module's object: nothing here. The
 * compiler checks that every call has exactly one handler: MissingHandlers, HandlersForNoCall and
 * HandledTwice below must all be `never`, or this file does not compile. The CPU
 * (src/cpu/processor.ts) indexes KERNEL_CALL_HANDLERS by the KCALL's id.
 */

import type { KernelCallHandler } from './cpu.js';
import { apcCalls } from './apc-call.js';
import { bugCheckCalls } from './bugcheck.js';
import { clockCalls } from './clock.js';
import { dispatcherObjectCalls } from './dispatcher-call.js';
import { dpcCalls } from './dpc.js';
import { interruptCalls } from './interrupt.js';
import { ioCalls } from './io-call.js';
import { ipiCalls } from './ipi.js';
import { irqlCalls } from './irql.js';
import { spinLockCalls } from './spinlock.js';
import { waitCalls } from './wait-gate.js';
import { serviceCalls } from './service-call.js';
import { KERNEL_CALLS } from '../isa/kcalls.js';
import type { KernelCallName } from '../isa/kcalls.js';

const modules = {
  irqlCalls,
  dpcCalls,
  ipiCalls,
  bugCheckCalls,
  clockCalls,
  interruptCalls,
  dispatcherObjectCalls,
  waitCalls,
  spinLockCalls,
  apcCalls,
  ioCalls,
  serviceCalls,
};

type Modules = typeof modules;
type CallsOf<M extends keyof Modules> = keyof Modules[M];
type Handled = { [M in keyof Modules]: CallsOf<M> }[keyof Modules];
/** kernel calls of kcalls.ts that no module handles */
type MissingHandlers = Exclude<KernelCallName, Handled>;
/** handlers whose name is no kernel call */
type HandlersForNoCall = Exclude<Handled, KernelCallName>;
/** calls handled by two modules */
type HandledTwice = { [M in keyof Modules]: CallsOf<M> & { [N in Exclude<keyof Modules, M>]: CallsOf<N> }[Exclude<keyof Modules, M>] }[keyof Modules];
type Never<T> = [T] extends [never] ? true : { offending: T };
type Holds<T extends true> = T;
/** Does not compile while a call lacks a handler, a handler names no call, or a call has two (the error names them). */
export type ExactlyOneHandlerEach = [Holds<Never<MissingHandlers>>, Holds<Never<HandlersForNoCall>>, Holds<Never<HandledTwice>>];

const handlers: Record<KernelCallName, KernelCallHandler> = Object.assign({}, ...Object.values(modules));

/** The handlers by kernel-call id. */
export const KERNEL_CALL_HANDLERS: readonly KernelCallHandler[] = KERNEL_CALLS.map((spec) => handlers[spec.name as KernelCallName]);
