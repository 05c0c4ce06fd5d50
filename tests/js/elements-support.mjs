// Shared set-up for the @paysecure/elements suites (tests/js/elements-*.test.mjs
// and tests/browser/elements-*.test.mjs): the package built and packed by
// scripts/build-elements.sh, and a scratch project that has it installed from
// the tarball, as an integrator's project would.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const source = path.join(root, 'www', 'elements');
export const pkgDir = path.join(root, 'pkg', 'elements');
export const tarball = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'npm', 'paysecure-elements.tgz');

/** The files package.json lists, plus package.json and README.md. */
export function packageFiles() {
  const pkg = JSON.parse(readFileSync(path.join(source, 'package.json'), 'utf8'));
  return [...pkg.files, 'package.json', 'README.md'];
}

function upToDate() {
  if (!existsSync(tarball)) return false;
  const packed = statSync(tarball).mtimeMs;
  return packageFiles().every((f) => {
    const built = path.join(pkgDir, f);
    const from = f.startsWith('LICENSE') ? path.join(root, f) : path.join(source, f);
    return existsSync(built) && readFileSync(built).equals(readFileSync(from)) && statSync(from).mtimeMs <= packed;
  });
}

/**
 * Runs scripts/build-elements.sh unless pkg/elements and the tarball match
 * www/elements. node --test runs files in parallel: a lock directory keeps
 * two suites from building at once.
 */
export function ensureBuilt() {
  if (upToDate()) return;
  const lock = path.join(root, 'pkg', '.elements.lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 120000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 2 minutes`);
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (!upToDate()) execFileSync('bash', [path.join(root, 'scripts', 'build-elements.sh')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * A scratch project with @paysecure/elements unpacked from the tarball into
 * node_modules, and the named root devDependencies linked beside it.
 * Returns { dir, cleanup }.
 */
export function scratchProject(links = []) {
  ensureBuilt();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paysecure-elements-'));
  const scope = path.join(dir, 'node_modules', '@paysecure');
  mkdirSync(scope, { recursive: true });
  execFileSync('tar', ['xzf', tarball, '-C', scope]);
  execFileSync('mv', [path.join(scope, 'package'), path.join(scope, 'elements')]);
  for (const name of links) {
    const target = path.join(dir, 'node_modules', name);
    mkdirSync(path.dirname(target), { recursive: true });
    symlinkSync(path.join(root, 'node_modules', name), target, 'dir');
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The fenced blocks of the package README: [{ lang, title, code }]; title is the first line's comment. */
export function readmeBlocks() {
  const readme = readFileSync(path.join(source, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(([, lang, code]) => {
    const first = code.split('\n')[0];
    const title = (first.match(/^(?:\/\/|<!--)\s*(.*?)\s*(?:-->)?$/) || [])[1] || '';
    return { lang, title, code };
  });
}
