/**
 * The driver each ISR and DPC routine belongs to, for the latency report's grouping by driver
 * (src/machine/latency-report.ts): an `interrupts` or `dpcs` entry may name its driver
 * (`driver: 'ndis.sys'`), a label only (nothing compiled, so the trace hash is unchanged).
 *
 * LatencyMon attributes an ISR or DPC by the image its routine's code is in, so a routine belongs
 * to one driver: objects of two different drivers that share a routine are a scenario error, and
 * an object that names no driver shares the driver another object using the same routine names.
 * A name may be one of the scenario's `drivers` (the I/O path's DRIVER_OBJECTs) or any other name.
 * Main thread only; pure.
 */

import type { ScenarioDefinition } from './define.js';

/** a scenario's `dpcs` or `interrupts` (the validator has checked that each entry is an object) */
type Declarations = Readonly<Record<string, unknown>> | undefined;

interface DriverClaim {
  path: string;
  routine: string;
  driver: string;
}

function claims(dpcs: Declarations, interrupts: Declarations): Array<{ path: string; routine: unknown; driver: unknown }> {
  const field = (entry: unknown, key: 'routine' | 'driver'): unknown =>
    typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)[key] : undefined;
  const of = (section: string, declarations: Declarations) =>
    Object.entries(declarations ?? {}).map(([name, d]) => ({ path: `${section}.${name}`, routine: field(d, 'routine'), driver: field(d, 'driver') }));
  return [...of('dpcs', dpcs), ...of('interrupts', interrupts)].filter((claim) => claim.driver !== undefined);
}

/**
 * The problem with the scenario's `driver` names, as one line (the validator prefixes the
 * scenario's name), or null: each is a non-empty one-line string, and a routine has one driver.
 */
export function driverNameProblem(dpcs: Declarations, interrupts: Declarations): string | null {
  const owners = new Map<string, DriverClaim>();
  for (const { path, routine, driver } of claims(dpcs, interrupts)) {
    if (typeof driver !== 'string' || driver.trim() === '' || /[\r\n]/.test(driver)) {
      const got = typeof driver === 'string' ? JSON.stringify(driver) : driver === null ? 'null' : typeof driver === 'object' ? 'an object' : String(driver);
      return `${path}.driver must be the driver's name, a non-empty one-line string such as 'ndis.sys' (got ${got})`;
    }
    if (typeof routine !== 'string') continue; // the routine's own check reports it
    const owner = owners.get(routine);
    if (owner !== undefined && owner.driver !== driver) {
      return `${path}.driver '${driver}': its routine ${routine} is also ${owner.path}'s, of driver '${owner.driver}' (a routine's code is in one driver, which the latency report names it by)`;
    }
    owners.set(routine, { path, routine, driver });
  }
  return null;
}

/** Routine name → its driver, for the routines whose objects name one (validated by driverNameProblem). */
export function routineDrivers(def: Pick<ScenarioDefinition, 'dpcs' | 'interrupts'>): Map<string, string> {
  const drivers = new Map<string, string>();
  for (const { routine, driver } of claims(def.dpcs, def.interrupts)) {
    if (typeof routine === 'string' && typeof driver === 'string' && !drivers.has(routine)) drivers.set(routine, driver);
  }
  return drivers;
}
