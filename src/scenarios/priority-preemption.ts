/**
 * priority-preemption: the dispatcher's placement rules on one CPU (nt-semantics.md §4.4–4.7).
 *
 *   Waiter (priority 12) waits on the synchronization event Go.
 *   Setter and Peer (priority 8 each) share the CPU; Setter runs first, Peer waits on the ready list.
 *   Setter calls KeSetEvent(Go): Waiter is strictly higher, so Setter is preempted INSIDE KeSetEvent
 *   (KiExitDispatcher switches at once because Setter ran at PASSIVE_LEVEL) and goes back at the
 *   HEAD of the priority-8 list, in front of Peer. Waiter runs and waits again; Setter, not Peer,
 *   resumes, and KeSetEvent returns to it. When Setter's quantum ends it goes to the TAIL, Peer runs:
 *   round robin between equal priorities, one quantum each.
 *
 * The TRACE events tell the story in order (tag: 1 Setter before KeSetEvent, 2 Setter after it,
 * 3 Setter's quantum-end spin, 10 Waiter woken, 20 Peer first runs); results list them and checks
 * verify each rule.
 */

import { defineScenario } from '../scenario/define.js';
import { R0, R1, R5 } from '../isa/registers.js';
import type { RunView } from '../scenario/define.js';

const TAG = { SetterBefore: 1, SetterAfter: 2, SetterSpin: 3, WaiterWoken: 10, PeerRuns: 20 } as const;
const NAMES: Record<number, string> = {
  1: 'Setter: KeSetEvent(Go)',
  2: 'Setter: KeSetEvent returned',
  3: 'Setter: still running',
  10: 'Waiter: woken',
  20: 'Peer: runs',
};

function story(run: RunView): number[] {
  const seen: number[] = [];
  for (const event of run.userEvents) if (seen[seen.length - 1] !== event.tag) seen.push(event.tag);
  return seen;
}

export default defineScenario({
  name: 'priority-preemption',
  description: 'a PASSIVE thread sets an event that wakes a higher-priority thread on its CPU and is preempted inside KeSetEvent; head vs tail queueing',
  machine: { cpus: 1, durationMs: 100 },
  memory: { Stop: {} },
  events: { Go: { type: 'synchronization' } },
  threads: {
    Setter: { routine: 'Setter', cpu: 0, priority: 8 },
    Waiter: { routine: 'Waiter', cpu: 0, priority: 12 },
    Peer: { routine: 'Peer', cpu: 0, priority: 8 },
  },
  routines: {
    Setter: (a) => {
      a.trace(TAG.SetterBefore);
      a.kcall('KeSetEvent', a.event('Go'), 0, 0);
      a.trace(TAG.SetterAfter, R0);
      // burn the CPU until the quantum ends and Peer gets its turn (then stop)
      a.label('spin');
      a.work(200_000);
      a.trace(TAG.SetterSpin);
      a.load(R1, a.var('Stop'));
      a.beqz(R1, 'spin');
      a.ret(0);
    },
    Waiter: (a) => {
      a.kcall('KeWaitForSingleObject', a.event('Go'), 0, 0, 0, 0);
      a.trace(TAG.WaiterWoken, R0);
      a.kcall('KeWaitForSingleObject', a.event('Go'), 0, 0, 0, 0);
      a.ret(0);
    },
    Peer: (a) => {
      a.trace(TAG.PeerRuns);
      a.store(a.var('Stop'), 0, 1);
      a.movi(R5, 0);
      a.label('spin');
      a.work(200_000);
      a.add(R5, R5, 1);
      a.blt(R5, 10, 'spin');
      a.ret(0);
    },
  },
  results: (run) => ({
    story: story(run),
    storyText: story(run)
      .map((tag) => NAMES[tag] ?? String(tag))
      .join(' → '),
  }),
  checks: (run) => {
    const order = story(run);
    const at = (tag: number): number => order.indexOf(tag);
    const setter = run.threads.find((t) => t.name === 'Setter');
    return [
      {
        name: 'the higher-priority Waiter ran before KeSetEvent returned to Setter (preempted inside the call)',
        passed: at(TAG.SetterBefore) >= 0 && at(TAG.SetterBefore) < at(TAG.WaiterWoken) && at(TAG.WaiterWoken) < at(TAG.SetterAfter),
        detail: order.join(' '),
      },
      {
        name: 'the preempted Setter went back at the head of its list: it resumed before the equal-priority Peer',
        passed: at(TAG.SetterAfter) >= 0 && (at(TAG.PeerRuns) < 0 || at(TAG.SetterAfter) < at(TAG.PeerRuns)),
        detail: order.join(' '),
      },
      {
        name: "at the end of Setter's quantum it went to the tail and Peer ran (round robin)",
        passed: at(TAG.PeerRuns) > at(TAG.SetterAfter),
        detail: `Setter switched in ${setter?.contextSwitches ?? 0} times`,
      },
    ];
  },
});
