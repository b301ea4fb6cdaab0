/**
 * The inspector's command language: WinDbg's commands and extensions, over an InspectSession.
 * Movement (g, g @T, g TEXT, g- [TEXT], t [N], bt [N] / t- [N], !tt N) replays the run to the new
 * position; views (!irql, !prcb, !dpcs, !timer, !ready, !thread, !locks, !analyze -v, k, u, dd,
 * .events) read the machine there. Every answer starts with the line saying where the session
 * stands. A command it does not know, or one with a bad argument, is an InspectCommandError: one
 * line, and the session stays where it was.
 */

import { formatBugcheck, formatDuration } from '../cli/format.js';
import type { InspectSession, Snapshot } from './session.js';
import { parseCpuArgument, whereLine } from './format.js';
import { disassemblyView, dpcsView, eventsView, irqlView, kdpcView, memoryView, prcbView, readyView, stackView, timerView } from './views.js';
import { currentThread, findThread, locksView, threadView } from './thread-views.js';
import { apcView } from './apc-view.js';

export class InspectCommandError extends Error {
  override get name(): string {
    return 'InspectCommandError';
  }
}

export const INSPECT_COMMANDS_HELP = `Moving (each move replays the run from its start to the new point: deterministic, so exact):
  g                 go to the end of the run, or to its bugcheck
  g @T              go to the first event at or after emulated time T (1.5ms, 200us, 3s, 500ns)
  g TEXT            go forward to the next event whose text contains TEXT (e.g. g KeSetTimer)
  g- [TEXT]         go back to the last earlier event whose text contains TEXT (none: the start)
  t [N]             step N events forward (default 1)
  bt [N], t- [N]    step N events back (default 1)
  !tt N             travel to event N (0: the start)
Views (the machine as it is after the current event):
  !irql [cpu]       the CPU's IRQL                    !prcb [cpu]    a processor's PRCB
  !dpcs [cpu]       queued DPCs                       !timer         the timer table
  dt _KDPC NAME     a KDPC's fields
  !ready            ready, standby and deferred-ready threads, per processor
  !thread [T]       a thread by name, id or address (default: the current CPU's)
  !locks            spin locks held, by whom, and which CPUs spin on them
  !apc [thre T]     the APCs queued to each thread (or to thread T)
  !analyze -v       the bugcheck analysis (at the bugcheck)
  k [cpu]           the CPU's frames                  u ROUTINE|PC   disassembly
  dd NAME[+N] [L n] memory words by variable name     .events [N]    the last N events (default 10)
  ?, help           this help                         q              quit
[cpu] defaults to the CPU of the current event.`;

/** `1.5ms`, `200us`, `3s`, `500ns`; a bare number is ms (as --duration takes it). */
export function parseEmulatedTime(text: string): number | null {
  const match = /^((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(ns|us|µs|ms|s)?$/i.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? 'ms').toLowerCase();
  const scale = unit === 'ns' ? 1 : unit === 'us' || unit === 'µs' ? 1e3 : unit === 'ms' ? 1e6 : 1e9;
  const ns = Number(match[1]) * scale;
  return Number.isFinite(ns) ? ns : null;
}

function count(text: string | undefined, what: string): number {
  if (text === undefined) return 1;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InspectCommandError(`${what} takes a positive number of events (got '${text}')`);
  return Number(text);
}

export interface CommandOutcome {
  output: string;
  quit: boolean;
}

export class Inspector {
  readonly session: InspectSession;

  constructor(session: InspectSession) {
    this.session = session;
  }

  /** The prompt: `1: kd> `, the CPU of the current event, as WinDbg's. */
  prompt(): string {
    return `${this.session.snapshot?.cpu ?? 0}: kd> `;
  }

  private async at(): Promise<Snapshot> {
    return this.session.snapshot ?? (await this.session.goTo(0));
  }

  private cpuArgument(snapshot: Snapshot, text: string | undefined, command: string): number {
    const cpus = snapshot.compiled.machine.cpus;
    const cpu = parseCpuArgument(text, cpus);
    if (cpu === null) return snapshot.cpu;
    if (cpu < 0)
      throw new InspectCommandError(
        `${command}: Cannot get PRCB address (processor '${text}': the machine has ${cpus} CPU${cpus === 1 ? '' : 's'}, 0 to ${cpus - 1})`,
      );
    return cpu;
  }

  /** Move and say where the session now stands (and, at a bugcheck, what stopped the machine). */
  private async moveTo(position: number, note = ''): Promise<string> {
    const snapshot = await this.session.goTo(position);
    const lines = [whereLine(this.session, snapshot)];
    if (note) lines.push(note);
    const bugcheck = this.session.result.bugcheck;
    if (snapshot.ended && bugcheck) {
      lines.push(
        `*** Fatal System Error: 0x${bugcheck.code.toString(16).padStart(8, '0')} (${bugcheck.name}) on processor ${bugcheck.cpu} at IRQL ${bugcheck.irql} (${bugcheck.irqlName})`,
        "Use '!analyze -v' for the analysis.",
      );
    }
    return lines.join('\n');
  }

  /** Run one command; resolves to its output. Throws InspectCommandError for a command or argument it does not take. */
  async execute(line: string): Promise<CommandOutcome> {
    const words = line.trim().split(/\s+/).filter(Boolean);
    const [command = '', ...args] = words;
    const lower = command.toLowerCase();
    const done = (output: string): CommandOutcome => ({ output, quit: false });
    if (lower === '') return done('');
    if (lower === 'q' || lower === 'quit' || lower === 'exit') return { output: '', quit: true };
    if (lower === '?' || lower === 'help' || lower === '.help') return done(INSPECT_COMMANDS_HELP);
    const session = this.session;
    const here = await this.at();
    const position = here.position;
    switch (lower) {
      case 'g': {
        const target = args.join(' ');
        if (target === '') return done(await this.moveTo(session.total));
        if (target.startsWith('@')) {
          const ns = parseEmulatedTime(target.slice(1));
          if (ns === null) throw new InspectCommandError(`g @T needs an emulated time like 1.5ms, 200us or 3s (got '${target.slice(1)}')`);
          const index = session.firstAtOrAfter(ns);
          if (index < 0) return done(await this.moveTo(session.total, `No event at or after ${formatDuration(ns)}: at the end of the run.`));
          return done(await this.moveTo(index + 1));
        }
        const index = session.search(target, position, session.total, false);
        if (index < 0) throw new InspectCommandError(`g: no event after this one mentions '${target}'`);
        return done(await this.moveTo(index + 1));
      }
      case 'g-': {
        const target = args.join(' ');
        if (target === '') return done(await this.moveTo(0));
        const index = session.search(target, 0, position - 1, true);
        if (index < 0) throw new InspectCommandError(`g-: no event before this one mentions '${target}'`);
        return done(await this.moveTo(index + 1));
      }
      case 't':
        return done(await this.moveTo(position + count(args[0], 't')));
      case 'bt':
      case 't-':
        return done(await this.moveTo(position - count(args[0], lower)));
      case '!tt': {
        const text = args[0];
        if (text === undefined || !/^\d+$/.test(text)) throw new InspectCommandError(`!tt takes an event number, 0 to ${session.total} (got '${text ?? ''}')`);
        if (Number(text) > session.total) throw new InspectCommandError(`!tt: the run has ${session.total} events (got ${text})`);
        return done(await this.moveTo(Number(text)));
      }
      case '.events': {
        const n = args[0] === undefined ? 10 : count(args[0], '.events');
        return done(`${whereLine(session, here)}\n${eventsView(session, here, n)}`);
      }
    }
    const view = this.view(here, lower, args);
    if (view === null) throw new InspectCommandError(`unknown command '${command}' (? lists the commands)`);
    return done(`${whereLine(session, here)}\n${view}`);
  }

  private view(snapshot: Snapshot, command: string, args: string[]): string | null {
    switch (command) {
      case '!irql': {
        const cpu = parseCpuArgument(args[0], snapshot.compiled.machine.cpus);
        if (cpu !== null && cpu < 0) return 'Cannot get PRCB address';
        return irqlView(snapshot, cpu ?? snapshot.cpu);
      }
      case '!prcb':
        return prcbView(snapshot, this.cpuArgument(snapshot, args[0], '!prcb'));
      case '!dpcs':
        return dpcsView(snapshot, args[0] === undefined ? null : this.cpuArgument(snapshot, args[0], '!dpcs'));
      case '!timer':
        return timerView(snapshot);
      case '!ready':
        return readyView(snapshot);
      case '!thread': {
        if (args[0] === undefined) return threadView(this.session, snapshot, currentThread(snapshot, snapshot.cpu));
        const thread = findThread(snapshot, args.join(' '));
        if (!thread) {
          const names = snapshot.actors.coordinator.dispatcher.threads.map((t) => t.name).join(', ');
          throw new InspectCommandError(`!thread: no thread '${args.join(' ')}' (threads: ${names})`);
        }
        return threadView(this.session, snapshot, thread);
      }
      case '!locks':
        return locksView(this.session, snapshot);
      case '!apc': {
        // `!apc`, `!apc thre <thread>` (WinDbg's spelling), or just a thread
        const named = args[0]?.toLowerCase().startsWith('thre') ? args.slice(1) : args;
        if (named.length === 0) return apcView(snapshot, null);
        const thread = findThread(snapshot, named.join(' '));
        if (!thread) throw new InspectCommandError(`!apc: no thread '${named.join(' ')}'`);
        return apcView(snapshot, thread);
      }
      case '!analyze': {
        const bugcheck = this.session.result.bugcheck;
        if (!bugcheck) return 'No bugcheck: the run ends without one (!analyze analyses a crash).';
        if (!snapshot.ended) {
          const index = this.session.search('bugcheck', 0, this.session.total, true);
          return `No bugcheck yet at this point: the machine bugchecks at event ${index >= 0 ? index + 1 : this.session.total} of ${this.session.total} ('g' goes there).`;
        }
        return formatBugcheck(this.session.result).trimEnd();
      }
      case 'k':
        return stackView(snapshot, this.cpuArgument(snapshot, args[0], 'k'));
      case 'dt': {
        if (args[0]?.toLowerCase() !== '_kdpc' || args[1] === undefined) throw new InspectCommandError('dt takes _KDPC and a DPC name (dt _KDPC WorkDpc)');
        const text = kdpcView(snapshot, args[1]);
        if (text === null) throw new InspectCommandError(`dt: no KDPC '${args[1]}' (DPCs: ${snapshot.compiled.machine.dpcNames.join(', ') || 'none'})`);
        return text;
      }
      case 'u': {
        if (args[0] === undefined) throw new InspectCommandError('u takes a routine name or a code address (u DpcRoutine, u 0x1c)');
        const text = disassemblyView(snapshot, args[0], snapshot.cpu);
        if (text === null) throw new InspectCommandError(`u: no routine or code address '${args[0]}'`);
        return text;
      }
      case 'dd': {
        if (args[0] === undefined) throw new InspectCommandError('dd takes a variable name (dd Counter, dd Table+8 L4)');
        let words: number | null = null;
        const lengthAt = args.findIndex((a) => /^l/i.test(a));
        if (lengthAt > 0) {
          const text = args[lengthAt]!.length > 1 ? args[lengthAt]!.slice(1) : args[lengthAt + 1];
          const value = text !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : Number.NaN;
          if (!Number.isInteger(value) || value < 1 || value > 4096)
            throw new InspectCommandError(`dd: L takes a count of words from 1 to 4096 (got '${text ?? ''}')`);
          words = value;
        }
        const text = memoryView(snapshot, args[0], words);
        if (text === null) {
          const names = [...snapshot.compiled.variables.keys()].join(', ');
          throw new InspectCommandError(`dd: no variable '${args[0]}' (variables: ${names || 'none'})`);
        }
        return text;
      }
      default:
        return null;
    }
  }
}

/** Split an --eval script into commands: `;` or a new line between them. */
export function splitCommands(script: string): string[] {
  return script
    .split(/[;\n]/)
    .map((c) => c.trim())
    .filter(Boolean);
}
