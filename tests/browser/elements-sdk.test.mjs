// @paysecure/elements (the built package, pkg/elements) in headless Chromium
// against a real paysecure-server: host pages on http://localhost:HOSTPORT
// with the README's CSP mount the widgets from http://127.0.0.1:PORT. Covers
// mounting, auto-height, the message channel (channel ids, forged messages
// from other windows and origins, both directions), copy and its fallback,
// fonts under the widget CSP, the script-tag copy served by the server, and
// that no PAN, CVV2 or PIN ever reaches the host page.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { launch, root } from './harness.mjs';
import { startStack, instrument } from './elements-harness.mjs';
import { ensureBuilt, pkgDir } from '../js/elements-support.mjs';

let stack, browser;

const HOST_HTML = (script) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>host</title>
<script type="module" src="${script}"></script></head>
<body><div id="a"></div><div id="b"></div></body></html>`;

before(async () => {
  ensureBuilt();
  stack = await startStack();
  stack.pages['/elements/'] = path.join(pkgDir, 'src');
  // The bundled-package user: imports the package's own file.
  stack.pages['/host.js'] = { type: 'text/javascript', body: "import * as elements from '/elements/index.js'; window.elements = elements; document.body.dataset.ready = 'true';" };
  stack.pages['/host.html'] = { body: HOST_HTML('/host.js') };
  // The script-tag user: imports the card service's /sdk/paysecure-embed.js.
  stack.pages['/host-sdk.js'] = { type: 'text/javascript', body: `import * as elements from '${stack.apiOrigin}/sdk/paysecure-embed.js'; window.elements = elements; document.body.dataset.ready = 'true';` };
  stack.pages['/host-sdk.html'] = { body: HOST_HTML('/host-sdk.js'), scriptSrc: stack.apiOrigin };
  stack.pages['/other.html'] = { body: '<!doctype html><title>third party</title>' };
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function newPage({ query = '', clipboard = true, file = 'host.html' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  if (clipboard) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.apiOrigin });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.hostOrigin });
  }
  await context.addInitScript(instrument);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${stack.hostOrigin}/${file}${query}`);
  await page.bringToFront(); // the clipboard is written only by the focused page
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
  await page.evaluate(() => { for (const id of ['a', 'b']) document.getElementById(id).style.width = '640px'; });
  return { page, context, errors };
}

/** Mounts a widget in #id from the page; its events collect in window.__events[id]. */
async function mount(page, id, kind, options) {
  await page.evaluate(({ id, kind, options }) => {
    window.__events ||= {};
    window.__widgets ||= {};
    window.__events[id] = [];
    const fn = kind === 'reveal' ? window.elements.mountCardReveal : window.elements.mountPin;
    const w = fn(document.getElementById(id), { ...options, onEvent: (e) => window.__events[id].push(e) });
    window.__widgets[id] = w;
    window.__ready ||= {};
    window.__ready[id] = w.ready.then(() => 'ready', (e) => `rejected ${e.code}`);
  }, { id, kind, options });
  return page.evaluate((id) => window.__ready[id], id);
}

const events = (page, id) => page.evaluate((id) => window.__events[id], id);
const waitEvent = (page, id, name, count = 1) =>
  page.waitForFunction(({ id, name, count }) => window.__events[id].filter((e) => e.event === name).length >= count, { id, name, count });
async function frameOf(page, id) {
  for (const f of page.frames()) {
    if (f === page.mainFrame()) continue;
    const el = await f.frameElement();
    if (await el.evaluate((e, id) => e.parentElement?.id === id, id)) return f;
  }
  throw new Error(`no frame in #${id}`);
}
const iframeHeight = (page, id) => page.evaluate((id) => document.querySelector(`#${id} iframe`).getBoundingClientRect().height, id);

async function opts(brand, scopes) {
  const card = stack.card(brand);
  return { apiOrigin: stack.apiOrigin, token: card.token, ephemeralKey: await stack.mintKey(card.token, scopes) };
}
const REVEAL = ['reveal'];
const PIN = ['pin:read', 'pin:write', 'pin:verify'];

test('the widget CSP admits https fonts and nothing more; the SDK at /sdk/ is the package source itself', async () => {
  const res = await fetch(`${stack.apiOrigin}/widget/pin.html`);
  assert.equal(res.headers.get('content-security-policy'),
    `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; font-src 'self' https:; connect-src 'self'; frame-ancestors 'self' ${stack.hostOrigin}; base-uri 'none'; form-action 'none'`);
  const sdk = await fetch(`${stack.apiOrigin}/sdk/paysecure-embed.js`);
  assert.equal(sdk.status, 200);
  assert.equal(sdk.headers.get('access-control-allow-origin'), '*');
  assert.match(sdk.headers.get('content-type'), /javascript/);
  const served = Buffer.from(await sdk.arrayBuffer());
  assert.ok(served.equals(readFileSync(path.join(root, 'www', 'elements', 'src', 'index.js'))), 'served = www/elements/src/index.js');
  assert.ok(served.equals(readFileSync(path.join(pkgDir, 'src', 'index.js'))), 'served = the packed index.js');
});

for (const file of ['host.html', 'host-sdk.html']) {
  test(`${file}: reveal and PIN mount from another origin, reveal matches the vault, no CSP violation`, async () => {
    const { page, errors } = await newPage({ file });
    assert.equal(await mount(page, 'a', 'reveal', await opts('VISA', REVEAL)), 'ready');
    assert.equal(await mount(page, 'b', 'pin', await opts('MASTERCARD', PIN)), 'ready');
    await waitEvent(page, 'a', 'revealed');
    const frame = await frameOf(page, 'a');
    assert.equal(new URL(frame.url()).origin, stack.apiOrigin);
    assert.notEqual(stack.apiOrigin, stack.hostOrigin);
    const v = await stack.vault(stack.card('VISA').token);
    assert.equal((await frame.locator('#pan').textContent()).replace(/ /g, ''), v.pan);
    assert.equal(await frame.locator('#cvv2').textContent(), v.cvv2);
    const iframe = page.locator('#a iframe');
    assert.equal(await iframe.getAttribute('allow'), 'clipboard-write');
    assert.equal(await iframe.getAttribute('title'), 'Card details');
    assert.deepEqual((await events(page, 'a')).map((e) => e.event).filter((e) => e !== 'resize'), ['ready', 'revealed']);
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(errors, []);
    await page.evaluate(() => window.__widgets.a.destroy());
    assert.equal(await page.locator('#a iframe').count(), 0);
    await page.context().close();
  });
}

test('auto-height: the iframe follows the frame content as the width and the content change; autoHeight:false keeps it', async () => {
  const { page } = await newPage();
  assert.equal(await mount(page, 'a', 'pin', await opts('AMEX', PIN)), 'ready');
  await waitEvent(page, 'a', 'resize');
  const frame = await frameOf(page, 'a');
  const content = () => frame.evaluate(() => Math.ceil(document.body.getBoundingClientRect().height));
  await page.waitForFunction(() => document.querySelector('#a iframe').style.height !== '660px');
  const wide = await iframeHeight(page, 'a');
  assert.equal(wide, await content());
  assert.ok(wide > 100 && wide < 2000, `${wide}`);
  // Narrower: the labels and buttons wrap, the content grows, the iframe follows.
  await page.evaluate(() => { document.getElementById('a').style.width = '150px'; });
  await page.waitForFunction((h) => document.querySelector('#a iframe').getBoundingClientRect().height > h, wide);
  const narrow = await iframeHeight(page, 'a');
  assert.equal(narrow, await content());
  // New content: an error message that wraps over several lines.
  await frame.locator('#pin1').fill('1234');
  await frame.locator('#pin2').fill('1234');
  await frame.locator('#set').click();
  await frame.locator('#set-status:has-text("consecutive")').waitFor();
  await page.waitForFunction((h) => document.querySelector('#a iframe').getBoundingClientRect().height > h, narrow);
  assert.equal(await iframeHeight(page, 'a'), await content());

  // A PIN widget with one feature is shorter; with autoHeight false, the given height stays.
  assert.equal(await mount(page, 'b', 'pin', { ...(await opts('AMEX', PIN)), features: ['verify'] }), 'ready');
  await waitEvent(page, 'b', 'resize');
  // Its resizes may arrive while its content is still being laid out: wait for
  // the height to settle below the two-feature widget's (a timeout fails the test).
  await page.waitForFunction((w) => {
    const h = parseFloat(document.querySelector('#b iframe').style.height);
    return h > 0 && h < w;
  }, wide, { timeout: 10_000 });
  assert.ok((await iframeHeight(page, 'b')) < wide);
  assert.equal(await mount(page, 'b', 'pin', { ...(await opts('AMEX', PIN)), autoHeight: false, height: 333 }), 'ready');
  await waitEvent(page, 'b', 'resize');
  assert.equal(await iframeHeight(page, 'b'), 333);
  assert.equal(await page.locator('#b iframe').getAttribute('scrolling'), 'auto');
  await page.context().close();
});

test('resize from the frame is validated: clamped to maxHeight, junk ignored', async () => {
  const { page } = await newPage();
  assert.equal(await mount(page, 'a', 'reveal', { ...(await opts('VISA', REVEAL)), maxHeight: 500 }), 'ready');
  await waitEvent(page, 'a', 'revealed');
  const frame = await frameOf(page, 'a');
  const post = (m) => frame.evaluate((m) => window.parent.postMessage({ type: 'paysecure:event', v: 1, channel: window.__channel, ...m }, '*'), m);
  const before = await iframeHeight(page, 'a');
  for (const height of ['999', -1, null, { valueOf: 1 }]) await post({ event: 'resize', height });
  await post({ event: 'resize', height: 1e9 });
  await page.waitForFunction(() => document.querySelector('#a iframe').style.height === '500px');
  const resizes = (await events(page, 'a')).filter((e) => e.event === 'resize').map((e) => e.height);
  assert.equal(resizes.at(-1), 500);
  assert.ok(resizes.every((h) => typeof h === 'number' && h <= 500), JSON.stringify(resizes));
  assert.notEqual(before, 500);
  await page.context().close();
});

test('two widgets on one page never cross-talk: a message with the other mount\'s channel is dropped by both', async () => {
  const { page } = await newPage();
  assert.equal(await mount(page, 'a', 'reveal', await opts('VISA', REVEAL)), 'ready');
  assert.equal(await mount(page, 'b', 'reveal', await opts('AMEX', REVEAL)), 'ready');
  await waitEvent(page, 'a', 'revealed');
  await waitEvent(page, 'b', 'revealed');
  const fa = await frameOf(page, 'a');
  const fb = await frameOf(page, 'b');
  const channelA = await fa.evaluate(() => window.__channel);
  const channelB = await fb.evaluate(() => window.__channel);
  assert.match(channelA, /^[0-9a-f]{32}$/);
  assert.notEqual(channelA, channelB);
  const count = async () => [(await events(page, 'a')).length, (await events(page, 'b')).length];
  const [a0, b0] = await count();
  // Frame A speaks on B's channel: A drops it (channel), B drops it (source).
  await fa.evaluate((ch) => window.parent.postMessage({ type: 'paysecure:event', v: 1, channel: ch, event: 'copied', field: 'pan' }, '*'), channelB);
  // Positive control: frame A on its own channel is heard, by A only.
  await fa.evaluate((ch) => window.parent.postMessage({ type: 'paysecure:event', v: 1, channel: ch, event: 'copied', field: 'cvv2' }, '*'), channelA);
  await waitEvent(page, 'a', 'copied');
  const [a1, b1] = await count();
  assert.equal(a1, a0 + 1);
  assert.equal(b1, b0);
  assert.deepEqual((await events(page, 'a')).at(-1), { event: 'copied', field: 'cvv2' });
  await page.context().close();
});

test('forged messages from other windows are ignored, whatever their origin and channel', async () => {
  const { page, context } = await newPage();
  assert.equal(await mount(page, 'a', 'reveal', await opts('VISA', REVEAL)), 'ready');
  await waitEvent(page, 'a', 'revealed');
  const channel = await (await frameOf(page, 'a')).evaluate(() => window.__channel);
  const forge = { type: 'paysecure:event', v: 1, channel, event: 'error', code: 'UNAUTHORIZED' };
  // A third party's window, and a window of the widget origin itself (not our iframe).
  for (const url of [`${stack.otherOrigin}/other.html`, `${stack.apiOrigin}/v2/public-key`]) {
    const [popup] = await Promise.all([context.waitForEvent('page'), page.evaluate((u) => { window.open(u); }, url)]);
    await popup.waitForLoadState();
    await popup.evaluate((m) => { window.opener.postMessage(m, '*'); }, forge);
    // Same origin as the host page: a same-origin script forging the event directly also lacks the iframe as source.
    await page.evaluate((m) => window.postMessage(m, '*'), forge);
    await popup.close();
  }
  // Positive control: the same message from the real frame is heard.
  await (await frameOf(page, 'a')).evaluate((m) => window.parent.postMessage(m, '*'), forge);
  await waitEvent(page, 'a', 'error');
  assert.deepEqual((await events(page, 'a')).filter((e) => e.event === 'error'), [{ event: 'error', code: 'UNAUTHORIZED' }]);
  // The window did receive every forgery (cross-process ones may arrive in any order).
  const forgedSeen = await page.evaluate(() => window.__received.filter((m) => m.data.includes('UNAUTHORIZED')).map((m) => m.origin));
  assert.deepEqual(forgedSeen.sort(), [stack.otherOrigin, stack.hostOrigin, stack.apiOrigin, stack.hostOrigin, stack.apiOrigin].sort());
  await context.close();
});

test('the frame takes its init only from its parent, in the current protocol, with a channel id', async () => {
  const { page, context } = await newPage();
  const requests = [];
  page.on('request', (r) => { if (r.url().includes('/v2/cards/')) requests.push(r.url()); });
  // A bare widget iframe, no SDK: the test plays the host.
  await page.evaluate((src) => {
    const f = document.createElement('iframe');
    f.src = src;
    document.getElementById('a').append(f);
    return new Promise((ok) => f.addEventListener('load', ok, { once: true }));
  }, `${stack.apiOrigin}/widget/reveal.html`);
  const card = stack.card('MASTERCARD');
  const init = { type: 'paysecure:init', v: 1, channel: 'ab'.repeat(16), token: card.token, ephemeralKey: await stack.mintKey(card.token, REVEAL) };
  // From a third-party window: ignored.
  const [popup] = await Promise.all([context.waitForEvent('page'), page.evaluate((u) => { window.open(u); }, `${stack.otherOrigin}/other.html`)]);
  await popup.waitForLoadState();
  await popup.evaluate(({ init, origin }) => window.opener.frames[0].postMessage(init, origin), { init: { ...init, channel: 'ef'.repeat(16) }, origin: stack.apiOrigin });
  // From the parent, but malformed: no channel, an old version, a bad channel.
  // (Each with its own channel: the frame takes one init only, and every
  // event it sends carries that init's channel, so the events below tell
  // which init it took.)
  const fromParent = (m) => page.evaluate(({ m, origin }) => document.querySelector('#a iframe').contentWindow.postMessage(m, origin), { m, origin: stack.apiOrigin });
  await fromParent({ ...init, channel: undefined });
  await fromParent({ ...init, v: 0, channel: 'cd'.repeat(16) });
  await fromParent({ ...init, channel: 'not-hex' });
  const frame = await frameOf(page, 'a');
  // The widget still waits (no reveal request, the loading status), which
  // the well-formed init from the parent then ends.
  await frame.locator('#status').waitFor();
  assert.equal(await frame.locator('#status').textContent(), 'Loading…');
  assert.deepEqual(requests, []);
  await fromParent(init);
  await frame.locator('#toggle[aria-pressed="true"]').waitFor();
  assert.equal(requests.length, 1);
  const heard = await page.evaluate(() => window.__received.map((m) => JSON.parse(m.data)).filter((m) => m.type === 'paysecure:event'));
  assert.ok(heard.length >= 2 && heard.every((m) => m.channel === 'ab'.repeat(16) && m.v === 1), JSON.stringify(heard));
  await context.close();
});

test('copy: `copied` where the frame may write the clipboard, `copy-unavailable` where the host forbids it; never the value', async () => {
  const v = await stack.vault(stack.card('MASTERCARD').token);
  {
    const { page, context } = await newPage();
    assert.equal(await mount(page, 'a', 'reveal', await opts('MASTERCARD', REVEAL)), 'ready');
    await waitEvent(page, 'a', 'revealed');
    await (await frameOf(page, 'a')).locator('button.copy[data-field="pan"]').click();
    await page.waitForFunction(() => window.__events.a.some((e) => e.event.startsWith('cop')));
    assert.deepEqual((await events(page, 'a')).filter((e) => e.event.startsWith('cop')), [{ event: 'copied', field: 'pan' }],
      `frame status: ${await (await frameOf(page, 'a')).locator('#status').textContent()}`);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), v.pan);
    await context.close();
  }
  {
    // The host page's Permissions-Policy: clipboard-write=() (the frame inherits it).
    const { page, context } = await newPage({ query: '?clipboard=deny' });
    assert.equal(await mount(page, 'a', 'reveal', await opts('MASTERCARD', REVEAL)), 'ready');
    await waitEvent(page, 'a', 'revealed');
    const frame = await frameOf(page, 'a');
    await frame.locator('button.copy[data-field="cvv2"]').click();
    await waitEvent(page, 'a', 'copy-unavailable');
    assert.deepEqual((await events(page, 'a')).filter((e) => e.event.startsWith('cop')), [{ event: 'copy-unavailable', field: 'cvv2' }]);
    assert.match(await frame.locator('#status').textContent(), /not available/);
    const received = await page.evaluate(() => window.__received.map((m) => m.data).join('\n'));
    assert.ok(!received.includes(v.cvv2) && !received.includes(v.pan));
    await context.close();
  }
});

test('fonts: an https font file loads in the frame (font-src), never renders the card values; stylesheets and http fonts are refused', async () => {
  const { page, context } = await newPage();
  const hits = [];
  const font = readFileSync('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf');
  await context.route(/fonts\.paysecure\.test/, (route) => {
    hits.push(route.request().url());
    route.fulfill({ status: 200, body: font, headers: { 'content-type': 'font/ttf', 'access-control-allow-origin': '*' } });
  });
  const appearance = {
    variables: { '--ps-font-family': 'Host Sans, sans-serif', '--ps-accent': '#0b6e4f' },
    fonts: [{ family: 'Host Sans', src: 'https://fonts.paysecure.test/host-sans.ttf', display: 'block' }],
  };
  assert.equal(await mount(page, 'a', 'reveal', { ...(await opts('VISA', REVEAL)), appearance }), 'ready');
  await waitEvent(page, 'a', 'revealed');
  const frame = await frameOf(page, 'a');
  await frame.waitForFunction(() => [...document.fonts].some((f) => f.family.replace(/"/g, '') === 'Host Sans' && f.status === 'loaded'));
  assert.deepEqual(hits, ['https://fonts.paysecure.test/host-sans.ttf']);
  assert.match(await frame.evaluate(() => getComputedStyle(document.querySelector('h1')).fontFamily), /Host Sans/);
  for (const id of ['#pan', '#cvv2', '#expiry']) {
    assert.doesNotMatch(await frame.evaluate((id) => getComputedStyle(document.querySelector(id)).fontFamily, id), /Host Sans/, id);
  }
  // The widget CSP, in the frame: no stylesheet from elsewhere, no http font.
  const refused = await frame.evaluate(async () => {
    const seen = [];
    document.addEventListener('securitypolicyviolation', (e) => seen.push(e.violatedDirective));
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = 'https://fonts.paysecure.test/evil.css';
    document.head.append(link);
    const face = new FontFace('Plain', 'url(http://fonts.paysecure.test/plain.ttf)');
    const loaded = await face.load().then(() => 'loaded', () => 'refused');
    await new Promise((r) => setTimeout(r, 200));
    return { seen: [...new Set(seen)].sort(), loaded };
  });
  assert.deepEqual(refused, { seen: ['font-src', 'style-src-elem'], loaded: 'refused' });
  assert.deepEqual(hits, ['https://fonts.paysecure.test/host-sans.ttf']);
  // The SDK refuses the same before anything is sent.
  const thrown = await page.evaluate((o) => {
    try {
      window.elements.mountCardReveal(document.getElementById('b'), o);
      return 'mounted';
    } catch (e) {
      return `${e.name}: ${e.message}`;
    }
  }, { ...(await opts('VISA', REVEAL)), appearance: { fonts: [{ family: 'X', src: 'https://fonts.paysecure.test/x.css', display: 'nope' }] } });
  assert.match(thrown, /^TypeError: appearance\.fonts\[0\]\.display/);
  await context.close();
});

test('isolation: the host DOM and every message it received never held the PAN, CVV2 or PIN', async () => {
  const { page } = await newPage();
  const visa = await stack.vault(stack.card('VISA').token);
  assert.equal(await mount(page, 'a', 'reveal', await opts('VISA', REVEAL)), 'ready');
  assert.equal(await mount(page, 'b', 'pin', await opts('MASTERCARD', PIN)), 'ready');
  await waitEvent(page, 'a', 'revealed');
  const fa = await frameOf(page, 'a');
  await fa.locator('button.copy[data-field="cvv2"]').click();
  await waitEvent(page, 'a', 'copied');
  const fb = await frameOf(page, 'b');
  const pin = '580317';
  await fb.locator('#pin1').fill(pin);
  await fb.locator('#pin2').fill(pin);
  await fb.locator('#set').click();
  await waitEvent(page, 'b', 'pin-set');
  assert.equal(await stack.vaultPin(stack.card('MASTERCARD').token), pin);
  await fb.locator('#reveal').click();
  await fb.locator(`#pin:text-is("${pin}")`).waitFor();
  await waitEvent(page, 'b', 'pin-revealed');
  const html = await page.content();
  const messages = await page.evaluate(() => window.__received);
  const received = messages.map((m) => m.data).join('\n');
  const handled = JSON.stringify(await page.evaluate(() => window.__events));
  // As a number of its own (a CVV2's 3 digits may well occur inside a port or a hex id).
  for (const secret of [visa.pan, visa.cvv2, pin, visa.pan.slice(6, 12)]) {
    const alone = new RegExp(`(^|\\D)${secret}(\\D|$)`);
    for (const [where, text] of [['DOM', html], ['messages', received], ['events', handled]]) {
      assert.doesNotMatch(text, alone, `a secret reached the host ${where}`);
    }
  }
  // And every message of the frames has only the protocol's fields.
  const allowed = new Set(['type', 'v', 'channel', 'event', 'field', 'reason', 'code', 'height', 'verified', 'triesRemaining']);
  for (const m of messages.filter((m) => m.origin === stack.apiOrigin)) {
    const data = JSON.parse(m.data);
    assert.deepEqual(Object.keys(data).filter((k) => !allowed.has(k)), [], m.data);
    assert.match(data.channel, /^[0-9a-f]{32}$/);
  }
  assert.ok(received.includes('"pin-revealed"') && received.includes('"copied"'));
  await page.context().close();
});
