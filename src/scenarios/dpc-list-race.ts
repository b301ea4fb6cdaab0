/**
 * dpc-list-race: a driver's request list edited by a PASSIVE thread and a DPC without the lock.
 *
 * The dispatch thread (PASSIVE_LEVEL, CPU 0) queues requests: it takes a node from a small pool
 * (a node is reused once its request has completed), stamps the request number in it and pushes it
 * on the head of a singly linked list (node.next = head; head = node). The device interrupts CPU 1
 * now and then; its ISR queues the DPC, which takes nodes off the head one by one (head =
 * head->next), completes each request and frees its node. Before each take it walks the list, as
 * Windows' checked list macros check the links: only the DPC takes nodes off, so a walk longer than
 * the pool is a cycle, and the DPC stops the machine with KeBugCheckEx(0x139
 * KERNEL_SECURITY_CHECK_FAILURE, P1 = 3: a corrupted list entry; P2 = the node where the walk gave
 * up). Neither side takes the lock, so their read-modify-writes of the head interleave:
 *
 *   - the DPC takes a node between the thread's load of the head and its store: the new node is
 *     pushed onto a node the DPC has completed and freed, so it is completed again ("completed
 *     twice"), or, when the thread has reused that node meanwhile, the list becomes a cycle
 *     (a → b → a) and the walk ends in 0x139;
 *   - the thread pushes between the DPC's load of the head and its store: the new node is
 *     overwritten out of the list and its request never completes ("lost node").
 *
 * Each window is a couple of instructions, so most seeds show nothing; the outcome table of
 * `irqlab explore dpc-list-race` shows how often each happens and the first seeds that show it.
 * The fix, dpc-list-race-fixed, is the same code under a spin lock: KeAcquireSpinLock in the thread
 * (which also raises it to DISPATCH_LEVEL, so a DPC on its own CPU cannot cut in) and
 * KeAcquireSpinLockAtDpcLevel in the DPC (nt-semantics.md §6.1).
 */

import { defineScenario } from '../scenario/define.js';
import type { OutcomeGrade, RunView, ScenarioDefinition } from '../scenario/define.js';
import { R0, R2, R3, R4, R5, R6, R7, R8, R9, R10 } from '../isa/registers.js';
import type { RoutineBuilder } from '../isa/builder.js';

/** requests the thread queues */
const REQUESTS = 400;
/** nodes in the pool: request k uses node k mod POOL once the request before it there has completed */
const POOL = 6;
/** bytes per node: { next, request (0: free) } */
const NODE_BYTES = 8;
/** cycles the thread spends preparing each request */
const PREPARE_CYCLES = 3_000;
/** cycles the DPC spends completing each request */
const COMPLETE_CYCLES = 400;
/** polls of a node that is still in use before the thread gives up on it (its request was lost) */
const SLOT_POLLS = 2_000;
/** KERNEL_SECURITY_CHECK_FAILURE, and its P1 for a corrupted LIST_ENTRY (Microsoft's bug-check reference) */
const KERNEL_SECURITY_CHECK_FAILURE = 0x139;
const CORRUPT_LIST_ENTRY = 3;

/** The list's lock around `body` when `locked`: KeAcquireSpinLock at PASSIVE, the AtDpcLevel form in the DPC. */
function underLock(a: RoutineBuilder, locked: boolean, atDpcLevel: boolean, body: () => void): void {
  if (!locked) {
    body();
    return;
  }
  if (atDpcLevel) {
    a.kcall('KeAcquireSpinLockAtDpcLevel', a.lock('ListLock'));
    body();
    a.kcall('KeReleaseSpinLockFromDpcLevel', a.lock('ListLock'));
  } else {
    a.kcall('KeAcquireSpinLock', a.lock('ListLock'));
    a.mov(R10, R0);
    body();
    a.kcall('KeReleaseSpinLock', a.lock('ListLock'), R10);
  }
}

/** What the run shows, from the request counts (a bugcheck is an outcome of its own). */
function listOutcome(run: RunView): string {
  const queued = run.read('Queued');
  const completed = run.read('Completed');
  const twice = run.read('CompletedTwice');
  const lost = queued - (completed - twice);
  if (run.read('Finished') !== 1) return 'unfinished';
  const parts: string[] = [];
  if (lost > 0) parts.push('lost node');
  if (twice > 0) parts.push('completed twice');
  if (parts.length > 0) return parts.join(' + ');
  return run.read('DrainedInsidePush') > 0 ? 'every request completed once, a drain ran inside a push' : 'every request completed once';
}

const GRADES: readonly OutcomeGrade[] = [
  { match: 'every request completed once', expect: 'acceptable', description: 'each request was completed exactly once' },
  {
    match: 'every request completed once, a drain ran inside a push',
    expect: 'interesting',
    description:
      'the DPC ran while the thread was inside its push, yet nothing was lost (the thread had not loaded the head yet, or the list was empty): the window is real',
  },
  {
    match: /lost node|completed twice/,
    expect: 'forbidden',
    description: 'a request never completed (the DPC stored an empty head over a new node) or completed twice (a node pushed onto freed ones)',
  },
  {
    match: '0x139 KERNEL_SECURITY_CHECK_FAILURE',
    expect: 'forbidden',
    description: 'the DPC walked a cycle (a freed node was reused while still linked) and stopped the machine with 0x139, P1 = 3',
  },
];

/** The scenario, with or without the list lock (dpc-list-race-fixed is `listRace(true)`). */
export function listRace(locked: boolean): ScenarioDefinition {
  return defineScenario({
    name: locked ? 'dpc-list-race-fixed' : 'dpc-list-race',
    description: locked
      ? 'dpc-list-race with the spin lock: KeAcquireSpinLock in the thread, KeAcquireSpinLockAtDpcLevel in the DPC; every request completes once'
      : 'a PASSIVE thread pushes requests on a list a DPC drains, no lock: lost nodes, requests completed twice, a cycle that ends in 0x139',
    machine: { cpus: 2, durationMs: 2 + Math.ceil((REQUESTS * PREPARE_CYCLES) / 1e6) },
    memory: {
      Head: {},
      Nodes: { words: (POOL * NODE_BYTES) / 4 },
      ListLock: {},
      Queued: {},
      Completed: {},
      CompletedTwice: {},
      InPush: {},
      DrainedInsidePush: {},
      Finished: {},
    },
    interrupts: { Device: { vector: 0x60, routine: 'DeviceIsr' } },
    dpcs: { CompletionDpc: { routine: 'CompleteRequests' } },
    devices: { device: { vector: 0x60, ratePerSec: 40_000, jitter: 0.5, cpus: [1], startMs: 0.01 } },
    threads: { Dispatch: { routine: 'QueueRequests', cpu: 0 } },
    routines: {
      QueueRequests: (a) => {
        a.movi(R5, 1);
        a.label('next-request');
        // the node of request k: Nodes + (k mod POOL) * NODE_BYTES
        a.mod(R8, R5, POOL);
        a.mul(R8, R8, NODE_BYTES);
        a.movi(R6, a.var('Nodes'));
        a.add(R6, R6, R8);
        a.movi(R9, 0);
        a.label('wait-free');
        a.load(R2, R6, 4);
        a.beqz(R2, 'free');
        a.add(R9, R9, 1);
        a.bge(R9, SLOT_POLLS, 'give-up');
        a.work(500);
        a.jmp('wait-free');
        a.label('free');
        a.store(R6, 4, R5);
        underLock(a, locked, false, () => {
          // InsertHead: node.next = head; head = node (InPush marks the window for the outcome table)
          a.store(a.var('InPush'), 0, 1);
          a.load(R7, a.var('Head'));
          a.store(R6, 0, R7);
          a.store(a.var('Head'), 0, R6);
          a.store(a.var('InPush'), 0, 0);
        });
        a.load(R2, a.var('Queued'));
        a.add(R2, R2, 1);
        a.store(a.var('Queued'), 0, R2);
        a.work(PREPARE_CYCLES);
        a.add(R5, R5, 1);
        a.ble(R5, REQUESTS, 'next-request');
        a.label('give-up');
        // let the device drain what is left, then report
        a.work(1_000_000);
        a.store(a.var('Finished'), 0, 1);
        a.ret(0);
      },
      DeviceIsr: (a) => {
        a.kcall('KeInsertQueueDpc', a.dpc('CompletionDpc'), 0, 0);
        a.ret(1);
      },
      CompleteRequests: (a) => {
        a.movi(R9, 1);
        a.label('next-node');
        underLock(a, locked, true, () => {
          // walk the list first, as a checked RemoveHeadList checks its links: only the DPC takes
          // nodes off, so a walk longer than the pool can only be a cycle
          a.load(R3, a.var('Head'));
          a.movi(R4, 0);
          a.label('walk');
          a.beqz(R3, 'walked');
          a.add(R4, R4, 1);
          a.bgt(R4, POOL, 'cycle');
          a.load(R3, R3, 0);
          a.jmp('walk');
          a.label('walked');
          // the thread between its load and store of the head: the outcome table's INTERESTING case
          a.load(R2, a.var('InPush'));
          a.beqz(R2, 'not-inside');
          a.xadd(R0, a.var('DrainedInsidePush'), 0, R9);
          a.label('not-inside');
          // RemoveHead: r3 = head; if (r3) head = r3->next
          a.load(R3, a.var('Head'));
          a.beqz(R3, 'empty');
          a.load(R7, R3, 0);
          a.store(a.var('Head'), 0, R7);
          a.label('empty');
        });
        a.beqz(R3, 'done');
        a.load(R2, R3, 4);
        a.beqz(R2, 'freed');
        a.work(COMPLETE_CYCLES);
        a.xadd(R0, a.var('Completed'), 0, R9);
        // free the node: the thread may reuse it from now on
        a.store(R3, 4, 0);
        a.jmp('next-node');
        a.label('freed');
        // a node already completed and freed, still linked: its request completes twice
        a.xadd(R0, a.var('Completed'), 0, R9);
        a.xadd(R0, a.var('CompletedTwice'), 0, R9);
        a.jmp('next-node');
        a.label('cycle');
        a.kcall('KeBugCheckEx', KERNEL_SECURITY_CHECK_FAILURE, CORRUPT_LIST_ENTRY, R3, 0, 0);
        a.label('done');
        a.ret();
      },
    },
    results: (run) => ({
      queued: run.read('Queued'),
      completed: run.read('Completed'),
      completedTwice: run.read('CompletedTwice'),
      drainedInsidePush: run.read('DrainedInsidePush'),
    }),
    checks: (run) => [
      {
        name: 'the thread queued its requests and finished',
        passed: run.read('Finished') === 1,
        detail: `${run.read('Queued')} of ${REQUESTS} queued`,
      },
      ...(locked
        ? [
            {
              name: 'every request completed exactly once',
              passed: run.read('Completed') === REQUESTS && run.read('CompletedTwice') === 0,
              detail: `${run.read('Completed')} completions of ${REQUESTS} requests, ${run.read('CompletedTwice')} twice`,
            },
          ]
        : []),
    ],
    outcome: listOutcome,
    outcomes: GRADES,
    // perturb: each device interrupt up to 20 µs late (the device fires every 25 µs on average)
    explore: { jitter: { deviceNs: 20_000 } },
  });
}

export default listRace(false);
