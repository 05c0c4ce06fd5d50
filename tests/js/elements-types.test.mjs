// tsc --strict --noEmit over tests/types/elements-usage.tsx, in a project that
// installed @paysecure/elements from its tarball (so the exports map's `types`
// conditions are what resolves), with React's types (@types/react) and Vue's.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { root, scratchProject } from './elements-support.mjs';

test('tsc --strict: every entry used as the README does, with precise types', () => {
  const project = scratchProject(['react', 'react-dom', '@types/react', '@types/react-dom', 'vue', '@vue']);
  try {
    writeFileSync(path.join(project.dir, 'package.json'), '{ "type": "module" }\n');
    copyFileSync(path.join(root, 'tests', 'types', 'elements-usage.tsx'), path.join(project.dir, 'elements-usage.tsx'));
    copyFileSync(path.join(root, 'tests', 'types', 'elements-tsconfig.json'), path.join(project.dir, 'tsconfig.json'));
    let out = '';
    try {
      out = execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', project.dir, '--strict', '--noEmit'], { encoding: 'utf8' });
    } catch (e) {
      assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
    }
    assert.equal(out.trim(), '');
  } finally {
    project.cleanup();
  }
});
