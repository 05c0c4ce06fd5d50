// Shared set-up of the wallet provisioning suites (wallet-apple.test.mjs,
// wallet-mdes.test.mjs): a real paysecure-server process started the way
// server-e2e.test.mjs starts one, its command line, and a Get PAN client on
// node:crypto alone (RSA-OAEP SHA-1 session id, AES-GCM with a 16-byte IV),
// so that the suites know the card they expect without this package.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
const BIN = path.join(root, 'target', 'debug', 'paysecure-server');

/** A server process with its own data directory and log. */
export async function startServer(prefix) {
  assert.ok(existsSync(BIN), `${BIN} missing: cargo build -p paysecure-server`);
  const dir = mkdtempSync(path.join(os.tmpdir(), `paysecure-${prefix}-`));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const base = ['--data-dir', data, '--master-key-file', `${data}/master.key`];
  const cli = (...args) => execFileSync(BIN, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  /** Runs the CLI expecting failure; returns its stderr. */
  const cliFails = (...args) => {
    try {
      execFileSync(BIN, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return e.stderr.toString();
    }
    throw new Error(`expected ${args.join(' ')} to fail`);
  };
  const tenant = (name) => {
    const lines = cli('tenant', 'create', name).trim().split('\n');
    return { id: lines[0].split(' ')[1], apiKey: lines.pop() };
  };
  const first = tenant('Wallet Bank');
  const proc = spawn(BIN, [...base, '--log-format', 'json', 'serve', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', openSync(logFile, 'w')],
    env: { ...process.env, RUST_LOG: 'debug' },
  });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const url = line.trim().split(' ').pop();
  const api = async (method, p, { auth = first.apiKey, sessionId, body, raw } = {}) => {
    const headers = { authorization: `Bearer ${auth}`, connection: 'close' };
    if (sessionId) headers['session-id'] = sessionId;
    if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${p}`, { method, headers, body: raw ?? (body && JSON.stringify(body)) });
    const json = await res.json().catch(() => null);
    return { status: res.status, body: json };
  };
  const stop = async () => {
    const exited = new Promise((ok) => proc.once('exit', ok));
    proc.kill('SIGTERM');
    await exited;
  };
  return { dir, url, cli, cliFails, tenant, first, api, stop, log: () => readFileSync(logFile, 'utf8') };
}

/** A PaySecure V2 session on node:crypto: the AES key and its session id. */
export async function nodeSession(api) {
  const pem = (await api('GET', '/v2/public-key')).body.publicKey;
  const key = crypto.randomBytes(32);
  const wrapped = crypto.publicEncrypt(
    { key: pem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.from(key.toString('base64')),
  );
  return { key, sessionId: wrapped.toString('base64') };
}

/** Opens a V2 `{ data, iv }` value (AES-GCM, 16-byte IV, tag appended). */
export function openValue(key, { data, iv }) {
  const raw = Buffer.from(data, 'base64');
  const d = crypto.createDecipheriv(`aes-${key.length * 8}-gcm`, key, Buffer.from(iv, 'base64'));
  d.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]).toString('utf8');
}

/** Encrypts a V2 value. */
export function sealValue(key, text) {
  const iv = crypto.randomBytes(16);
  const c = crypto.createCipheriv(`aes-${key.length * 8}-gcm`, key, iv);
  const data = Buffer.concat([c.update(text, 'utf8'), c.final(), c.getAuthTag()]);
  return { data: data.toString('base64'), iv: iv.toString('base64') };
}

/** Issues a card with a name; returns its token, expiry and PAN (Get PAN). */
export async function issueCard(api, cardholderName = 'JANE Q WALLET', bin) {
  const r = await api('POST', '/v2/cards', { body: { cardholderName, ...(bin ? { bin } : {}) } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const s = await nodeSession(api);
  const got = await api('POST', `/v2/cards/${r.body.token}/pan`, { sessionId: s.sessionId });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  return { ...r.body, pan: openValue(s.key, got.body.pan) };
}

/** A PAN-only token (PAN to token): a card that is not active for wallets. */
export async function panOnlyToken(api, pan) {
  const s = await nodeSession(api);
  const r = await api('POST', '/v2/tokens', { sessionId: s.sessionId, body: { pan: sealValue(s.key, pan) } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.token;
}

/** A Luhn-valid PAN of `len` digits starting with `prefix`. */
export function luhnPan(prefix, len = 16) {
  let digits = prefix;
  while (digits.length < len - 1) digits += String(crypto.randomInt(10));
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return digits + String((10 - (sum % 10)) % 10);
}

/** Verifies a TAV as Mastercard would with the TAV public key: base64 JSON,
 * the signature over the included fields' values joined by `|`. */
export function verifyTav(tavB64, publicPem, { pan, month, year }) {
  const tav = JSON.parse(Buffer.from(tavB64, 'base64').toString('utf8'));
  assert.equal(tav.version, '3');
  assert.equal(tav.includedFieldsInOrder, 'accountNumber|expiryMonth|expiryYear|dataValidUntilTimestamp');
  const values = {
    accountNumber: pan,
    expiryMonth: String(month).padStart(2, '0'),
    expiryYear: String(year % 100).padStart(2, '0'),
    dataValidUntilTimestamp: tav.dataValidUntilTimestamp,
  };
  const message = tav.includedFieldsInOrder.split('|').map((f) => values[f]).join('|');
  const alg = { 'ECDSA-SHA256': 'sha256', 'RSA-SHA256': 'sha256' }[tav.signatureAlgorithm];
  assert.ok(alg, tav.signatureAlgorithm);
  const ok = crypto.verify(alg, Buffer.from(message), publicPem, Buffer.from(tav.signature, 'base64'));
  const validFor = Date.parse(tav.dataValidUntilTimestamp) - Date.now();
  return { ok, tav, validFor, message };
}

/** The PEM block printed by a CLI command. */
export function pemOf(text) {
  const m = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\n?/);
  assert.ok(m, text);
  return m[0];
}
