// scripts/wasm-imports.mjs, which renames the shipped modules' imports (and
// their glue's import object) short: on hand-made modules with every import
// kind, on the shipped modules against wasm-bindgen's own output, and its
// refusals.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { root } from './helpers.mjs';
import { shortenImports, renameGlueImports, u32 as leb } from '../../scripts/wasm-imports.mjs';

const str = (s) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];
const section = (id, body) => [id, ...leb(body.length), ...body];

/** A module importing a function, a memory, a table and a global from
 * `module` (names given), exporting a function that calls the import and
 * reads the global, and a custom section after the imports. */
function handMade(module, names) {
  const imports = [
    ...str(module), ...str(names[0]), 0x00, 0x00, // func, type 0
    ...str(module), ...str(names[1]), 0x02, 0x01, 0x01, 0x02, // memory 1..2 pages
    ...str(module), ...str(names[2]), 0x01, 0x70, 0x00, 0x01, // funcref table, min 1
    ...str(module), ...str(names[3]), 0x03, 0x7f, 0x00, // immutable i32 global
  ];
  const code = [0x10, 0x00, 0x23, 0x00, 0x0b]; // call 0; global.get 0; end
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x01, 0x7f]), // () -> (), () -> i32
    ...section(2, [0x04, ...imports]),
    ...section(3, [0x01, 0x01]),
    ...section(7, [0x01, ...str('run'), 0x00, 0x01]),
    ...section(10, [0x01, ...leb(code.length + 1), 0x00, ...code]),
    ...section(0, [...str('note'), 0x01, 0x02, 0x03]),
  ]);
}

test('every import kind keeps its description and links under the new names', async () => {
  const names = ['__wbg_call_0123456789abcdef', 'memory', 'table', '__wbg_answer_fedcba9876543210'];
  const original = handMade('./x_bg.js', names);
  const { wasm, renames } = shortenImports(original);
  assert.deepEqual(renames, names.map((name, i) => ({ module: './x_bg.js', name, to: `_${i}` })));
  const before = WebAssembly.Module.imports(new WebAssembly.Module(original));
  const after = WebAssembly.Module.imports(new WebAssembly.Module(wasm));
  assert.deepEqual(after.map((i) => [i.module, i.name, i.kind]), before.map((i, n) => ['a', `_${n}`, i.kind]));
  // Every other section byte for byte: the module shrinks by the names only.
  const saved = names.reduce((s, n, i) => s + Buffer.byteLength('./x_bg.js') - 1 + Buffer.byteLength(n) - `_${i}`.length, 0);
  assert.equal(original.length - wasm.length, saved);
  assert.deepEqual(WebAssembly.Module.customSections(new WebAssembly.Module(wasm), 'note').map((b) => [...new Uint8Array(b)]), [[1, 2, 3]]);
  let called = 0;
  const { instance } = await WebAssembly.instantiate(wasm, {
    a: {
      _0: () => { called++; },
      _1: new WebAssembly.Memory({ initial: 1, maximum: 2 }),
      _2: new WebAssembly.Table({ initial: 1, element: 'anyfunc' }),
      _3: new WebAssembly.Global({ value: 'i32', mutable: false }, 42),
    },
  });
  assert.equal(instance.exports.run(), 42);
  assert.equal(called, 1);
});

test('more than 36 imports get two-character names, all distinct', () => {
  const many = Array.from({ length: 40 }, (_, i) => [...str('./m_bg.js'), ...str(`f${i}`), 0x00, 0x00]).flat();
  const wasm = Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x00, 0x00]),
    ...section(2, [40, ...many]),
  ]);
  const out = shortenImports(wasm);
  const names = WebAssembly.Module.imports(new WebAssembly.Module(out.wasm)).map((i) => i.name);
  assert.equal(new Set(names).size, 40);
  assert.equal(names[36], '_10');
});

test('a module whose sections are larger than the engine\'s argument limit', () => {
  const big = new Uint8Array(1 << 20).fill(7); // a 1 MiB custom section
  const original = Uint8Array.from([
    ...handMade('./x_bg.js', ['f', 'm', 't', 'g']),
    0x00, ...leb(big.length + 2), 0x01, 0x62, // custom section "b"
  ]);
  const joined = new Uint8Array(original.length + big.length);
  joined.set(original);
  joined.set(big, original.length);
  const { wasm } = shortenImports(joined);
  assert.deepEqual([...new Uint8Array(WebAssembly.Module.customSections(new WebAssembly.Module(wasm), 'b')[0]).subarray(0, 4)], [7, 7, 7, 7]);
  // Four imports: module './x_bg.js' (9 B) becomes 'a', names of 1 B become '_0'…'_3'.
  assert.equal(joined.length - wasm.length, 4 * (9 - 1) - 4 * (2 - 1));
});

test('refusals: not wasm, truncated, unknown import kind; a glue key missing or repeated', () => {
  assert.throws(() => shortenImports(Buffer.from('not wasm at all')), /not a WebAssembly module/);
  const ok = handMade('./x_bg.js', ['f', 'm', 't', 'g']);
  assert.throws(() => shortenImports(ok.subarray(0, 30)), /truncated/);
  const bad = Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(2, [0x01, ...str('m'), ...str('f'), 0x09, 0x00]),
  ]);
  assert.throws(() => shortenImports(bad), /unknown import kind 9/);
  const renames = [{ module: './x_bg.js', name: '__wbg_f_1', to: '_0' }];
  const glue = 'const import0 = {\n        __wbg_f_1: function() {},\n    };\n    return { "./x_bg.js": import0 };';
  assert.equal(renameGlueImports(glue, renames), 'const import0 = {\n        _0: function() {},\n    };\n    return { a: import0 };');
  assert.throws(() => renameGlueImports(glue.replace('__wbg_f_1', '__wbg_g_1'), renames), /once in the glue, found 0/);
  assert.throws(() => renameGlueImports(glue + glue, renames), /once in the glue, found 2/);
  assert.throws(() => renameGlueImports(glue, [...renames, { module: './y_bg.js', name: 'g', to: '_1' }]), /2 modules/);
});

test('the shipped modules are wasm-bindgen\'s output with only the imports renamed', () => {
  for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
    const generated = readFileSync(path.join(root, 'target', 'wasm-bindgen-web', `${stem}_bg.wasm`));
    const shipped = readFileSync(path.join(root, 'pkg', 'paysecure-wasm', `${stem}_bg.wasm`));
    assert.ok(Buffer.from(shortenImports(generated).wasm).equals(shipped), stem);
    const g = new WebAssembly.Module(generated), s = new WebAssembly.Module(shipped);
    assert.deepEqual(WebAssembly.Module.exports(s), WebAssembly.Module.exports(g));
    assert.deepEqual(WebAssembly.Module.imports(s).map((i) => i.kind), WebAssembly.Module.imports(g).map((i) => i.kind));
    assert.ok(WebAssembly.Module.imports(s).every((i) => i.module === 'a' && /^_[0-9a-z]+$/.test(i.name)));
    const glue = readFileSync(path.join(root, 'pkg', 'paysecure-wasm', `${stem}_core.js`), 'utf8');
    assert.doesNotMatch(glue, /__wbg_[A-Za-z_]+_[0-9a-f]{16}|_bg\.js/, 'no long import name left in the glue');
  }
});

test('the crate\'s JavaScript snippets are inlined into the glue and their direct imports join module a', () => {
  const snippet = './snippets/x-0123/src/js/input.js';
  const source = 'const __ps_k = 1;\nexport function direct(v) {\n  return v;\n}\nexport function wrapped(v, d) {\n  return __ps_k;\n}\n';
  const glue = `import { wrapped } from '${snippet}';\nimport * as import1 from "${snippet}"\n\n`
    + 'function __wbg_get_imports() {\n    const import0 = {\n        __proto__: null,\n'
    + '        __wbg_wrapped_1: function(arg0, arg1, arg2) {\n            return wrapped(arg0, arg1);\n        },\n    };\n'
    + `    return {\n        __proto__: null,\n        "./x_bg.js": import0,\n        "${snippet}": import1,\n    };\n}\n`;
  const renames = [{ module: './x_bg.js', name: '__wbg_wrapped_1', to: '_0' }, { module: snippet, name: 'direct', to: '_1' }];
  const out = renameGlueImports(glue, renames, (p) => (p === snippet ? source : assert.fail(p)));
  assert.equal(out, 'const __ps_k = 1;\nfunction direct(v) {\n  return v;\n}\nfunction wrapped(v, d) {\n  return __ps_k;\n}\n\n\n'
    + 'function __wbg_get_imports() {\n    const import0 = {\n        _1: direct,\n        __proto__: null,\n'
    + '        _0: function(arg0, arg1, arg2) {\n            return wrapped(arg0, arg1);\n        },\n    };\n'
    + '    return {\n        __proto__: null,\n        a: import0,\n    };\n}\n');
  // The result links: module `a` has both functions.
  const imports = new Function(`${out}\nreturn __wbg_get_imports();`)();
  assert.deepEqual(Object.keys(imports), ['a']);
  assert.equal(imports.a._1('x'), 'x');
  assert.equal(imports.a._0(7), 1);
  // Refusals: no reader, a direct import the snippet lacks, an import left in the snippet,
  // a direct import from a snippet the glue does not import.
  assert.throws(() => renameGlueImports(glue, renames), /no reader was given/);
  assert.throws(() => renameGlueImports(glue, [renames[0], { ...renames[1], name: 'absent' }], () => source), /absent is not a function/);
  assert.throws(() => renameGlueImports(glue, renames, () => `import x from 'y';\n${source}`), /import or export left/);
  const other = './snippets/y-4567/z.js';
  assert.throws(() => renameGlueImports(glue, [...renames, { module: other, name: 'direct', to: '_2' }], () => source), /which the glue does not import/);
});

test('the shipped glue holds src/js/input.js, and its functions never throw', async () => {
  for (const stem of ['paysecure_wasm', 'paysecure_wasm_reveal']) {
    const glue = readFileSync(path.join(root, 'pkg', 'paysecure-wasm', `${stem}_core.js`), 'utf8');
    assert.doesNotMatch(glue, /snippets\//);
    assert.match(glue, /function copyByteSource\(/);
    assert.match(glue, /function paySecureError\(/);
  }
  const input = await import(`data:text/javascript,${encodeURIComponent(readFileSync(path.join(root, 'src', 'js', 'input.js'), 'utf8'))}`);
  const hostile = [undefined, null, 1, 'x', Symbol('s'), 10n, {}, [], () => 1, Object.create(Uint8Array.prototype),
    Object.create(Date.prototype), new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } }),
    (() => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; })(), new DataView(new ArrayBuffer(2)),
    new Uint16Array(2), new SharedArrayBuffer(2), new Uint8ClampedArray(2)];
  for (const v of hostile) {
    assert.equal(input.byteSourceLength(v), -1);
    assert.equal(input.copyByteSource(v, new Uint8Array(2)), false);
    assert.equal(input.dateMillis(v), undefined);
    assert.equal(typeof input.isArray(v), 'boolean');
  }
  const ab = new ArrayBuffer(4);
  const detached = new Uint8Array(new ArrayBuffer(3));
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  assert.equal(input.byteSourceLength(detached), 0);
  assert.equal(input.copyByteSource(detached, new Uint8Array(3)), false);
  assert.equal(input.byteSourceLength(ab), 4);
  assert.equal(input.byteSourceLength(new Uint8Array([1, 2, 3]).subarray(1)), 2);
  const dest = new Uint8Array(2);
  assert.equal(input.copyByteSource(new Uint8Array([1, 2, 3]).subarray(1), dest), true);
  assert.deepEqual([...dest], [2, 3]);
  assert.equal(input.copyByteSource(new Uint8Array(3), dest), false, 'a length other than the destination\'s');
  assert.equal(input.dateMillis(new Date(5)), 5);
  assert.ok(Number.isNaN(input.dateMillis(new Date(NaN))));
  assert.equal(input.isArray([]), true);
  assert.equal(input.isArray((() => { const r = Proxy.revocable([], {}); r.revoke(); return r.proxy; })()), false);
});
