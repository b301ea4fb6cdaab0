/**
 * Import a scenario file (.ts, .mts, .js, .mjs) through jiti: the file is transformed in memory and
 * evaluated as a module, so nothing is written beside it (jiti keeps a content-hashed transform cache
 * in the user's cache folder) and no TypeScript compiler is needed. The transform is sucrase's
 * (types erased, ESM to CommonJS, lines kept), not jiti's default Babel: a user edits a scenario and
 * runs it, so the uncached load is the common one, and it took ~190 ms more than a cached one with
 * Babel, ~60 ms with sucrase, ~25 ms with sucrase bundled into one file (perf/load.ts, 2-core host).
 * Babel (inside jiti) still does what sucrase does not: `import.meta`, JSX, and the exact place of a syntax error. The bare specifier 'irqlab', in the
 * file and in every module it imports statically, is the irqlab that is running (a virtual module),
 * never a second copy found in some node_modules: the builder tells registers apart by identity, so
 * a second copy's R1 would not be a register. Each load evaluates the file afresh (no module cache),
 * so a program that loads a scenario again after an edit gets the edit. The main thread (load.ts) and the CPU workers (natives, worker-port.ts)
 * import scenario files only through here, so both get the same module the same way.
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Jiti, TransformOptions, TransformResult } from 'jiti';

/** Where the built-in scenarios are, with a trailing separator (dist/src/scenarios/ built, src/scenarios/ under a test runner). */
const BUILTIN_FOLDER = fileURLToPath(new URL('../scenarios/', import.meta.url));

const require = createRequire(import.meta.url);

let loader: Promise<Jiti> | null = null;

/** One jiti per thread, made on first use: a run of a built-in scenario never loads jiti. */
function scenarioLoader(): Promise<Jiti> {
  // jiti's CommonJS entry: importing it as ESM costs twice as much (Node scans its 190 kB bundle for export names)
  loader ??= import('../index.js').then((irqlab) =>
    (require('jiti') as typeof import('jiti')).createJiti(import.meta.url, {
      virtualModules: { irqlab },
      moduleCache: false,
      fsCache: transformCacheFolder(),
      // the module's own exports, so that a missing default export can be told apart
      interopDefault: false,
      transform: transformModule,
    }),
  );
  return loader;
}

let sucrase: typeof import('sucrase') | null = null;

/**
 * sucrase as the build bundled it (one file, src/vendor/build-sucrase-bundle.mjs): Node loaded
 * sucrase's ~200 separate files in ~60 ms, the bundle in a fraction of that, and the installed
 * package has no sucrase of its own. Run from source (a test runner), there is no bundle beside this
 * file, and the sucrase of the dev dependencies does the same work.
 */
function loadSucrase(): typeof import('sucrase') {
  const bundle = fileURLToPath(new URL('../vendor/sucrase.cjs', import.meta.url));
  return require(existsSync(bundle) ? bundle : 'sucrase') as typeof import('sucrase');
}
let babelJiti: Jiti | null = null;

/** jiti's own transform (Babel, bundled in jiti), loaded only when a file needs it. */
function transformWithBabel(options: TransformOptions): TransformResult {
  babelJiti ??= (require('jiti') as typeof import('jiti')).createJiti(import.meta.url, { fsCache: false, moduleCache: false, interopDefault: false });
  return { code: babelJiti.transform(options) };
}

/**
 * One module's source to the CommonJS jiti evaluates (its `require` resolves 'irqlab' to the running
 * copy; sucrase turns `import()` into that `require` too). Lines stay where they were, so stack
 * traces point into the user's file.
 */
function transformModule(options: TransformOptions): TransformResult {
  const filename = options.filename ?? '';
  // sucrase leaves import.meta as it is, and CommonJS cannot hold it; JSX is not a scenario's syntax
  if (options.source.includes('import.meta') || /x$/.test(filename)) return transformWithBabel(options);
  sucrase ??= loadSucrase();
  try {
    const { code } = sucrase.transform(options.source, {
      transforms: options.ts ? ['typescript', 'imports'] : ['imports'],
      filePath: filename,
      // Node runs modern syntax as it is: only types and module syntax are rewritten
      disableESTransforms: true,
    });
    return { code };
  } catch {
    // sucrase's parser is lenient and places some errors a token late; Babel's message is the one
    // users (and parseErrorLocation) know. An error is the rare case, so its cost does not matter.
    return transformWithBabel(options);
  }
}

/**
 * Where jiti keeps transformed files (content-hashed, so an unchanged file loads without a transformer):
 * the user's own cache folder, not the shared temp folder jiti defaults to, where another user could
 * have put a "cached" file first. jiti runs without a cache when the folder cannot be written.
 */
function transformCacheFolder(): string {
  // jiti keys its cache on the source alone: a folder of its own per transformer, so that a file
  // transformed by another one (an earlier irqlab's Babel) is never taken for sucrase's
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'irqlab', 'jiti-sucrase');
}

/**
 * The module namespace (its exports) of the scenario module at `path` (absolute): a built-in by
 * Node's own import (it is part of this package), a user's file through jiti. Throws what the
 * module or the parser threw.
 */
export async function importScenarioModule(path: string): Promise<unknown> {
  if (path.startsWith(BUILTIN_FOLDER)) return import(pathToFileURL(path).href);
  const jiti = await scenarioLoader();
  try {
    // jiti's require transforms every module of the file's import tree, .mjs included, so each
    // one's 'irqlab' is the virtual module; jiti.import would hand ESM JavaScript files to Node,
    // which resolves 'irqlab' from node_modules (a second copy, or none)
    return jiti(path) as unknown;
  } catch (error) {
    // top-level await needs the file evaluated as an async module; jiti still transforms the file
    // itself (its 'irqlab' stays the running one) but hands the .js/.mjs files it imports to Node
    if (error instanceof SyntaxError && /only valid in async functions and the top level bodies of modules/.test(error.message)) {
      try {
        return await jiti.evalModule(readFileSync(path, 'utf8'), { filename: path, async: true, forceTranspile: true });
      } catch (asyncError) {
        throw locatedSyntaxError(asyncError, path) ?? asyncError;
      }
    }
    throw locatedSyntaxError(error, path) ?? error;
  }
}

/**
 * V8's own SyntaxError for code sucrase let through (it checks less than Babel: a duplicate `let`,
 * `await` in a plain function, a legacy octal) names a line at best and no column; Babel, given the
 * same file, names line and column. Returns that error in jiti's parse-error form (what
 * parseErrorLocation reads), or null where Babel finds nothing wrong with the file.
 */
function locatedSyntaxError(error: unknown, scenarioPath: string): Error | null {
  if (!(error instanceof SyntaxError)) return null;
  // V8 puts the file it could not compile first in the stack ("/abs/helper.mjs:3"), when it can
  const where = /^(\/\S+?|file:\/\/\S+?):\d+\s*$/.exec(error.stack?.split('\n', 1)[0] ?? '');
  const file = where ? (where[1]!.startsWith('file:') ? fileURLToPath(where[1]!) : where[1]!) : scenarioPath;
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const { code } = transformWithBabel({ source, filename: file, ts: /\.[cm]?tsx?$/.test(file) });
  const reported = /^exports\.__JITI_ERROR__ = (\{.*\})\s*$/s.exec(code);
  if (!reported) return null;
  const parsed = JSON.parse(reported[1]!) as { line: number; column: number; code?: string; message?: string };
  return new SyntaxError(`${parsed.code ?? 'ParseError'}: ${parsed.message ?? error.message} \n ${file}:${parsed.line}:${parsed.column}`, { cause: error });
}

/**
 * A parse error as jiti reports it ("ParseError: Unexpected token \n /abs/file.ts:7:0", the column
 * counted from 0) taken apart, or null for any other error.
 */
export function parseErrorLocation(error: unknown): { message: string; file: string; line: number; column: number } | null {
  if (!(error instanceof Error)) return null;
  const match = /^\w*Error: ([^\n]*?)\s*\n\s*(\S.*?):(\d+):(\d+)\s*$/.exec(error.message);
  if (!match) return null;
  return { message: match[1]!.trim() || 'syntax error', file: match[2]!, line: Number(match[3]), column: Number(match[4]) + 1 };
}
