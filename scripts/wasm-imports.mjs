// Short import names for the shipped modules (issue #20).
//
// wasm-bindgen names every import of a module after its Rust item plus a
// 16-hex-digit hash (`__wbg_getOwnPropertyDescriptor_bde8c48ab22edbff`) under
// the module name `./<stem>_bg.js`, about 75 bytes per import, 35–37 imports
// per module: 919 B of the reveal module after gzip -9. The glue pairs the two
// sides by those strings only (one key each in its import object), so both
// are renamed together: module `a`, names `_0`, `_1`, … in import order.
//
// shortenImports(wasm) returns the module with its import section rewritten
// (every other section byte for byte) and the renames; renameGlueImports
// applies them to wasm-bindgen's `--target web` glue, each key exactly once,
// or throws (the glue changed shape: better to stop the build than to ship a
// glue whose imports do not link). scripts/package-npm.mjs uses both;
// scripts/ct-check.mjs applies shortenImports to its rebuild before comparing
// it with the shipped module. renameGlueImports also inlines the crate's own
// JavaScript snippets (src/js/input.js), which wasm-bindgen emits as separate
// files, some imported by the module directly: they join module `a` too.

const MODULE = 'a';

function readU32(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= bytes.length) throw new Error('wasm-imports: truncated LEB128');
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, at];
    if (shift > 35) throw new Error('wasm-imports: LEB128 too long');
  }
}

/** `value` (a non-negative integer) as unsigned LEB128, the module format's integers. */
export function u32(value) {
  const out = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return out;
}

const utf8 = new TextEncoder();
const text = new TextDecoder('utf-8', { fatal: true });

function name(bytes, at) {
  const [len, start] = readU32(bytes, at);
  return [text.decode(bytes.subarray(start, start + len)), start + len];
}

function encodeName(s) {
  const b = utf8.encode(s);
  return [...u32(b.length), ...b];
}

/** Skips an import's description (its kind byte first); returns the end. */
function skipDesc(bytes, at) {
  const kind = bytes[at++];
  const limits = (p) => {
    const flags = bytes[p++];
    [, p] = readU32(bytes, p);
    if (flags & 1) [, p] = readU32(bytes, p);
    return p;
  };
  switch (kind) {
    case 0: return readU32(bytes, at)[1]; // function: type index
    case 1: return limits(at + 1); // table: reference type, limits
    case 2: return limits(at); // memory: limits
    case 3: return at + 2; // global: value type, mutability
    case 4: return readU32(bytes, at + 1)[1]; // tag: attribute, type index
    default: throw new Error(`wasm-imports: unknown import kind ${kind}`);
  }
}

/**
 * `{ wasm, renames }`: `wasm` (a Uint8Array or Buffer) with module `a` and
 * names `_0`, `_1`, … for its imports; `renames` lists
 * `{ module, name, to }` per import, `to` the new name.
 */
export function shortenImports(wasm) {
  const bytes = Uint8Array.from(wasm);
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error('wasm-imports: not a WebAssembly module');
  }
  // Sections are kept as slices and joined once: spreading a code section
  // (100 KB and more) into an array's push would exceed the engine's
  // argument limit.
  const parts = [bytes.subarray(0, 8)];
  const renames = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, body] = readU32(bytes, at + 1);
    const end = body + size;
    if (end > bytes.length) throw new Error('wasm-imports: truncated section');
    if (id !== 2) {
      parts.push(bytes.subarray(at, end));
      at = end;
      continue;
    }
    let [count, p] = readU32(bytes, body);
    const section = [...u32(count)];
    for (let i = 0; i < count; i++) {
      let module, field;
      [module, p] = name(bytes, p);
      [field, p] = name(bytes, p);
      const descEnd = skipDesc(bytes, p);
      const to = `_${i.toString(36)}`;
      renames.push({ module, name: field, to });
      section.push(...encodeName(MODULE), ...encodeName(to), ...bytes.subarray(p, descEnd));
      p = descEnd;
    }
    if (p !== end) throw new Error('wasm-imports: import section has trailing bytes');
    parts.push(Uint8Array.from([2, ...u32(section.length), ...section]));
    at = end;
  }
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  parts.reduce((offset, part) => (out.set(part, offset), offset + part.length), 0);
  return { wasm: out, renames };
}

/** Whether `module` is one of the crate's own JavaScript snippets (`#[wasm_bindgen(module = ...)]`). */
const isSnippet = (module) => module.startsWith('./snippets/');

/**
 * wasm-bindgen's glue with its import object renamed as `renames` says:
 * each import's key (`name: function…`, once) and the module's key
 * (`"./<stem>_bg.js": import0`, once).
 *
 * The crate's JavaScript snippets (`src/js/input.js`) become part of the
 * glue: wasm-bindgen imports them (`import { f } from './snippets/…'` for the
 * functions its import wrappers call, `import * as importN` for those the
 * module imports directly, a module of their own in the import object).
 * `readSnippet(path)` gives a snippet's source; its text replaces those
 * import lines once, without its `export` keywords, and every direct import
 * joins module `a`'s object (`_7: byteSourceLength`). Throws if a key is not
 * there exactly once, if a directly imported function is not a function the
 * snippet defines, or if the module imports from more than one module
 * besides its snippets.
 */
export function renameGlueImports(glue, renames, readSnippet) {
  const modules = [...new Set(renames.map((r) => r.module).filter((m) => !isSnippet(m)))];
  if (modules.length > 1) throw new Error(`wasm-imports: imports from ${modules.length} modules: ${modules.join(', ')}`);
  const once = (s, from, to) => {
    const parts = s.split(from);
    if (parts.length !== 2) throw new Error(`wasm-imports: expected ${JSON.stringify(from)} once in the glue, found ${parts.length - 1}`);
    return parts.join(to);
  };
  for (const r of renames) {
    if (!isSnippet(r.module)) glue = once(glue, `\n        ${r.name}: function(`, `\n        ${r.to}: function(`);
  }
  if (modules.length === 1) glue = once(glue, `${JSON.stringify(modules[0])}: import0`, `${MODULE}: import0`);

  // The snippets: inlined where the glue imported them, once each.
  const importLine = /^import (?:\{[^}\n]*\}|\* as import\d+) from (['"])(\.\/snippets\/[^'"\n]+)\1;?\n/gm;
  const sources = new Map();
  glue = glue.replace(importLine, (_, __, path) => {
    if (sources.has(path)) return '';
    if (!readSnippet) throw new Error(`wasm-imports: the glue imports the snippet ${path}, and no reader was given`);
    const source = readSnippet(path).replace(/^export (?=(?:async )?function |const |let |class )/gm, '');
    if (/^\s*(?:import|export)\b/m.test(source)) throw new Error(`wasm-imports: the snippet ${path} has an import or export left`);
    sources.set(path, source);
    return `${source}\n`;
  });
  const direct = renames.filter((r) => isSnippet(r.module));
  for (const r of direct) {
    const source = sources.get(r.module);
    if (source === undefined) throw new Error(`wasm-imports: the module imports from ${r.module}, which the glue does not import`);
    if (!new RegExp(`^function ${r.name}\\(`, 'm').test(source)) {
      throw new Error(`wasm-imports: ${r.name} is not a function of ${r.module}`);
    }
    glue = once(glue, '\n    const import0 = {\n', `\n    const import0 = {\n        ${r.to}: ${r.name},\n`);
  }
  // The snippets' own keys in the import object: gone (module `a` has them now).
  const keys = /^ *"\.\/snippets\/[^"\n]+": import\d+,\n/gm;
  const keyCount = (glue.match(keys) ?? []).length;
  if ((keyCount > 0) !== (direct.length > 0)) {
    throw new Error(`wasm-imports: ${keyCount} snippet keys in the import object for ${direct.length} direct imports`);
  }
  glue = glue.replace(keys, '');
  if (glue.includes('./snippets/')) throw new Error('wasm-imports: a snippet path is left in the glue');
  return glue;
}
