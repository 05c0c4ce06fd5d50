// Installs the integration matrix's tools (tests/integration/package.json and
// its lock: Vite 7 and 8, webpack, Rollup, esbuild, Next.js, React, Vue, Deno,
// Bun) into target/integration/, again only when the lock changes; then,
// given tarballs, those too (again only when they change).
//   node tests/integration/install.mjs             the tools (scripts/setup.sh all)
//   import { install } from './install.mjs'        matrix.test.mjs: tools + tarballs
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const work = path.resolve(here, '..', '..', 'target', 'integration');
export const modules = path.join(work, 'node_modules');

const sha = (...files) => {
  const h = createHash('sha256');
  for (const f of files) h.update(existsSync(f) ? readFileSync(f) : Buffer.alloc(0));
  return h.digest('hex');
};
const npm = (args) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'],
  { cwd: work, stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });

export function installTools() {
  mkdirSync(work, { recursive: true });
  const stamp = path.join(work, '.tools.sha256');
  const sum = sha(path.join(here, 'package.json'), path.join(here, 'package-lock.json'));
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === sum && existsSync(modules)) return;
  cpSync(path.join(here, 'package.json'), path.join(work, 'package.json'));
  cpSync(path.join(here, 'package-lock.json'), path.join(work, 'package-lock.json'));
  rmSync(modules, { recursive: true, force: true });
  rmSync(path.join(work, '.packages.sha256'), { force: true });
  // npm install, not npm ci: the registry here lacks vite 8's Windows-only
  // optional dependency, which npm ci refuses to skip (the lock still pins
  // every version that is installed).
  npm(['install']);
  writeFileSync(stamp, sum);
}

/** `tarballs`: { packageName: path.tgz }; the ones that exist are installed. Returns those. */
export function install(tarballs) {
  installTools();
  const present = Object.entries(tarballs).filter(([, f]) => existsSync(f));
  const stamp = path.join(work, '.packages.sha256');
  const sum = sha(...present.map(([, f]) => f));
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== sum) {
    npm(['install', '--no-save', ...present.map(([, f]) => f)]);
    writeFileSync(stamp, sum);
  }
  return Object.fromEntries(present);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) installTools();
