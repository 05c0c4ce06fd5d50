// Interop with Java JCE (SunJCE, JDK only), V1 and V2, both directions, via
// tests/java/JceInterop.java run as one batch.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { ps, root, publicPem, privateDerB64, b64, KEY_BITS } from './helpers.mjs';

const { Session } = ps;
const javaDir = path.join(root, 'tests', 'java');
const outDir = path.join(javaDir, 'out');

function java(lines) {
  mkdirSync(outDir, { recursive: true });
  execFileSync('javac', ['-d', outDir, path.join(javaDir, 'JceInterop.java')]);
  const out = execFileSync('java', ['-cp', outDir, 'JceInterop'], { input: lines.join('\n') + '\n' });
  const results = out.toString('utf8').trimEnd().split('\n');
  assert.equal(results.length, lines.length);
  return results;
}

test('Java JCE: session ids, AES-GCM and AES-CBC, V1 and V2, both directions', () => {
  const ops = [];
  const checks = [];
  const sessions = [];
  for (const version of ['v1', 'v2']) {
    for (const keyBits of KEY_BITS) {
      const s = Session.create(publicPem, { version, keyBits, allowLegacyCbc: version === 'v1' });
      sessions.push(s);
      const key = s.exportKey();
      const mode = version === 'v1' ? 'CBC' : 'GCM';
      // Our session id -> Java's RSA decryption.
      ops.push(`${version === 'v1' ? 'PKCS1' : 'OAEP'}_DECRYPT ${privateDerB64} ${s.sessionId}`);
      checks.push((r) => assert.equal(r, key, `${version}/${keyBits} session id`));
      // Our ciphertext -> Java.
      const ours = s.encryptPin('5791');
      ops.push(`${mode}_DECRYPT ${key} ${ours.iv} ${ours.data}`);
      checks.push((r) => assert.equal(Buffer.from(r, 'base64').toString(), '245791FFFFFFFFFF', `${version}/${keyBits} ours->java`));
      // Java's ciphertext -> ours.
      const iv = b64(crypto.randomBytes(16));
      ops.push(`${mode}_ENCRYPT ${key} ${iv} ${b64(Buffer.from('4000056655665556'))}`);
      checks.push((r) => assert.equal(s.decrypt({ data: r, iv }), '4000056655665556', `${version}/${keyBits} java->ours`));
    }
  }
  // V1 docs: the IV is a 16-character text whose UTF-8 bytes are the IV.
  const v1 = Session.create(publicPem, { version: 'v1', allowLegacyCbc: true });
  sessions.push(v1);
  const textIv = 'Xb6qbV2L6d1F92YU';
  ops.push(`CBC_ENCRYPT ${v1.exportKey()} ${b64(Buffer.from(textIv))} ${b64(Buffer.from('024'))}`);
  checks.push((r) => assert.equal(v1.decrypt({ data: r, iv: textIv }), '024'));
  // Tampered GCM is refused by Java too (so both sides agree on the tag).
  const v2 = Session.create(publicPem);
  sessions.push(v2);
  const t = v2.encrypt('x');
  const raw = Buffer.from(t.data, 'base64');
  raw[0] ^= 1;
  ops.push(`GCM_DECRYPT ${v2.exportKey()} ${t.iv} ${raw.toString('base64')}`);
  checks.push((r) => assert.equal(r, 'ERR AEADBadTagException'));

  const results = java(ops);
  results.forEach((r, i) => checks[i](r));
  for (const s of sessions) s.free();
});
