// @paysecure/elements without a server: the SDK's option and message checks,
// driven through the testing entry's mock issuer in happy-dom; the README's
// testing example run exactly as documented (node --import ./happydom.mjs
// --test, React Testing Library) from a project with the packed tarball
// installed; and the Vue components under Vue Test Utils.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GlobalRegistrator } from '@happy-dom/global-registrator';
import { ensureBuilt, pkgDir, readmeBlocks, scratchProject } from './elements-support.mjs';

ensureBuilt();
GlobalRegistrator.register({ url: 'http://localhost:3000/' });
after(() => GlobalRegistrator.unregister());
const { mountCardReveal, mountPin, ElementsError, ERROR_CODES } = await import(path.join(pkgDir, 'src', 'index.js'));
const { createMockIssuer } = await import(path.join(pkgDir, 'src', 'testing.js'));

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
const host = () => document.body.appendChild(document.createElement('div'));

function withIssuer(options, fn) {
  return async () => {
    const issuer = createMockIssuer(options).install();
    try {
      await fn(issuer);
    } finally {
      issuer.uninstall();
      document.body.replaceChildren();
    }
  };
}

const base = (issuer) => ({ apiOrigin: issuer.origin, token: issuer.token, ephemeralKey: issuer.ephemeralKey });

test('mount: ready, auto-height, then the reveal; destroy removes the iframe and rejects nothing late', withIssuer({}, async (issuer) => {
  const events = [];
  const w = mountCardReveal(host(), { ...base(issuer), onEvent: (e) => events.push(e) });
  assert.equal(w.iframe.getAttribute('allow'), 'clipboard-write');
  assert.equal(w.iframe.style.height, '260px'); // before the first resize
  await w.ready;
  await tick();
  assert.deepEqual(events, [{ event: 'ready' }, { event: 'resize', height: 240 }, { event: 'revealed' }]);
  assert.equal(w.iframe.style.height, '240px');
  const frame = issuer.frames[0];
  assert.match(frame.init.channel, /^[0-9a-f]{32}$/);
  assert.equal(frame.init.ephemeralKey, issuer.ephemeralKey);
  w.destroy();
  assert.equal(document.querySelectorAll('iframe').length, 0);
  assert.equal(frame.connected, false);
  assert.throws(() => frame.reveal(), /destroyed/);
}));

test('options are checked at mount: a clear TypeError for each mistake', withIssuer({}, async (issuer) => {
  const ok = base(issuer);
  const bad = [
    [{ ...ok, apiOrigin: 'http://cards.example.com' }, /https/],
    [{ ...ok, apiOrigin: 'cards.example.com' }, /absolute URL/],
    [{ ...ok, token: 42 }, /strings/],
    [{ ...ok, appearance: { variables: { '--ps-accent': 'url(https://x.test/a.png)' } } }, /refused value/],
    [{ ...ok, appearance: { variables: { color: 'red' } } }, /unknown variable/],
    [{ ...ok, appearance: { fonts: [{ family: 'Inter', src: 'http://cdn.test/inter.woff2' }] } }, /https URL/],
    [{ ...ok, appearance: { fonts: [{ family: 'Inter', src: 'data:font/woff2;base64,AAAA' }] } }, /https URL/],
    [{ ...ok, appearance: { fonts: [{ family: 'Inter', src: 'https://user:pw@cdn.test/a.woff2' }] } }, /no credentials/],
    [{ ...ok, appearance: { fonts: [{ family: 'Inter"; }', src: 'https://cdn.test/a.woff2' }] } }, /family/],
    [{ ...ok, appearance: { fonts: [{ family: 'Inter', src: 'https://cdn.test/a.woff2', weight: '400; x' }] } }, /weight/],
    [{ ...ok, appearance: { fonts: Array(9).fill({ family: 'A', src: 'https://cdn.test/a.woff2' }) } }, /at most 8/],
    [{ ...ok, remaskAfterMs: 10 }, /remaskAfterMs/],
    [{ ...ok, maxHeight: Infinity }, /maxHeight/],
  ];
  for (const [options, message] of bad) assert.throws(() => mountCardReveal(host(), options), message, JSON.stringify(options));
  assert.throws(() => mountPin(host(), { ...ok, features: ['set', 'steal'] }), /features/);
  assert.throws(() => mountPin({}, ok), /DOM element/);
  assert.equal(issuer.frames.length, 0); // nothing was mounted
  // What the frame receives: only the checked copy (unicodeRange dropped).
  mountCardReveal(host(), { ...ok, appearance: { fonts: [{ family: 'Inter', src: 'https://cdn.test/Inter.woff2?v=1', unicodeRange: 'U+0030', display: 'swap' }] } });
  await tick();
  assert.deepEqual(issuer.frames[0].init.appearance, { variables: {}, fonts: [{ family: 'Inter', src: 'https://cdn.test/Inter.woff2?v=1', display: 'swap' }] });
}));

test('events of the wrong shape, name or channel are dropped; resize is clamped', withIssuer({}, async (issuer) => {
  const events = [];
  const w = mountPin(host(), { ...base(issuer), maxHeight: 700, onEvent: (e) => events.push(e) });
  await w.ready;
  const frame = issuer.frames[0];
  events.length = 0;
  frame.emit('exfiltrate', { pan: '4000000000000002' });
  frame.emit('copied', { field: 'pin' });
  frame.emit('verified', { verified: 'yes', triesRemaining: 2 });
  frame.emit('verified', { verified: false, triesRemaining: -1 });
  frame.emit('resize', { height: 'tall' });
  frame.emit('resize', { height: -3 });
  frame.emit('ready', { v: 2 }); // detail cannot override the protocol fields: still v1, accepted
  frame.emit('resize', { height: 1e9 });
  frame.emit('error', { code: 'SOMETHING_NEW' });
  frame.emit('verified', { verified: false, triesRemaining: 1, pan: '4000000000000002' });
  // The same message under another channel (another mount's): dropped.
  const win = frame.iframe.ownerDocument.defaultView;
  win.dispatchEvent(new win.MessageEvent('message', { data: { type: 'paysecure:event', v: 1, channel: '0'.repeat(32), event: 'pin-set' }, origin: issuer.origin, source: frame.iframe.contentWindow }));
  // Right channel, wrong origin or wrong source: dropped.
  win.dispatchEvent(new win.MessageEvent('message', { data: { type: 'paysecure:event', v: 1, channel: frame.init.channel, event: 'pin-set' }, origin: 'https://evil.test', source: frame.iframe.contentWindow }));
  win.dispatchEvent(new win.MessageEvent('message', { data: { type: 'paysecure:event', v: 1, channel: frame.init.channel, event: 'pin-set' }, origin: issuer.origin, source: win }));
  await tick();
  assert.deepEqual(events, [
    { event: 'ready' },
    { event: 'resize', height: 700 },
    { event: 'error', code: 'UNEXPECTED' },
    { event: 'verified', verified: false, triesRemaining: 1 },
  ]);
  assert.equal(w.iframe.style.height, '700px');
  for (const code of ['UNAUTHORIZED', 'PIN_BLOCKED', 'NETWORK_ERROR']) assert.ok(ERROR_CODES.includes(code));
}));

test('two widgets on one page: each hears only its own frame', withIssuer({}, async (issuer) => {
  const a = [];
  const b = [];
  const wa = mountCardReveal(host(), { ...base(issuer), onEvent: (e) => a.push(e.event) });
  const wb = mountPin(host(), { ...base(issuer), onEvent: (e) => b.push(e.event) });
  await Promise.all([wa.ready, wb.ready]);
  await tick();
  const [fa, fb] = issuer.frames;
  assert.notEqual(fa.init.channel, fb.init.channel);
  fb.setPin();
  fa.copy('cvv2');
  await tick();
  assert.deepEqual(a, ['ready', 'resize', 'revealed', 'copied']);
  assert.deepEqual(b, ['ready', 'resize', 'pin-set']);
}));

test('on/off, once-only ready, errors before ready, timeout and destroy reject `ready` with a code', withIssuer({ autoReady: false }, async (issuer) => {
  const w = mountCardReveal(host(), base(issuer));
  const seen = [];
  const cb = (e) => seen.push(e.event);
  w.on('revealed', cb).on('*', (e) => seen.push(`*${e.event}`));
  const frame = await issuer.nextFrame();
  frame.emit('ready').reveal();
  await w.ready;
  w.off('revealed', cb);
  frame.reveal();
  await tick();
  assert.deepEqual(seen, ['*ready', 'revealed', '*revealed', '*revealed']);

  const failed = mountCardReveal(host(), base(issuer));
  (await issuer.nextFrame()).error('UNAUTHORIZED');
  await assert.rejects(failed.ready, (e) => e instanceof ElementsError && e.code === 'UNAUTHORIZED');

  const slow = mountCardReveal(host(), { ...base(issuer), readyTimeoutMs: 20 });
  const errors = [];
  slow.on('error', (e) => errors.push(e.code));
  await assert.rejects(slow.ready, (e) => e.code === 'FRAME_TIMEOUT');
  assert.deepEqual(errors, ['FRAME_TIMEOUT']);

  const gone = mountPin(host(), base(issuer));
  gone.destroy();
  gone.destroy(); // idempotent
  await assert.rejects(gone.ready, (e) => e.code === 'DESTROYED');
  assert.equal(gone.destroyed, true);
}));

test('an init the real frame would refuse is refused by the mock too (and nothing is emitted)', withIssuer({}, async (issuer) => {
  const w = mountCardReveal(host(), { ...base(issuer), token: 'not-a-token', readyTimeoutMs: 30 });
  await assert.rejects(w.ready, (e) => e.code === 'FRAME_TIMEOUT');
  assert.deepEqual(issuer.rejected, [{ widget: 'reveal', token: 'not-a-token' }]);
}));

test('without an installed mock, mounting frames the real widget page (no mock, no srcdoc)', async () => {
  const w = mountCardReveal(host(), { apiOrigin: 'https://cards.example.com/ignored/path', token: 'tok_0123456789abcdef', ephemeralKey: 'pse_mockmockmockmockmockmock', readyTimeoutMs: 0 });
  assert.equal(w.iframe.getAttribute('src'), 'https://cards.example.com/widget/reveal.html');
  assert.equal(w.iframe.getAttribute('srcdoc'), null);
  w.destroy();
  document.body.replaceChildren();
});

test('the README testing example runs as documented, from the packed tarball', () => {
  const blocks = readmeBlocks().filter((b) => b.title.startsWith('testing:'));
  assert.equal(blocks.length, 2);
  const project = scratchProject(['react', 'react-dom', '@testing-library/react', '@testing-library/dom', '@happy-dom/global-registrator', 'happy-dom']);
  try {
    for (const b of blocks) writeFileSync(path.join(project.dir, b.title.match(/^testing: ([\w.-]+\.mjs)/)[1]), b.code);
    // (NODE_TEST_CONTEXT would make the child report to this runner instead.)
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const out = execFileSync(process.execPath, ['--import', './happydom.mjs', '--test', 'card-page.test.mjs'], { cwd: project.dir, encoding: 'utf8', env });
    assert.match(out, /^# pass 1$/m);
    assert.match(out, /^# fail 0$/m);
  } finally {
    project.cleanup();
  }
});

test('Vue Test Utils: the Vue components emit the mock frame events, and unmount destroys the widget', withIssuer({}, async (issuer) => {
  const { mount, flushPromises } = await import('@vue/test-utils');
  const { CardReveal, PinWidget } = await import(path.join(pkgDir, 'src', 'vue.js'));
  const wrapper = mount(CardReveal, { props: base(issuer), attachTo: host() });
  const frame = await issuer.nextFrame();
  await tick();
  await flushPromises();
  assert.deepEqual(wrapper.emitted('ready'), [[{ event: 'ready' }]]);
  assert.deepEqual(wrapper.emitted('revealed'), [[{ event: 'revealed' }]]);
  frame.copy('expiry', false);
  await tick();
  assert.deepEqual(wrapper.emitted('copyUnavailable'), [[{ event: 'copy-unavailable', field: 'expiry' }]]);
  assert.equal(wrapper.vm.widget.iframe, wrapper.find('iframe').element);
  // A new key remounts: a new frame with a new channel, the old one gone.
  await wrapper.setProps({ ephemeralKey: 'pse_anotheranotheranother' });
  await tick();
  assert.equal(issuer.mounted.length, 1);
  assert.equal(issuer.mounted[0].init.ephemeralKey, 'pse_anotheranotheranother');
  assert.notEqual(issuer.mounted[0].init.channel, frame.init.channel);
  wrapper.unmount();
  assert.equal(issuer.mounted.length, 0);

  const pin = mount(PinWidget, { props: { ...base(issuer), features: ['verify'] }, attachTo: host() });
  const pf = issuer.mounted.find((f) => f.widget === 'pin');
  assert.deepEqual(pf.init.features, ['verify']);
  await tick();
  pf.verify(false, 0);
  await tick();
  assert.deepEqual(pin.emitted('verified'), [[{ event: 'verified', verified: false, triesRemaining: 0 }]]);
  assert.deepEqual(pin.emitted('blocked'), [[{ event: 'blocked', code: 'PIN_BLOCKED' }]]);
  pin.unmount();
}));
