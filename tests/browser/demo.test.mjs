// End to end: the demo page in headless Chromium, clicked like a cardholder
// would. paysecure-wasm on one side, WebCrypto as the issuer on the other.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';

let server, browser, page;
const errors = [];

before(async () => {
  server = await serve();
  browser = await launch();
  page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const text = (id) => page.textContent(`#${id}`);
const wireText = () => page.textContent('#log');

test('starts masked, with nothing secret on the page or the wire', async () => {
  assert.equal(await text('pan'), '4111 11•• •••• 1111');
  assert.equal(await text('cvv2'), '•••');
  assert.match(await text('status'), /^Ready/);
  assert.ok(!(await wireText()).includes('4111111111111111'));
});

for (const keyBits of ['256', '128']) {
  test(`reveal with AES-${keyBits}: PAN, expiry and CVV2 decrypted in the page`, async () => {
    await page.selectOption('#keyBits', keyBits);
    await page.click('#reveal');
    await page.waitForSelector('#card[data-state="revealed"]');
    assert.equal(await text('pan'), '4111 1111 1111 1111');
    assert.equal(await text('cvv2'), '123');
    assert.equal(await text('expiry'), '12/29');
    assert.equal(await text('brand'), 'VISA');
    assert.match(await text('status'), new RegExp(`AES-${keyBits}-GCM`));
    const wire = await wireText();
    assert.match(wire, /POST \/v2\/cards\/tok_4f9c2a71\/reveal\s+Session-Id: /);
    for (const secret of ['4111111111111111', '"123"']) assert.ok(!wire.includes(secret), `${secret} on the wire`);
    await page.click('#hide');
    assert.equal(await text('cvv2'), '•••');
  });
}

test('set a PIN, then read it back', async () => {
  await page.click('#showPin');
  await page.waitForFunction(() => document.querySelector('#pin').textContent === '1432');
  await page.fill('#newPin', '975310');
  await page.click('#setPin');
  await page.waitForFunction(() => /PIN changed/.test(document.querySelector('#status').textContent));
  await page.click('#showPin');
  await page.waitForFunction(() => document.querySelector('#pin').textContent === '975310');
  assert.ok(!(await wireText()).includes('975310'), 'PIN on the wire');
});

test('a bad PIN is refused in the browser with its error code', async () => {
  await page.fill('#newPin', '12');
  await page.click('#setPin');
  await page.waitForFunction(() => document.querySelector('#status').dataset.kind === 'error');
  assert.match(await text('status'), /^INVALID_PIN: /);
});

test('no page errors', () => {
  assert.deepEqual(errors, []);
});
