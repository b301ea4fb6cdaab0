/**
 * `irqlab run --lazy-irql` (args.ts parses the command line and hands the value here): lazy IRQL
 * (nt-semantics.md §1.4) for the run, whatever the scenario's machine.lazyIrql says. Pure, like
 * args.ts; imports nothing from it (args.ts uses LAZY_IRQL_RUN_HELP at its top level).
 */

export const LAZY_IRQL_RUN_OPTIONS = {
  'lazy-irql': { type: 'boolean' },
} as const;

export const LAZY_IRQL_RUN_HELP = `      --lazy-irql         lazy IRQL: KeRaiseIrql only records the new IRQL, and the local APIC's
                          task priority is written when an interrupt arrives at or below it
                          (default: the scenario's machine.lazyIrql, else eager: written at every
                          IRQL change). Same outcomes; the summary counts the writes saved
`;

export interface LazyIrqlRunArgs {
  /** --lazy-irql */
  lazyIrql?: boolean;
}

/** The flag's value carried over (from parseArgs' values, or from the parsed to the resolved run): present only when given. */
export function lazyIrqlArgs(given: { lazyIrql?: boolean | undefined }): LazyIrqlRunArgs {
  return given.lazyIrql === true ? { lazyIrql: true } : {};
}
