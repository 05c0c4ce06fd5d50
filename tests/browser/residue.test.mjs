// Issue #14 in Chromium (the web build), for both entry points
// (`paysecure-wasm` and `paysecure-wasm/reveal`, two modules generated apart):
// the residue scan of tests/js/residue-scan.mjs in a real page, randomness
// written straight into the module's memory, and no call leaving bytes on the
// shadow stack. What the reveal entry lacks is left out for it by name,
// through residue-scan.mjs's FULL_ONLY_CALLS, each checked to be missing there.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';

let server, browser, page;

/** The entry points as the page loads them: the web build's module, its .wasm, whether it is the full one. */
const ENTRIES = [
  { entry: 'paysecure-wasm', js: '/pkg/paysecure_wasm.js', wasm: '/pkg/paysecure_wasm_bg.wasm', full: true },
  { entry: 'paysecure-wasm/reveal', js: '/pkg/paysecure_wasm_reveal.js', wasm: '/pkg/paysecure_wasm_reveal_bg.wasm', full: false },
];

before(async () => {
  server = await serve();
  browser = await launch();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  await page.evaluate(async (entries) => {
    const scan = await import('/tests/js/residue-scan.mjs');
    const vectors = await (await fetch('/tests/data/paysecure-v1-v2.json')).json();
    window.envs = {};
    for (const { entry, js, wasm: wasmPath, full } of entries) {
      // The module's memory, which the package keeps private: noted as it is instantiated.
      let wasm;
      const streaming = WebAssembly.instantiateStreaming;
      WebAssembly.instantiateStreaming = async (...args) => {
        const r = await streaming(...args);
        wasm = r.instance.exports;
        return r;
      };
      let mod;
      try {
        mod = await import(js);
        await mod.initAsync();
      } finally {
        WebAssembly.instantiateStreaming = streaming;
      }
      if (!wasm) throw new Error(`${entry}: no instance was seen being made`);
      const bytes = new Uint8Array(await (await fetch(wasmPath)).arrayBuffer());
      window.envs[entry] = {
        ps: mod,
        memory: wasm.memory,
        stackTop: scan.stackTopOf(bytes),
        vectors,
        full,
        // For the check that the instance watched is this entry point's own module.
        instanceExports: Object.keys(wasm).sort(),
        moduleExports: WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name).sort(),
      };
    }
    window.scan = scan;
  }, ENTRIES);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('Chromium: each call the reveal runs leave out works in the full entry and is missing from reveal', async () => {
  const { names, outcomes } = await page.evaluate(() => {
    const { FULL_ONLY_CALLS } = window.scan;
    const full = window.envs['paysecure-wasm'], reveal = window.envs['paysecure-wasm/reveal'];
    const pem = full.vectors.rsa.public_spki_pem;
    const outcomes = [];
    for (const [name, call] of Object.entries(FULL_ONLY_CALLS)) {
      const outcome = (ps) => {
        try { call(ps, pem); return 'works'; } catch (e) {
          if (e instanceof TypeError && /is not a function/.test(e.message)) return 'missing';
          return e?.code ?? String(e);
        }
      };
      outcomes.push([name, outcome(full.ps), outcome(reveal.ps)]);
    }
    return { names: Object.keys(FULL_ONLY_CALLS), outcomes };
  });
  assert.deepEqual(names.sort(), ['decryptBody', 'encryptBody', 'encryptCard', 'v1']);
  for (const [name, inFull, inReveal] of outcomes) {
    assert.equal(inFull, 'works', `${name} in paysecure-wasm`);
    assert.ok(inReveal === 'missing' || inReveal === 'V1_NOT_IN_ENTRY', `${name} in paysecure-wasm/reveal: ${inReveal}`);
  }
});

for (const { entry, full } of ENTRIES) {
  test(`${entry} (Chromium): the instance watched is this entry point's own module`, async () => {
    const { instanceExports, moduleExports, encryptCard } = await page.evaluate((entry) => {
      const env = window.envs[entry];
      return { instanceExports: env.instanceExports, moduleExports: env.moduleExports, encryptCard: typeof env.ps.encryptCard };
    }, entry);
    assert.deepEqual(instanceExports, moduleExports);
    assert.equal(moduleExports.includes('encryptCard'), full);
    assert.equal(encryptCard, full ? 'function' : 'undefined');
  });

  test(`${entry} (Chromium): residue scan: no secret is left in linear memory after any public function`, async () => {
    const { findings, table, controls, calls, skipped, all } = await page.evaluate(async (entry) => {
      const r = await window.scan.residueScan(window.envs[entry]);
      return {
        findings: r.findings, table: r.table, controls: r.controls, calls: r.rows.length - 1, skipped: r.skipped,
        all: Object.keys(window.scan.FULL_ONLY_CALLS),
      };
    }, entry);
    console.log(`residue scan, web build of ${entry} in Chromium, ${calls} calls scanned${skipped.length ? ` (left out: ${skipped.join(', ')})` : ''}:\n${table}`);
    assert.ok(controls >= 8, `the live session keys were seen while alive (${controls})`);
    assert.deepEqual(skipped.sort(), full ? [] : all.sort());
    assert.deepEqual(findings, []);
  });

  test(`${entry} (Chromium): random bytes are written straight into wasm memory, never staged in a JavaScript buffer`, async () => {
    const into = await page.evaluate((entry) => {
      const { ps, memory, vectors } = window.envs[entry];
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
    }, entry);
    assert.ok(into.length >= 3, `crypto.getRandomValues was called (${into.length} times)`);
    assert.deepEqual([...new Set(into)], ['wasm memory']);
  });

  test(`${entry} (Chromium): stack: every call wipes the shadow stack its callees used, and nothing deeper is touched`, async () => {
    const { report, problems, skipped, all, expected } = await page.evaluate((entry) => {
      const env = window.envs[entry];
      const { ps, vectors, full } = env;
      const { FULL_ONLY_CALLS } = window.scan;
      const skipped = new Set();
      const has = (name) => {
        if (!Object.hasOwn(FULL_ONLY_CALLS, name)) throw new Error(`${name} is not in FULL_ONLY_CALLS`);
        if (!full) skipped.add(name);
        return full;
      };
      const pem = vectors.rsa.public_spki_pem;
      const key = 'YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=';
      const s = ps.Session.fromKey(key);
      const v = s.encrypt('4111111111111111');
      const p = s.encryptPin('1432');
      const body = has('encryptBody') ? s.encryptBody('{"a":1}') : null;
      // [name, call, the FULL_ONLY_CALLS name it needs]
      const calls = [
        ['Session.fromKey', () => ps.Session.fromKey(key)],
        ['Session.create v2', () => ps.Session.create(pem)],
        ['Session.create v3', () => ps.Session.create(pem, { version: 'v3' })],
        ['Session.create v1', () => ps.Session.create(pem, { version: 'v1' }), 'v1'],
        ['decrypt', () => s.decrypt(v)],
        ['decryptPin', () => s.decryptPin(p)],
        ['encryptPin', () => s.encryptPin('1432')],
        ['encryptBody', () => s.encryptBody('{"a":"Zoë"}'), 'encryptBody'],
        ['decryptBody', () => s.decryptBody(body), 'decryptBody'],
        ['exportKey', () => s.exportKey()],
        ['pinBlock', () => ps.pinBlock('1234', { format: 3, pan: '4111111111111111' })],
        ['parsePinBlock', () => ps.parsePinBlock('241432FFFFFFFFFF')],
        ['encryptCard', () => ps.encryptCard({ cardNumber: '4111111111111111', expiryMonth: 12, expiryYear: 2031, cvv: '123' },
          pem, { keyAlias: 'k1' }), 'encryptCard'],
      ];
      const report = [];
      const problems = [];
      for (const [name, call, needs] of calls) {
        if (needs && !has(needs)) continue;
        let made;
        const r = window.scan.stackResidue(env, () => { made = call(); });
        made?.free?.();
        report.push(`${name}: ${r.depth} bytes deep, ${r.wiped} wiped, ${r.frames} above`);
        if (r.problem) problems.push(`${name}: ${r.problem}`);
      }
      s.free();
      return {
        report, problems, skipped: [...skipped], all: Object.keys(FULL_ONLY_CALLS),
        expected: calls.filter((c) => full || !c[2]).length,
      };
    }, entry);
    console.log(`stack after each call, web build of ${entry} in Chromium:\n${report.join('\n')}`);
    assert.equal(report.length, expected);
    assert.deepEqual(skipped.sort(), full ? [] : all.sort());
    assert.deepEqual(problems, []);
  });
}
