// One command for the client side of issue #8: runs the browser benchmark
// (bench/client/run-browser.mjs), the Node benchmark (bench/client/run-node.mjs)
// and the size report (bench/sizes.mjs), then writes docs/performance.md, the
// SVG charts under docs/perf/ and the raw results docs/perf/results.json.
//   node bench/report.mjs [--quick] [--out DIR] [--render FILE]     (npm run bench / npm run bench:quick)
// --quick: a few rounds, for a CI smoke run (executes everything, asserts no timings).
// --out DIR: write DIR/performance.md and DIR/perf/ instead of docs/.
// --render FILE: only re-write the report from a saved perf/results.json.
// Exits non-zero only if a benchmark fails to run; missed targets are reported, not fatal.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMPLS, OPS, OP_LABELS } from './client/core.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let quick = args.includes('--quick');
const outIdx = args.indexOf('--out');
const outDir = path.resolve(root, outIdx >= 0 ? args[outIdx + 1] : 'docs');
const perfDir = path.join(outDir, 'perf');
const log = (msg) => process.stderr.write(`[report] ${msg}\n`);

// ---------------------------------------------------------------- targets (issue #8)

const KB = 1024;
const OP_TARGETS = {
  wrap: { vs: 'vsForge', min: 5, text: '≥ 5× node-forge' },
  fullFlow: { vs: 'vsForge', min: 5, text: '≥ 5× node-forge' },
  pinEncrypt: { vs: 'vsWebcrypto', min: 1, text: '≥ 1.0× WebCrypto' },
  decrypt: { vs: 'vsWebcrypto', min: 1, text: '≥ 1.0× WebCrypto' },
};
const SIZE_TARGETS = {
  'pkg/web/paysecure_wasm_bg.wasm': { max: 40 * KB, text: '≤ 40 KB gzip' },
  'pkg/web/paysecure_wasm.js': { max: 6 * KB, text: '≤ 6 KB gzip' },
};
const INSTANTIATE_TARGET_MS = 5;
// The issue's baseline (headless Chromium 156 on this machine kind, median ops/s).
const ISSUE_BASELINE = {
  'node-forge': { wrap: 1958, pinEncrypt: 7980, decrypt: 19573, fullFlow: 1540 },
  webcrypto: { wrap: 35417, pinEncrypt: 71550, decrypt: 83969, fullFlow: 16947 },
  docsBundle: { raw: 319453, gzip9: 86282, files: 'forge.min.js + sjcl.js' },
};

// ---------------------------------------------------------------- running

function run(script, extra = []) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(root, script), ...extra], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('close', (code) => {
      const seconds = (Date.now() - t0) / 1000;
      if (code !== 0) {
        log(`${script} failed (exit ${code}) after ${seconds.toFixed(1)} s`);
        resolve({ ok: false, seconds, error: `exit ${code}` });
        return;
      }
      try {
        resolve({ ok: true, seconds, data: JSON.parse(out) });
      } catch (e) {
        resolve({ ok: false, seconds, error: `bad JSON: ${e.message}` });
      }
    });
  });
}

const sh = (cmd, cmdArgs) => {
  try {
    return execFileSync(cmd, cmdArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unavailable';
  }
};

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const dirty = sh('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock', 'pkg']) !== '';
  return {
    nproc: sh('nproc', []),
    uname: sh('uname', ['-a']),
    cpu: model,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    chromium: sh(process.env.CHROMIUM_BIN || '/usr/bin/chromium', ['--version']),
    node: process.version,
    wasmSha256: Object.fromEntries(['web', 'nodejs'].map((t) => {
      const f = path.join(root, 'pkg', t, 'paysecure_wasm_bg.wasm');
      return [t, existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 16) : 'missing'];
    })),
    commit: `${sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD'])}${dirty ? ' (with uncommitted changes in src/, Cargo.* or pkg/)' : ''}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

// ---------------------------------------------------------------- formatting

const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a');
const fmtMs = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const fmtBytes = (b) => `${b.toLocaleString('en-US')} B (${(b / KB).toFixed(1)} KB)`;
const verdict = (ok) => (ok ? '**PASS**' : '**FAIL**');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// ---------------------------------------------------------------- SVG charts (hand-written)

const COLORS = {
  'paysecure-wasm': '#1f5fa8',
  'node-forge': '#e07b1a',
  webcrypto: '#2e8b3e',
  Chromium: '#1f5fa8',
  Node: '#8a8a8a',
  raw: '#b7c7dd',
  'gzip -9': '#1f5fa8',
};

function niceStep(span, ticks) {
  const raw = span / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/**
 * A vertical grouped bar chart.
 * groups: [{ label, bars: [{ series, value, text }], target?: { value, label } }]
 * scale: 'linear' (from 0) or 'log'.
 */
function barChart({ title, subtitle, yLabel, groups, series, scale = 'linear', fmtTick = fmtInt }) {
  const W = Math.max(720, 104 + groups.length * 150);
  const H = 400;
  const m = { l: 84, r: 20, t: 74, b: 64 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const values = groups.flatMap((g) => [...g.bars.map((b) => b.value), ...(g.target ? [g.target.value] : [])]).filter((v) => Number.isFinite(v) && v > 0);
  const vmax = values.length ? Math.max(...values) : 1;
  const vmin = values.length ? Math.min(...values) : 1;
  let y;
  let ticks;
  if (scale === 'log') {
    const lo = 10 ** Math.floor(Math.log10(vmin));
    const want = vmax * 1.3;
    const dec = 10 ** Math.floor(Math.log10(want));
    const hi = [1, 2, 5, 10].map((k) => k * dec).find((v) => v >= want);
    y = (v) => m.t + ph - (ph * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
    ticks = [];
    for (let d = lo; d <= hi * 1.0001; d *= 10) for (const k of [1, 2, 5]) if (d * k <= hi * 1.0001) ticks.push(d * k);
  } else {
    const step = niceStep(vmax * 1.15, 5);
    const hi = Math.ceil((vmax * 1.15) / step) * step;
    y = (v) => m.t + ph - (ph * v) / hi;
    ticks = [];
    for (let t = 0; t <= hi + step / 2; t += step) ticks.push(t);
  }
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${m.l}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="${m.l}" y="40" fill="#555555">${esc(subtitle)}</text>`);
  // Legend.
  let lx = m.l;
  for (const s of series) {
    out.push(`<rect x="${lx}" y="50" width="11" height="11" fill="${COLORS[s] ?? '#777777'}"/>`);
    out.push(`<text x="${lx + 15}" y="60">${esc(s)}</text>`);
    lx += 26 + s.length * 7;
  }
  if (groups.some((g) => g.target)) {
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="55.5" y2="55.5" stroke="#c0392b" stroke-width="2" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${lx + 27}" y="60">#8 target</text>`);
  }
  // Grid and axis.
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${ty}" y2="${ty}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${m.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" fill="#444444">${esc(fmtTick(t))}</text>`);
  }
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333333"/>`);
  out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333333"/>`);
  out.push(`<text transform="translate(18 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333333">${esc(yLabel)}</text>`);
  // Bars.
  const gw = pw / groups.length;
  groups.forEach((g, gi) => {
    const gx = m.l + gi * gw;
    const bw = Math.min(56, (gw * 0.78) / Math.max(1, g.bars.length));
    const x0 = gx + (gw - bw * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const x = x0 + bi * bw;
      if (!Number.isFinite(b.value) || b.value <= 0) {
        out.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${m.t + ph - 4}" text-anchor="middle" fill="#999999">n/a</text>`);
        return;
      }
      const top = y(b.value);
      out.push(`<rect x="${(x + 2).toFixed(1)}" y="${top.toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${(m.t + ph - top).toFixed(1)}" fill="${COLORS[b.series] ?? '#777777'}"><title>${esc(`${g.label} — ${b.series}: ${b.text}`)}</title></rect>`);
      out.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle" font-size="10.5" fill="#222222" stroke="#ffffff" stroke-width="3" paint-order="stroke">${esc(b.text)}</text>`);
    });
    if (g.target && Number.isFinite(g.target.value)) {
      const ty = y(g.target.value).toFixed(1);
      out.push(`<line x1="${(gx + 4).toFixed(1)}" x2="${(gx + gw - 4).toFixed(1)}" y1="${ty}" y2="${ty}" stroke="#c0392b" stroke-width="2" stroke-dasharray="6 4"><title>${esc(g.target.label)}</title></line>`);
    }
    out.push(`<text x="${(gx + gw / 2).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle" fill="#222222">${esc(g.label)}</text>`);
    const sub = [g.sublabel, g.target?.label].filter(Boolean).join('; ');
    if (sub) out.push(`<text x="${(gx + gw / 2).toFixed(1)}" y="${m.t + ph + 34}" text-anchor="middle" font-size="10.5" fill="#666666">${esc(sub)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- report

function opRows(result) {
  return OPS.map((op) => {
    const r = result.ops[op];
    const t = OP_TARGETS[op];
    const ratio = r.ratios[t.vs];
    return { op, r, t, ratio, pass: ratio >= t.min };
  });
}

function opsTable(result, { informational = false } = {}) {
  const lines = [
    '| operation | paysecure-wasm ops/s | node-forge ops/s | WebCrypto ops/s | ours / forge | ours / WebCrypto | #8 target | result |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const { op, r, t, pass } of opRows(result)) {
    lines.push(`| ${OP_LABELS[op]} | ${IMPLS.map((n) => fmtInt(r.opsPerSec[n])).join(' | ')} | ${fmtRatio(r.ratios.vsForge)} | ${fmtRatio(r.ratios.vsWebcrypto)} | ours/${t.vs === 'vsForge' ? 'forge' : 'WebCrypto'} ${t.text.replace(/ node-forge| WebCrypto/, '')} | ${informational ? (pass ? 'pass (info)' : 'fail (info)') : verdict(pass)} |`);
  }
  return lines.join('\n');
}

function spreadTable(result) {
  const lines = [
    '| operation | implementation | batch (ops) | min ops/s | median ops/s | max ops/s |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const op of OPS) {
    for (const n of IMPLS) {
      const s = result.ops[op].samples[n];
      lines.push(`| ${op} | ${n} | ${fmtInt(result.ops[op].batch[n])} | ${fmtInt(Math.min(...s))} | ${fmtInt(result.ops[op].opsPerSec[n])} | ${fmtInt(Math.max(...s))} |`);
    }
  }
  return lines.join('\n');
}

function serverSection() {
  const readme = path.join(root, 'bench', 'README.md');
  const head = '## Server\n\n> **Server load benchmark: not produced by this report.** It is `bash scripts/bench.sh [requests] [concurrency]`\n> (a release build of `paysecure-server` and the load generator `bench/get_pan.rs`); its results are kept in\n> [`bench/README.md`](../bench/README.md). The #8 server targets (Get PAN ≥ 85% of the `openssl speed`\n> RSA-2048 private-op rate on the same cores, p99 ≤ 25 ms at 80% of peak, RSS ≤ 64 MB) are not evaluated here.\n';
  if (!existsSync(readme)) return `${head}\nNot yet run (no bench/README.md).\n`;
  const lines = readFileSync(readme, 'utf8').split('\n');
  const start = lines.findIndex((l) => /^Results on/.test(l));
  if (start < 0) return `${head}\nNot yet run (bench/README.md has no results).\n`;
  const picked = [];
  let inTable = false;
  for (let i = start; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith('|')) inTable = true;
    else if (inTable) break;
    picked.push(l);
  }
  return `${head}\nLatest results, copied from \`bench/README.md\` (not re-measured by this run):\n\n${picked.join('\n').trim()}\n`;
}

function writeCharts(browser, node, sizes) {
  mkdirSync(perfDir, { recursive: true });
  const charts = [];
  const envs = [['Chromium', browser], ['Node', node]].filter(([, r]) => r);
  for (const op of OPS) {
    const file = `ops-${op}.svg`;
    const vals = envs.flatMap(([, r]) => IMPLS.map((n) => r.ops[op].opsPerSec[n])).filter((v) => v > 0);
    const scale = Math.max(...vals) / Math.min(...vals) >= 10 ? 'log' : 'linear';
    writeFileSync(path.join(perfDir, file), barChart({
      title: `${OP_LABELS[op]}: median ops/s`,
      subtitle: `higher is better; ${scale} scale; ${quick ? 'QUICK smoke run, not reliable' : 'one run'}; ${machineFacts.date}`,
      yLabel: `operations per second (${scale} scale)`,
      scale,
      series: IMPLS,
      groups: envs.map(([label, r]) => ({
        label: label === 'Chromium' ? 'headless Chromium' : `Node ${machineFacts.node}`,
        sublabel: `ours/forge ${fmtRatio(r.ops[op].ratios.vsForge)}, ours/WebCrypto ${fmtRatio(r.ops[op].ratios.vsWebcrypto)}`,
        bars: IMPLS.map((n) => ({ series: n, value: r.ops[op].opsPerSec[n], text: fmtInt(r.ops[op].opsPerSec[n]) })),
      })),
    }));
    charts.push({ file, alt: `${op} ops/s` });
  }
  writeFileSync(path.join(perfDir, 'ratios.svg'), barChart({
    title: 'paysecure-wasm speed ratios against the #8 targets',
    subtitle: 'ours / node-forge (wrap, full flow) and ours / WebCrypto (PIN encrypt, decrypt); higher is better',
    yLabel: 'ratio (log scale)',
    scale: 'log',
    fmtTick: (t) => `${t}×`,
    series: envs.map(([l]) => l),
    groups: OPS.map((op) => {
      const t = OP_TARGETS[op];
      return {
        label: `${op}`,
        sublabel: t.vs === 'vsForge' ? 'vs node-forge' : 'vs WebCrypto',
        target: { value: t.min, label: `target ≥ ${t.min}×` },
        bars: envs.map(([l, r]) => ({ series: l, value: r.ops[op].ratios[t.vs], text: fmtRatio(r.ops[op].ratios[t.vs]) })),
      };
    }),
  }));
  charts.push({ file: 'ratios.svg', alt: 'ratios against targets' });
  if (sizes) {
    writeFileSync(path.join(perfDir, 'sizes.svg'), barChart({
      title: 'Download size: raw and gzip -9',
      subtitle: 'lower is better; linear scale; #8 targets: .wasm ≤ 40 KB gzip, JS glue ≤ 6 KB gzip',
      yLabel: 'KB (1 KB = 1024 B, linear scale)',
      series: ['raw', 'gzip -9'],
      groups: sizes.files.map((f) => ({
        label: path.basename(f.file),
        sublabel: f.group,
        target: SIZE_TARGETS[f.file] ? { value: SIZE_TARGETS[f.file].max / KB, label: '' } : undefined,
        bars: [
          { series: 'raw', value: f.raw / KB, text: `${(f.raw / KB).toFixed(1)} KB` },
          { series: 'gzip -9', value: f.gzip9 / KB, text: `${(f.gzip9 / KB).toFixed(1)} KB` },
        ],
      })),
    }));
    charts.push({ file: 'sizes.svg', alt: 'sizes' });
  }
  const inst = [];
  if (browser) {
    inst.push({ label: 'compile + instantiate', sublabel: 'Chromium, from bytes', series: 'Chromium', v: browser.instantiate.fromBytesMs.median });
    inst.push({ label: 'instantiateStreaming', sublabel: 'Chromium, with fetch', series: 'Chromium', v: browser.instantiate.streamingMs.median });
    inst.push({ label: 'glue init()', sublabel: 'Chromium, with fetch', series: 'Chromium', v: browser.instantiate.glueInitMs.median });
    inst.push({ label: 'fetch of 0.5 KB', sublabel: 'Chromium, fixed cost', series: 'Chromium', v: browser.instantiate.fetchTinyMs.median });
  }
  if (node) inst.push({ label: 'read + compile + inst.', sublabel: 'Node, sync', series: 'Node', v: node.instantiate.syncCompileInstantiateMs.median });
  writeFileSync(path.join(perfDir, 'instantiate.svg'), barChart({
    title: '.wasm compile + instantiate, with and without fetch (median ms)',
    subtitle: `lower is better; linear scale; unique module bytes each time (no V8 module cache); #8 target ≤ ${INSTANTIATE_TARGET_MS} ms`,
    yLabel: 'milliseconds (linear)',
    fmtTick: (t) => `${Number(t.toFixed(2))}`,
    series: [...new Set(inst.map((i) => i.series))],
    groups: inst.map((i) => ({
      label: i.label,
      sublabel: i.sublabel,
      target: { value: INSTANTIATE_TARGET_MS, label: '' },
      bars: [{ series: i.series, value: i.v, text: `${fmtMs(i.v)} ms` }],
    })),
  }));
  charts.push({ file: 'instantiate.svg', alt: 'instantiate time' });
  return charts;
}

let machineFacts;

async function main() {
  const t0 = Date.now();
  let sizesRun;
  let browserRun;
  let nodeRun;
  let totalSeconds;
  const renderIdx = args.indexOf('--render');
  if (renderIdx >= 0) {
    // Re-render the report from a saved results.json, without running anything.
    const saved = JSON.parse(readFileSync(path.resolve(args[renderIdx + 1]), 'utf8'));
    machineFacts = saved.machine;
    quick = saved.quick;
    const wrap = (data, seconds) => (data ? { ok: true, data, seconds } : { ok: false, seconds, error: 'not in the saved results' });
    sizesRun = wrap(saved.sizes, saved.durations.sizes);
    browserRun = wrap(saved.browser, saved.durations.browser);
    nodeRun = wrap(saved.node, saved.durations.node);
    totalSeconds = saved.durations.total;
  } else {
    machineFacts = machine();
    const extra = quick ? ['--quick'] : [];
    log(`${quick ? 'quick' : 'full'} run; writing ${path.relative(root, outDir) || '.'}/performance.md`);
    sizesRun = await run('bench/sizes.mjs');
    log('browser benchmark (headless Chromium)');
    browserRun = await run('bench/client/run-browser.mjs', extra);
    log('Node benchmark');
    nodeRun = await run('bench/client/run-node.mjs', extra);
    totalSeconds = (Date.now() - t0) / 1000;
  }

  const browser = browserRun.ok ? browserRun.data : null;
  const node = nodeRun.ok ? nodeRun.data : null;
  const sizes = sizesRun.ok ? sizesRun.data : null;
  const charts = writeCharts(browser, node, sizes);
  writeFileSync(path.join(perfDir, 'results.json'), `${JSON.stringify({ machine: machineFacts, quick, durations: { sizes: sizesRun.seconds, browser: browserRun.seconds, node: nodeRun.seconds, total: totalSeconds }, browser, node, sizes }, null, 2)}\n`);

  // Targets summary (the issue's numbers are headless Chromium's).
  const summary = [];
  if (browser) {
    for (const { op, t, ratio, pass } of opRows(browser)) {
      summary.push({ target: `${OP_LABELS[op].split(' (')[0]}: ours ${t.text}`, measured: fmtRatio(ratio), pass });
    }
  } else {
    for (const op of OPS) summary.push({ target: `${op}: ${OP_TARGETS[op].text}`, measured: `browser run failed (${browserRun.error})`, pass: false });
  }
  if (sizes) {
    for (const [file, t] of Object.entries(SIZE_TARGETS)) {
      const f = sizes.files.find((x) => x.file === file);
      summary.push({ target: `${path.basename(file)} ${t.text}`, measured: f ? fmtBytes(f.gzip9) : 'missing', pass: !!f && f.gzip9 <= t.max });
    }
  }
  if (browser) {
    const ms = browser.instantiate.fromBytesMs.median;
    summary.push({ target: `.wasm compile + instantiate ≤ ${INSTANTIATE_TARGET_MS} ms (Chromium; with the loopback fetch, instantiateStreaming: ${fmtMs(browser.instantiate.streamingMs.median)} ms)`, measured: `${fmtMs(ms)} ms`, pass: ms <= INSTANTIATE_TARGET_MS });
  }
  const met = summary.filter((s) => s.pass).length;

  const md = [];
  md.push('# Performance (issue #8)');
  md.push('');
  md.push(`> Generated by \`node bench/report.mjs${quick ? ' --quick' : ''}\` (\`npm run ${quick ? 'bench:quick' : 'bench'}\`) on ${machineFacts.date}; do not edit by hand, re-run it.`);
  if (quick) md.push('> **QUICK smoke run**: a few short rounds; the numbers show that the benchmark executes, they are not reliable. Run `npm run bench` for the real figures.');
  md.push('');
  md.push('## Targets');
  md.push('');
  md.push(`Client-side targets of #8, all from this one run (ratios within the run; the speed and instantiate targets are measured in headless Chromium): **${met} of ${summary.length} met**. Server targets: see [Server](#server).`);
  md.push('');
  md.push('| target | measured | result |');
  md.push('| --- | ---: | --- |');
  for (const s of summary) md.push(`| ${s.target} | ${s.measured} | ${verdict(s.pass)} |`);
  md.push('');
  md.push('![ratios against the targets](perf/ratios.svg)');
  md.push('');

  md.push('## Method');
  md.push('');
  md.push('Machine:');
  md.push('');
  md.push('| | |');
  md.push('| --- | --- |');
  md.push(`| \`nproc\` | ${machineFacts.nproc} |`);
  md.push(`| CPU | ${esc(machineFacts.cpu)} |`);
  md.push(`| memory | ${machineFacts.memory} |`);
  md.push(`| \`uname -a\` | \`${machineFacts.uname}\` |`);
  md.push(`| \`chromium --version\` | ${esc(machineFacts.chromium)}${browser ? ` (Playwright reports ${browser.env.browserVersion})` : ''} |`);
  md.push(`| \`node --version\` | ${machineFacts.node}${node ? ` (V8 ${node.env.v8}, OpenSSL ${node.env.openssl})` : ''} |`);
  md.push(`| node-forge | ${browser?.env.forgeVersion ?? node?.env.forgeVersion ?? 'n/a'} (\`node_modules/node-forge/dist/forge.min.js\` in the page, \`require('node-forge')\` in Node) |`);
  md.push(`| sjcl | ${browser?.env.sjclVersion ?? node?.env.sjclVersion ?? 'not installed'} (\`node_modules/sjcl/sjcl.js\`; seed 000 makes its session keys with it) |`);
  md.push(`| paysecure-wasm | \`pkg/web\` in the page, \`pkg/nodejs\` in Node, built from commit ${machineFacts.commit}; .wasm SHA-256 ${machineFacts.wasmSha256 ? `\`${machineFacts.wasmSha256.web}…\` (web), \`${machineFacts.wasmSha256.nodejs}…\` (nodejs)` : 'n/a'} |`);
  md.push('');
  md.push('Every operation, for each implementation, on the RSA-2048 public key of `tests/data/paysecure-v1-v2.json` (`rsa.public_spki_pem`):');
  md.push('');
  const forgeKey = (browser ?? node)?.env.forgeKeySource?.startsWith('sjcl')
    ? '4 × `sjcl.codec.hex.fromBits(sjcl.random.randomWords(2, 0))` (as seed 000)'
    : '`forge.random.getBytesSync(32)` (sjcl not installed)';
  md.push('| operation | paysecure-wasm | node-forge (as seed 000 uses it) | WebCrypto (`crypto.subtle`, each op awaited) |');
  md.push('| --- | --- | --- | --- |');
  md.push(`| wrap | \`Session.create(pem)\` + \`sessionId\` (+ \`free()\`). The API has no parsed-key handle, so **this includes parsing the PEM**. | session key: ${forgeKey}; \`forge.util.hexToBytes\`, \`encode64\`, \`publicKey.encrypt(text, 'RSA-OAEP', { md: sha1, mgf1: { md: sha1 } })\` with a key parsed once, \`encode64\` | \`getRandomValues\` 32 bytes, base64, \`encrypt({ name: 'RSA-OAEP' })\` with a key imported once (\`spki\`, SHA-1), base64 |`);
  md.push('| pinEncrypt | `session.encryptPin(\'1432\')` on an existing session | format-2 block built in JS, 16-byte IV from `forge.random`, `createCipher(\'AES-GCM\')`, `encode64(ct + tag)`, `encode64(iv)` | format-2 block, `getRandomValues` 16-byte IV, `encrypt({ name: \'AES-GCM\', iv })` with an imported key, base64 |');
  md.push('| decrypt | `session.decrypt({ data, iv })` of a 16-digit PAN | `decode64`, `createDecipher(\'AES-GCM\')` with the tag, `finish()` checked (unlike the seed), `decodeUtf8` | base64 decode, `decrypt({ name: \'AES-GCM\', iv })`, `TextDecoder` |');
  md.push('| fullFlow | `Session.create(pem)` + `encryptPin` | `publicKeyFromPem` + wrap + PIN encrypt under the new key | `importKey(\'spki\')` of the PEM\'s DER + wrap + `importKey(\'raw\')` + PIN encrypt |');
  md.push('');
  md.push('All three share one session key (made by `Session.create`, exported once), so they encrypt under the same key and decrypt the same value. Before timing, every output is checked: the session ids are unwrapped with the test private key (WebCrypto) to the base64 text of a 32-byte key, the PIN blocks decrypt to the PIN (under the wrapped key for the full flow), decrypt returns the PAN.');
  md.push('');
  const p = browser?.preset ?? node?.preset;
  if (p) {
    md.push(`Timing (${p.name} preset): per operation, each implementation is warmed up for ${p.warmupMs} ms, which also sizes its batch to about ${p.sampleMs} ms; then ${p.rounds} rounds, each timing one batch of every implementation, round-robin with the starting implementation rotated each round (A,B,C, B,C,A, C,A,B, …). Reported: the median over the rounds of ops/s = batch / elapsed (\`performance.now()\`). WebCrypto batches \`await\` every operation; the synchronous libraries are called in a plain loop. The page runs in one tab, same run, nothing else loaded; Node runs the same code (\`bench/client/core.mjs\`) right after.`);
    md.push('');
    md.push(`Instantiation: ${p.instantiations} times, each from a unique copy of the \`.wasm\` (an extra custom section holding a nonce; same code) so that V8's per-process cache of compiled modules cannot serve it. In Chromium: \`WebAssembly.instantiateStreaming(fetch(url), stubImports)\` (fetch from the loopback server included), \`fetch\` alone and \`WebAssembly.instantiate(bytes, stubImports)\` alone (compile + instantiate: the #8 target), and a fresh instance of the glue module's \`init({ module_or_path: url })\` (real imports and \`__wbindgen_start\`). In Node: \`readFileSync\` + \`new WebAssembly.Module\` + \`new WebAssembly.Instance\`, as the \`pkg/nodejs\` glue does.`);
    md.push('');
  }
  md.push(`Sizes: \`gzip -9\` is \`zlib.gzipSync(bytes, { level: 9 })\`; 1 KB = 1024 B. sjcl (seed 000's other library) is ${sizes?.missing?.length ? 'not installed in `node_modules`, so only forge.min.js is measured; the issue\'s baseline for forge.min.js + sjcl.js is ' + fmtBytes(ISSUE_BASELINE.docsBundle.raw) + ' raw, ' + fmtBytes(ISSUE_BASELINE.docsBundle.gzip9) + ' gzip' : 'included'}.`);
  md.push('');
  md.push(`Run time: sizes ${sizesRun.seconds.toFixed(1)} s, browser ${browserRun.seconds.toFixed(1)} s, Node ${nodeRun.seconds.toFixed(1)} s, ${totalSeconds.toFixed(1)} s in all.`);
  md.push('');

  let baselineNote = '';
  md.push('## Client, headless Chromium');
  md.push('');
  if (browser) {
    md.push(opsTable(browser));
    md.push('');
    md.push(charts.filter((c) => c.file.startsWith('ops-')).map((c) => `![${c.alt}](perf/${c.file})`).join('\n'));
    md.push('');
    md.push('| `.wasm` instantiation | median ms | min ms | max ms | #8 target | result |');
    md.push('| --- | ---: | ---: | ---: | --- | --- |');
    const s = browser.instantiate.streamingMs;
    const g = browser.instantiate.glueInitMs;
    const cb = browser.instantiate.fromBytesMs;
    md.push(`| **compile + instantiate**: \`WebAssembly.instantiate(bytes, imports)\`, bytes in memory | ${fmtMs(cb.median)} | ${fmtMs(cb.min)} | ${fmtMs(cb.max)} | ≤ ${INSTANTIATE_TARGET_MS} ms | ${verdict(cb.median <= INSTANTIATE_TARGET_MS)} |`);
    md.push(`| fetch + compile + instantiate: \`instantiateStreaming(fetch(url), imports)\` | ${fmtMs(s.median)} | ${fmtMs(s.min)} | ${fmtMs(s.max)} | (info) | |`);
    md.push(`| glue \`init()\` (real imports + start) | ${fmtMs(g.median)} | ${fmtMs(g.min)} | ${fmtMs(g.max)} | (info) | |`);
    for (const [label, x] of [['`fetch` + `arrayBuffer()` of the .wasm alone', browser.instantiate.fetchOnlyMs], ['`fetch` of a 0.5 KB file (fixed cost of a request here)', browser.instantiate.fetchTinyMs]]) {
      if (x) md.push(`| ${label} | ${fmtMs(x.median)} | ${fmtMs(x.min)} | ${fmtMs(x.max)} | (info) | |`);
    }
    md.push('');
    md.push(`The #8 target is \"compile + instantiate\", judged on the first row. The streaming figures include a request to the loopback static server, whose fixed cost in this headless Chromium (the last row, for a 0.5 KB file) is most of them; a real page pays its own network instead. Stub imports: nothing is called at instantiation; the glue row uses the real imports and runs \`__wbindgen_start\`. V8 may compile some functions lazily, on their first call, so part of a module's compile cost can land in its first operations rather than here.`);
    md.push('');
    if (!browser.instantiate.uniqueBytes) md.push(`Note: ${browser.instantiate.note}.\n`);
    md.push('![instantiate](perf/instantiate.svg)');
    md.push('');
    md.push('This run against the issue\'s baseline (same machine kind, headless Chromium 156): the other two implementations, as a check that the machine and the method are comparable.');
    md.push('');
    md.push('| operation | node-forge this run | node-forge #8 baseline | WebCrypto this run | WebCrypto #8 baseline |');
    md.push('| --- | ---: | ---: | ---: | ---: |');
    const gm = (impl) => Math.exp(OPS.reduce((a, op) => a + Math.log(browser.ops[op].opsPerSec[impl] / ISSUE_BASELINE[impl][op]), 0) / OPS.length);
    baselineNote = `Against the issue's baseline figures, node-forge ran at ${fmtRatio(gm('node-forge'))} and WebCrypto at ${fmtRatio(gm('webcrypto'))} (geometric means over the four operations): absolute numbers move with the machine and its neighbours, which is why the targets are ratios within one run.`;
    for (const op of OPS) {
      md.push(`| ${op} | ${fmtInt(browser.ops[op].opsPerSec['node-forge'])} | ${fmtInt(ISSUE_BASELINE['node-forge'][op])} | ${fmtInt(browser.ops[op].opsPerSec.webcrypto)} | ${fmtInt(ISSUE_BASELINE.webcrypto[op])} |`);
    }
    md.push('');
    md.push(baselineNote);
    md.push('');
    md.push('<details><summary>Spread over the rounds</summary>');
    md.push('');
    md.push(spreadTable(browser));
    md.push('');
    md.push(`Base64 in the page's WebCrypto code: ${browser.env.base64}. Console errors: ${browser.env.consoleErrors.length ? browser.env.consoleErrors.join('; ') : 'none'}.`);
    md.push('');
    md.push('</details>');
  } else {
    md.push(`The browser run failed: ${browserRun.error}.`);
  }
  md.push('');

  md.push('## Client, Node');
  md.push('');
  if (node) {
    md.push(`Node ${node.env.node}: \`pkg/nodejs\`, \`require('node-forge')\`, \`globalThis.crypto.subtle\` (OpenSSL ${node.env.openssl}). The #8 targets are stated for the browser; here they are shown for information.`);
    md.push('');
    md.push(opsTable(node, { informational: true }));
    md.push('');
    const s = node.instantiate.syncCompileInstantiateMs;
    md.push(`\`.wasm\` read + compile + instantiate (sync, unique bytes): median ${fmtMs(s.median)} ms (min ${fmtMs(s.min)}, max ${fmtMs(s.max)}).`);
    md.push('');
    md.push('<details><summary>Spread over the rounds</summary>');
    md.push('');
    md.push(spreadTable(node));
    md.push('');
    md.push('</details>');
  } else {
    md.push(`The Node run failed: ${nodeRun.error}.`);
  }
  md.push('');

  md.push('## Sizes');
  md.push('');
  if (sizes) {
    md.push('| file | raw | gzip -9 | #8 target | result |');
    md.push('| --- | ---: | ---: | --- | --- |');
    for (const f of sizes.files) {
      const t = SIZE_TARGETS[f.file];
      md.push(`| \`${f.file}\` | ${fmtBytes(f.raw)} | ${fmtBytes(f.gzip9)} | ${t ? t.text : ''} | ${t ? verdict(f.gzip9 <= t.max) : ''} |`);
    }
    const ours = sizes.totals['paysecure-wasm'];
    const docs = sizes.totals['docs libraries'];
    md.push(`| **paysecure-wasm web build** (.wasm + glue) | ${fmtBytes(ours.raw)} | ${fmtBytes(ours.gzip9)} | | |`);
    md.push(`| **docs libraries** (${docs.files.map((f) => path.basename(f)).join(' + ')}) | ${fmtBytes(docs.raw)} | ${fmtBytes(docs.gzip9)} | | |`);
    md.push(`| forge.min.js + sjcl.js, as given in #8 | ${fmtBytes(ISSUE_BASELINE.docsBundle.raw)} | ${fmtBytes(ISSUE_BASELINE.docsBundle.gzip9)} | | |`);
    md.push('');
    md.push('![sizes](perf/sizes.svg)');
  } else {
    md.push(`The size report failed: ${sizesRun.error}.`);
  }
  md.push('');
  md.push(serverSection());
  md.push('## Raw data');
  md.push('');
  md.push('Every sample of this run, the machine facts and the durations: [`perf/results.json`](perf/results.json). Charts: `perf/*.svg`, written by `bench/report.mjs`.');
  md.push('');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'performance.md'), md.join('\n'));
  log(`wrote ${path.relative(root, path.join(outDir, 'performance.md'))} and ${charts.length} charts in ${totalSeconds.toFixed(1)} s: ${met}/${summary.length} targets met`);
  if (!browserRun.ok || !nodeRun.ok || !sizesRun.ok) process.exit(1);
}

await main();
