// Build step (`npm run build`, after tsc): sucrase's `transform`, with what it imports, bundled by
// esbuild into one minified CommonJS file, dist/src/vendor/sucrase.cjs, which module-loader.ts loads.
// Why: Node loading sucrase's ~214 separate files took ~60 ms of every first load of a .ts scenario
// (perf/load.ts), one file takes a fraction of that. The installed package then needs neither sucrase
// nor esbuild (both are dev dependencies); every bundled package's license travels at the head of
// the bundle, and the build fails if one has no license file to copy.
// Plain .mjs, not .ts: it runs before tsc's output exists, and tsc (no allowJs) neither compiles nor
// ships it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outfile = join(root, 'dist', 'src', 'vendor', 'sucrase.cjs');

const options = {
  absWorkingDir: root,
  // only what module-loader.ts calls; sucrase's ES-module build lets esbuild drop the rest (its CLI, register hooks)
  stdin: { contents: "export { transform } from 'sucrase';", resolveDir: root, sourcefile: 'sucrase-entry.mjs', loader: 'js' },
  mainFields: ['module', 'main'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  legalComments: 'inline',
  logLevel: 'warning',
};

// first pass: which packages end up in the bundle (the license banner depends on it)
const probe = await build({ ...options, write: false, metafile: true });
const banner = licenseBanner(Object.keys(probe.metafile.inputs));
await build({ ...options, outfile, banner: { js: banner } });

/** The license of every package whose files are in the bundle, as one comment that minifiers keep. */
function licenseBanner(inputs) {
  const packageFolders = new Set();
  for (const input of inputs) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll('\\', '/'));
    if (match) packageFolders.add(match[1]);
  }
  const sections = [...packageFolders].sort().map((folder) => {
    const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8'));
    const noticeFiles = readdirSync(join(root, folder))
      .filter((name) => /^(licen[cs]e|copying|notice)(\.\w+)?$/i.test(name))
      .sort();
    if (!noticeFiles.some((name) => !/^notice/i.test(name)))
      throw new Error(`build-sucrase-bundle: ${manifest.name} has no license file to ship with the bundle`);
    const texts = noticeFiles.map((name) => readFileSync(join(root, folder, name), 'utf8').trim());
    return [`${manifest.name}@${manifest.version} (${manifest.license})`, '', ...texts].join('\n');
  });
  const body = ['sucrase, bundled for irqlab (src/vendor/build-sucrase-bundle.mjs): the packages below, each under its own license.', ...sections].join(
    `\n\n${'-'.repeat(72)}\n\n`,
  );
  return `/*!\n${body.replaceAll('*/', '* /')}\n*/`;
}
