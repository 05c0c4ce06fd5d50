// The cardholder flow every fixture app runs with the package as it imported
// it: a real session against a real paysecure-server (reveal the card, set the
// PIN, read it back). Copied into each app by tests/integration/matrix.test.mjs
// (bundlers resolve it like any app file). `ps` is the imported module; `init`
// loads the WebAssembly module the way that environment does.
export async function runFlow(ps, init, fetchImpl = fetch, base = '') {
  const config = await (await fetchImpl(`${base}/__fixture/config.json`)).json();
  const out = { entry: ps.isInitialized() ? 'initialized on import' : 'not initialized on import' };
  if (typeof document !== 'undefined' || typeof WorkerGlobalScope !== 'undefined') {
    // In browsers and workers any call before init must be a NOT_INITIALIZED PaySecureError.
    try {
      ps.cardBrand('4111111111111111');
      out.beforeInit = 'no error';
    } catch (e) {
      out.beforeInit = ps.isPaySecureError(e) ? e.code : `${e.name}: ${e.message}`;
    }
  }
  await init();
  const { publicKey } = await (await fetchImpl(`${base}/v2/public-key`)).json();
  const call = async (method, path, session, body) => {
    const headers = { 'Session-Id': session.sessionId, Authorization: `Bearer ${config.ephemeralKey}` };
    if (body) headers['Content-Type'] = 'application/json';
    const res = await fetchImpl(`${base}${path}`, { method, headers, body: body && JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  let s = ps.Session.create(publicKey);
  const revealed = await call('POST', `/v2/cards/${config.token}/reveal`, s);
  const pan = s.decrypt(revealed.pan);
  s.free();
  s = ps.Session.create(publicKey, { keyBits: 128 });
  await call('PUT', `/v2/cards/${config.token}/pin`, s, { pinBlock: s.encryptPin(config.pin) });
  s.free();
  s = ps.Session.create(publicKey);
  const got = await call('POST', `/v2/cards/${config.token}/pin`, s);
  const pin = s.decryptPin(got.pinBlock);
  s.free();
  // Only what the runner compares; the test card and PIN are test data.
  return { ...out, pan, pin, brand: ps.cardBrand(pan) };
}
