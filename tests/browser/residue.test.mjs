// Issue #14 in Chromium (the web build): the residue scan of
// tests/js/residue-scan.mjs in a real page, randomness written straight into
// the module's memory, and no call leaving bytes on the shadow stack.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';

let server, browser, page;

before(async () => {
  server = await serve();
  browser = await launch();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  await page.evaluate(async () => {
    // The module's memory, which the package keeps private: noted as it is instantiated.
    let wasm;
    const streaming = WebAssembly.instantiateStreaming;
    WebAssembly.instantiateStreaming = async (...args) => {
      const r = await streaming(...args);
      wasm = r.instance.exports;
      return r;
    };
    const mod = await import('/pkg/paysecure_wasm.js');
    await mod.initAsync();
    WebAssembly.instantiateStreaming = streaming;
    const scan = await import('/tests/js/residue-scan.mjs');
    const bytes = new Uint8Array(await (await fetch('/pkg/paysecure_wasm_bg.wasm')).arrayBuffer());
    window.env = {
      ps: mod,
      memory: wasm.memory,
      stackTop: scan.stackTopOf(bytes),
      vectors: await (await fetch('/tests/data/paysecure-v1-v2.json')).json(),
    };
    window.scan = scan;
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('residue scan (Chromium): no secret is left in linear memory after any public function', async () => {
  const { findings, table, controls, calls } = await page.evaluate(async () => {
    const r = await window.scan.residueScan(window.env);
    return { findings: r.findings, table: r.table, controls: r.controls, calls: r.rows.length - 1 };
  });
  console.log(`residue scan, web build in Chromium, ${calls} calls scanned:\n${table}`);
  assert.ok(controls >= 8, 'the live session keys were seen while alive');
  assert.deepEqual(findings, []);
});

test('random bytes are written straight into wasm memory in Chromium, never staged in a JavaScript buffer', async () => {
  const into = await page.evaluate(() => {
    const { ps, memory, vectors } = window.env;
    const into = [];
    const getRandomValues = crypto.getRandomValues;
    crypto.getRandomValues = (array) => {
      into.push(array.buffer === memory.buffer ? 'wasm memory' : `a ${array.buffer.byteLength}-byte JS buffer`);
      return getRandomValues.call(crypto, array);
    };
    try {
      const s = ps.Session.create(vectors.rsa.public_spki_pem);
      s.encrypt('x');
      s.free();
      ps.pinBlock('1234', { format: 1 });
    } finally {
      crypto.getRandomValues = getRandomValues;
    }
    return into;
  });
  assert.ok(into.length >= 3, `crypto.getRandomValues was called (${into.length} times)`);
  assert.deepEqual([...new Set(into)], ['wasm memory']);
});

test('stack (Chromium): every call wipes the shadow stack its callees used, and nothing deeper is touched', async () => {
  const { report, problems } = await page.evaluate(() => {
    const { ps, vectors } = window.env;
    const pem = vectors.rsa.public_spki_pem;
    const key = 'YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=';
    const s = ps.Session.fromKey(key);
    const v = s.encrypt('4111111111111111');
    const p = s.encryptPin('1432');
    const body = s.encryptBody('{"a":1}');
    const calls = {
      'Session.fromKey': () => ps.Session.fromKey(key),
      'Session.create v2': () => ps.Session.create(pem),
      'Session.create v1': () => ps.Session.create(pem, { version: 'v1' }),
      decrypt: () => s.decrypt(v),
      decryptPin: () => s.decryptPin(p),
      encryptPin: () => s.encryptPin('1432'),
      encryptBody: () => s.encryptBody('{"a":"Zoë"}'),
      decryptBody: () => s.decryptBody(body),
      exportKey: () => s.exportKey(),
      pinBlock: () => ps.pinBlock('1234', { format: 3, pan: '4111111111111111' }),
      parsePinBlock: () => ps.parsePinBlock('241432FFFFFFFFFF'),
      encryptCard: () => ps.encryptCard({ cardNumber: '4111111111111111', expiryMonth: 12, expiryYear: 2031, cvv: '123' },
        pem, { keyAlias: 'k1' }),
    };
    const report = [];
    const problems = [];
    for (const [name, call] of Object.entries(calls)) {
      let made;
      const r = window.scan.stackResidue(window.env, () => { made = call(); });
      made?.free?.();
      report.push(`${name}: ${r.depth} bytes deep, ${r.wiped} wiped, ${r.frames} above`);
      if (r.problem) problems.push(`${name}: ${r.problem}`);
    }
    s.free();
    return { report, problems };
  });
  console.log(`stack after each call in Chromium:\n${report.join('\n')}`);
  assert.deepEqual(problems, []);
});
