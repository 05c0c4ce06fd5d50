// The React (18 and 19) and Vue 3 components of @paysecure/elements, and the
// package README's examples, in headless Chromium against a real
// paysecure-server. Pages are bundled with the repository's esbuild from a
// project that installed the package from its tarball. React 18 comes from
// tests/browser/elements-react18 (installed here with `npm ci` if missing:
// npm cannot hold two react-dom versions in the root tree). Also: server-side
// rendering of every component in Node, and the testing entry's mock issuer
// driving a component in Chromium with no server at all.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { launch, root } from './harness.mjs';
import { startStack, instrument } from './elements-harness.mjs';
import { readmeBlocks, scratchProject } from '../js/elements-support.mjs';

const react18 = path.join(path.dirname(fileURLToPath(import.meta.url)), 'elements-react18');
let stack, browser, project, bundles;

before(async () => {
  if (!existsSync(path.join(react18, 'node_modules', 'react-dom'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: react18, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  project = scratchProject(['react', 'react-dom', 'vue', '@vue']);
  bundles = mkdtempSync(path.join(os.tmpdir(), 'paysecure-elements-pages-'));
  stack = await startStack();
  stack.pages['/bundles/'] = bundles;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  project?.cleanup();
  if (bundles) rmSync(bundles, { recursive: true, force: true });
});

/** Compiles .vue single-file components with Vue's own compiler (what @vitejs/plugin-vue does). */
const vuePlugin = (files) => ({
  name: 'vue-sfc',
  setup(build) {
    build.onResolve({ filter: /\.vue$/ }, (args) => ({ path: path.basename(args.path), namespace: 'sfc' }));
    build.onLoad({ filter: /.*/, namespace: 'sfc' }, (args) => {
      const { parse, compileScript } = createRequire(path.join(root, 'package.json'))('vue/compiler-sfc');
      const { descriptor } = parse(files[args.path], { filename: args.path });
      const out = compileScript(descriptor, { id: args.path, inlineTemplate: true });
      return { contents: out.content, loader: 'js', resolveDir: project.dir };
    });
  },
});

/** Bundles `code` (an ES module, JSX allowed) into /bundles/NAME.js, React 18 if asked. */
async function bundle(name, code, { reactVersion = 19, sfc = {}, mode = 'development' } = {}) {
  await esbuild.build({
    stdin: { contents: code, resolveDir: project.dir, loader: 'jsx', sourcefile: `${name}.jsx` },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    outfile: path.join(bundles, `${name}.js`),
    define: { 'process.env.NODE_ENV': JSON.stringify(mode), __VUE_OPTIONS_API__: 'true', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false' },
    alias: reactVersion === 18 ? { react: path.join(react18, 'node_modules', 'react'), 'react-dom': path.join(react18, 'node_modules', 'react-dom') } : {},
    plugins: [vuePlugin(sfc)],
    logLevel: 'silent',
  });
  stack.pages[`/${name}.html`] = { body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${name}</title><script type="module" src="/bundles/${name}.js"></script></head><body><div id="root"></div><div id="app"></div><div id="card"></div><p id="hint"></p></body></html>` };
}

/** Counts the window's live 'message' listeners (the SDK adds one per mounted widget). */
function countListeners() {
  if (window.top !== window) return;
  const live = new Set();
  const add = window.addEventListener;
  const remove = window.removeEventListener;
  window.addEventListener = function (type, fn, o) {
    if (type === 'message') live.add(fn);
    return add.call(this, type, fn, o);
  };
  window.removeEventListener = function (type, fn, o) {
    if (type === 'message') live.delete(fn);
    return remove.call(this, type, fn, o);
  };
  window.__listeners = () => live.size;
  // And every iframe ever created (StrictMode's first mount included).
  let created = 0;
  const createElement = Document.prototype.createElement;
  Document.prototype.createElement = function (name, o) {
    if (String(name).toLowerCase() === 'iframe') created += 1;
    return createElement.call(this, name, o);
  };
  window.__created = () => created;
}

async function open(name) {
  const context = await browser.newContext();
  await context.addInitScript(instrument);
  await context.addInitScript(countListeners);
  const page = await context.newPage();
  const errors = [];
  const logs = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => logs.push(m.text()));
  await page.goto(`${stack.hostOrigin}/${name}.html`);
  return { page, context, errors, logs };
}

// The component pages: window.__render(props) renders both widgets (React in
// StrictMode), window.__unmount() removes them; events go to window.__events.
const REACT_PAGE = `
import { StrictMode, createElement as h, version } from 'react';
import { createRoot } from 'react-dom/client';
import { CardReveal, PinWidget } from '@paysecure/elements/react';
window.__events = [];
window.__version = version;
window.__revealRef = { current: undefined };
const root = createRoot(document.getElementById('root'));
window.__render = (p) => root.render(h(StrictMode, null,
  h(CardReveal, { ...p.reveal, ref: window.__revealRef, onEvent: (e) => window.__events.push(['reveal', e.event]), className: 'reveal' }),
  h(PinWidget, { ...p.pin, ref: (w) => { window.__pinRef = w; }, onReady: () => window.__events.push(['pin', 'onReady']), onEvent: (e) => window.__events.push(['pin', e.event]) })));
window.__unmount = () => root.unmount();
document.body.dataset.ready = 'true';`;

const VUE_PAGE = `
import { createApp, h, ref, version } from 'vue';
import { CardReveal, PinWidget } from '@paysecure/elements/vue';
window.__events = [];
window.__version = version;
const props = ref(null);
const reveal = ref(null);
window.__revealRef = { get current() { return reveal.value ? reveal.value.widget : null; } };
let app = null;
const App = { setup: () => () => props.value && [
  h(CardReveal, { ...props.value.reveal, ref: reveal, onReady: (e) => window.__events.push(['reveal', e.event]), onRevealed: (e) => window.__events.push(['reveal', e.event]) }),
  h(PinWidget, { ...props.value.pin, onReady: (e) => { window.__events.push(['pin', e.event]); window.__events.push(['pin', 'onReady']); } }),
] };
window.__render = (p) => {
  props.value = p;
  if (!app) { app = createApp(App); app.mount('#app'); }
};
window.__unmount = () => { app.unmount(); app = null; props.value = null; };
document.body.dataset.ready = 'true';`;

async function widgetProps() {
  const visa = stack.card('VISA');
  const mc = stack.card('MASTERCARD');
  return {
    reveal: { apiOrigin: stack.apiOrigin, token: visa.token, ephemeralKey: await stack.mintKey(visa.token, ['reveal']) },
    pin: { apiOrigin: stack.apiOrigin, token: mc.token, ephemeralKey: await stack.mintKey(mc.token, ['pin:verify']), features: ['verify'] },
  };
}

const state = (page) => page.evaluate(() => ({
  iframes: document.querySelectorAll('iframe').length,
  listeners: window.__listeners(),
  events: window.__events.map((e) => e.join(':')),
  refIsIframeOwner: window.__revealRef.current ? window.__revealRef.current.iframe === document.querySelector('iframe') : null,
}));

for (const [flavour, page, options] of [
  ['react19', REACT_PAGE, { reactVersion: 19 }],
  ['react18', REACT_PAGE, { reactVersion: 18 }],
  ['vue3', VUE_PAGE, {}],
]) {
  test(`${flavour}: mount, re-render, remount on a new key, unmount: one iframe and one listener per widget, none left`, async () => {
    await bundle(flavour, page, options);
    const { page: p, context, errors } = await open(flavour);
    await p.waitForSelector('body[data-ready="true"]', { state: 'attached' });
    const version = await p.evaluate(() => window.__version);
    assert.match(version, flavour === 'react18' ? /^18\./ : flavour === 'react19' ? /^19\./ : /^3\./);
    const baseline = await p.evaluate(() => window.__listeners());
    const props = await widgetProps();
    await p.evaluate((pr) => window.__render(pr), props);
    await p.waitForFunction(() => ['reveal:ready', 'reveal:revealed', 'pin:ready'].every((e) => window.__events.map((x) => x.join(':')).includes(e)));
    let s = await state(p);
    assert.equal(s.iframes, 2);
    assert.equal(s.listeners, baseline + 2);
    // StrictMode mounted, destroyed and mounted again (React: 4 iframes made
    // for 2 widgets; Vue has no StrictMode): only the last frame speaks, once.
    assert.equal(await p.evaluate(() => window.__created()), flavour.startsWith('react') ? 4 : 2);
    assert.equal(s.events.filter((e) => e === 'reveal:ready').length, 1, s.events.join());
    assert.equal(s.events.filter((e) => e === 'pin:onReady').length, 1, s.events.join());
    assert.equal(s.refIsIframeOwner, true);
    const first = await p.evaluateHandle(() => document.querySelector('iframe'));
    const pinFrame = await p.evaluateHandle(() => document.querySelectorAll('iframe')[1]);

    // Same options, new callbacks (and, in React, a new inline callback ref): no remount.
    await p.evaluate((pr) => window.__render(JSON.parse(JSON.stringify(pr))), props);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await p.evaluate((el) => el === document.querySelector('iframe') && el.isConnected, first), true);
    assert.equal(await p.evaluate((el) => el === document.querySelectorAll('iframe')[1] && el.isConnected, pinFrame), true);
    if (flavour.startsWith('react')) assert.equal(await p.evaluate((el) => window.__pinRef.iframe === el, pinFrame), true);

    // A new key: the reveal widget remounts (a new frame), still one each.
    const fresh = { ...props, reveal: { ...props.reveal, ephemeralKey: await stack.mintKey(props.reveal.token, ['reveal']) } };
    await p.evaluate((pr) => window.__render(pr), fresh);
    await p.waitForFunction(() => window.__events.filter((e) => e.join(':') === 'reveal:ready').length === 2);
    s = await state(p);
    assert.equal(s.iframes, 2);
    assert.equal(s.listeners, baseline + 2);
    assert.equal(await p.evaluate((el) => el.isConnected, first), false);
    assert.equal(s.refIsIframeOwner, true);

    await p.evaluate(() => window.__unmount());
    s = await state(p);
    assert.equal(s.iframes, 0);
    assert.equal(s.listeners, baseline);
    assert.equal(await p.evaluate(() => window.__revealRef.current ?? null), null);
    if (flavour.startsWith('react')) assert.equal(await p.evaluate(() => window.__pinRef), null);
    assert.deepEqual(await p.evaluate(() => window.__violations), []);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('server-side rendering: React 18, React 19 and Vue render an empty container, with no window', async () => {
  const props = { apiOrigin: 'https://cards.example.com', token: 'tok_0123456789abcdef', ephemeralKey: 'pse_mockmockmockmockmockmock' };
  const ssr = {
    react: `import { createElement as h } from 'react'; import { renderToString } from 'react-dom/server';
      import { CardReveal, PinWidget } from '@paysecure/elements/react';
      const p = ${JSON.stringify(props)};
      console.log(JSON.stringify([renderToString(h(CardReveal, { ...p, className: 'card' })), renderToString(h(PinWidget, p)), typeof window]));`,
    vue: `import { createSSRApp, h } from 'vue'; import { renderToString } from 'vue/server-renderer';
      import { CardReveal, PinWidget } from '@paysecure/elements/vue';
      const p = ${JSON.stringify(props)};
      console.log(JSON.stringify([await renderToString(createSSRApp({ render: () => h(CardReveal, p) })), await renderToString(createSSRApp({ render: () => h(PinWidget, p) })), typeof window]));`,
  };
  for (const [name, code, reactVersion] of [['react19', ssr.react, 19], ['react18', ssr.react, 18], ['vue', ssr.vue, 0]]) {
    const out = path.join(bundles, `ssr-${name}.mjs`);
    await esbuild.build({
      stdin: { contents: code, resolveDir: project.dir, loader: 'js' }, bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'silent',
      alias: reactVersion === 18 ? { react: path.join(react18, 'node_modules', 'react'), 'react-dom': path.join(react18, 'node_modules', 'react-dom') } : {},
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const [reveal, pin, win] = JSON.parse(execFileSync(process.execPath, [out], { encoding: 'utf8' }));
    if (name === 'vue') {
      assert.equal(reveal, '<div></div>');
      assert.equal(pin, '<div></div>');
    } else {
      assert.equal(reveal, '<div class="card"></div>', name);
      assert.equal(pin, '<div></div>', name);
    }
    assert.equal(win, 'undefined');
  }
});

test('every example of the package README runs in Chromium against the server (the one change: the apiOrigin)', async () => {
  const blocks = readmeBlocks();
  const byTitle = (t) => {
    const b = blocks.find((x) => x.title.startsWith(t));
    assert.ok(b, `README block "${t}"`);
    return b.code.replaceAll('https://cards.example.com', stack.apiOrigin);
  };
  stack.sessionCard = stack.card('VISA');
  const font = readFileSync('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf');
  const runs = [
    ['readme-vanilla', byTitle('vanilla:'), {}, ['card widget ready', 'card shown']],
    ['readme-react', byTitle('react:'), {}, ['card widget ready', 'PIN widget ready', 'card shown']],
    ['readme-vue', byTitle('vue: main.js'), { sfc: { 'CardPanel.vue': byTitle('vue: CardPanel.vue') } }, []],
  ];
  for (const [name, code, options, expected] of runs) {
    await bundle(name, code, options);
    const { page, context, errors, logs } = await open(name);
    await context.route('https://cdn.example.com/**', (r) => r.fulfill({ body: font, headers: { 'content-type': 'font/ttf', 'access-control-allow-origin': '*' } }));
    if (name === 'readme-vue') {
      await page.locator('#status:text-is("shown")').waitFor();
    } else {
      const deadline = Date.now() + 20000;
      while (!expected.every((w) => logs.includes(w)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(expected.filter((w) => !logs.includes(w)), [], `${name}: ${logs.join(' | ')}`);
    }
    assert.equal(await page.locator('iframe').count(), name === 'readme-vanilla' ? 1 : 2, name);
    assert.deepEqual(await page.evaluate(() => window.__violations), [], name);
    assert.deepEqual(errors, [], name);
    await context.close();
  }
});

test('the testing entry drives a React component in Chromium with no server and no request', async () => {
  await bundle('mock-react', `
    import { createElement as h, useState } from 'react';
    import { createRoot } from 'react-dom/client';
    import { CardReveal } from '@paysecure/elements/react';
    import { createMockIssuer } from '@paysecure/elements/testing';
    const issuer = createMockIssuer({ height: 321 }).install();
    window.__issuer = issuer;
    function Page() {
      const [note, setNote] = useState('loading');
      return h('div', null,
        h(CardReveal, { apiOrigin: issuer.origin, token: issuer.token, ephemeralKey: issuer.ephemeralKey,
          onRevealed: () => setNote('shown'), onCopyUnavailable: (e) => setNote('copy ' + e.field + ' by hand'), onError: (e) => setNote(e.code) }),
        h('p', { id: 'note' }, note));
    }
    createRoot(document.getElementById('root')).render(h(Page));`);
  const { page, context, errors } = await open('mock-react');
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.locator('#note:text-is("shown")').waitFor();
  assert.equal(await page.evaluate(() => document.querySelector('iframe').style.height), '321px');
  await page.evaluate(() => window.__issuer.frames[0].copy('pan', false));
  await page.locator('#note:text-is("copy pan by hand")').waitFor();
  await page.evaluate(() => window.__issuer.frames[0].error('NETWORK_ERROR'));
  await page.locator('#note:text-is("NETWORK_ERROR")').waitFor();
  assert.deepEqual(requests, []);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
  await context.close();
});
