/**
 * apc-index-mismatch: a driver's IRP_MJ_DEVICE_CONTROL dispatch routine enters a guarded region
 * (KeEnterGuardedRegion, as a driver does around a lock) and returns without leaving it. The
 * user-mode thread App called it through the DeviceIoControl system service; when the service
 * returns to user mode, the kernel finds APCs still disabled (the article "시스템 메커니즘 05 -
 * APC": "if SpecialApcDisable is not zero the code cannot return to user mode: an immediate
 * bugcheck; this is the situation of a driver that released its lock but not its guarded region"):
 * APC_INDEX_MISMATCH (0x1) with NT's parameters: P1 the system service's address, P2 the thread's
 * ApcStateIndex (0), P3 its CombinedApcDisable 0xFFFF0000 (SpecialApcDisable −1 in the high half,
 * KernelApcDisable 0 in the low), P4 0.
 *
 * The dispatch routine completes the IRP itself (IoCompleteRequest inside the dispatch routine:
 * the I/O manager finishes it when the routine returns), so DeviceIoControl's own work succeeds;
 * only the region left open is wrong.
 */

import { defineScenario } from '../scenario/define.js';
import type { RunView } from '../scenario/define.js';
import { BUGCHECK } from '../kernel/bugcheck.js';
import { STATUS } from '../kernel/status.js';
import { systemServiceAddress } from '../kernel/service-call.js';
import { kernelCallByName } from '../isa/kcalls.js';
import { R2 } from '../isa/registers.js';

const TAG = { DeviceIoControl: 1, Dispatch: 2, Returned: 3 } as const;
/** an IOCTL code of the driver's own (CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)) */
const IOCTL_LOCK_AND_FORGET = 0x00222000;
/** CombinedApcDisable with one guarded region entered: SpecialApcDisable = −1 in the high 16 bits */
const ONE_GUARDED_REGION = 0xffff0000;

const deviceIoControlAddress = systemServiceAddress(kernelCallByName('DeviceIoControl')!.id);

function expected(run: RunView): boolean {
  const bugcheck = run.bugcheck;
  if (!bugcheck || bugcheck.code !== BUGCHECK.APC_INDEX_MISMATCH) return false;
  const [p1 = 0, p2 = 0, p3 = 0, p4 = 0] = bugcheck.params.map((p) => p >>> 0);
  return p1 === deviceIoControlAddress && p2 === 0 && p3 === ONE_GUARDED_REGION && p4 === 0;
}

export default defineScenario({
  name: 'apc-index-mismatch',
  description: 'a DeviceIoControl dispatch routine enters a guarded region and returns without leaving it: the return to user mode is 0x1 APC_INDEX_MISMATCH',
  machine: { cpus: 1, durationMs: 5 },
  memory: { Iosb: { words: 2, init: [-1, -1] } },
  drivers: { LockDriver: { dispatch: { deviceControl: 'DeviceControlDispatch' }, devices: { Lock: { io: 'synchronous' } } } },
  threads: { App: { routine: 'App', cpu: 0, mode: 'user' } },
  traceTags: {
    [TAG.DeviceIoControl]: 'App: DeviceIoControl',
    [TAG.Dispatch]: 'DeviceControlDispatch: KeEnterGuardedRegion, IoCompleteRequest, return (no KeLeaveGuardedRegion)',
    [TAG.Returned]: 'App: DeviceIoControl returned (never: the return to user mode bugchecks)',
  },
  routines: {
    App: (a) => {
      a.trace(TAG.DeviceIoControl);
      a.kcall('DeviceIoControl', a.file('Lock'), IOCTL_LOCK_AND_FORGET, 0, 0, a.var('Iosb'));
      a.trace(TAG.Returned);
      a.ret(0);
    },
    // DispatchRoutine(r1 = DeviceObject, r2 = Irp)
    DeviceControlDispatch: (a) => {
      a.kcall('KeEnterGuardedRegion');
      a.trace(TAG.Dispatch);
      a.store(R2, 0, STATUS.SUCCESS); // Irp->IoStatus.Status
      a.kcall('IoCompleteRequest', R2, 0);
      // the matching KeLeaveGuardedRegion is missing
      a.ret(STATUS.SUCCESS);
    },
  },
  results: (run) => ({
    bugcheck: run.bugcheck ? `0x${run.bugcheck.code.toString(16)}` : 'none',
    params: run.bugcheck ? run.bugcheck.params.map((p) => p >>> 0) : [],
    iosbStatus: run.read('Iosb', 0) >>> 0,
  }),
  checks: (run) => [
    {
      name: "0x1 APC_INDEX_MISMATCH at DeviceIoControl's return to user mode, with NT's parameters (the service, 0, 0xFFFF0000, 0)",
      passed: expected(run),
      detail: run.bugcheck
        ? `0x${run.bugcheck.code.toString(16)} (${run.bugcheck.params.map((p) => `0x${(p >>> 0).toString(16)}`).join(', ')}); expected P1 0x${deviceIoControlAddress.toString(16)}`
        : 'no bugcheck',
    },
  ],
});
