// A stand-in for the issuer's API, inside the page, on WebCrypto alone: it
// holds an RSA-OAEP (SHA-1) key pair and one test card, unwraps session ids,
// and answers with AES-GCM values under a fresh 16-byte IV, as PaySecure V2
// specifies. It never uses paysecure-wasm, so the demo is a real interop run.
const enc = new TextEncoder();
const dec = new TextDecoder();
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

export class SimulatedIssuer {
  static async create() {
    const keys = await crypto.subtle.generateKey(
      { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
      false,
      ['decrypt', 'encrypt'],
    );
    const spki = await crypto.subtle.exportKey('spki', keys.publicKey);
    const pem = `-----BEGIN PUBLIC KEY-----\n${b64(spki).match(/.{1,64}/g).join('\n')}\n-----END PUBLIC KEY-----\n`;
    return new SimulatedIssuer(keys.privateKey, pem);
  }

  constructor(privateKey, publicKeyPem) {
    this.privateKey = privateKey;
    this.publicKeyPem = publicKeyPem;
    this.token = 'tok_4f9c2a71';
    this.card = { pan: '4111111111111111', expiryMonth: 12, expiryYear: 2029, cvv2: '123', pin: '1432' };
  }

  async #sessionKey(sessionId) {
    // The session id wraps the UTF-8 of the key's base64 text.
    const text = dec.decode(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, this.privateKey, unb64(sessionId)));
    return crypto.subtle.importKey('raw', unb64(text), 'AES-GCM', false, ['encrypt', 'decrypt']);
  }

  async #seal(key, text) {
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, enc.encode(text));
    return { data: b64(data), iv: b64(iv) };
  }

  /** POST /v2/cards/{token}/reveal */
  async reveal(sessionId) {
    const key = await this.#sessionKey(sessionId);
    const { pan, cvv2, expiryMonth, expiryYear } = this.card;
    return { token: this.token, pan: await this.#seal(key, pan), cvv2: await this.#seal(key, cvv2), expiryMonth, expiryYear };
  }

  /** POST /v2/cards/{token}/pin: the PIN as an encrypted ISO 9564 format-2 block. */
  async getPin(sessionId) {
    const key = await this.#sessionKey(sessionId);
    const pin = this.card.pin;
    const block = `2${pin.length.toString(16).toUpperCase()}${pin}`.padEnd(16, 'F');
    return { token: this.token, pinBlock: await this.#seal(key, block) };
  }

  /** PUT /v2/cards/{token}/pin with { pinBlock }. */
  async setPin(sessionId, { pinBlock }) {
    const key = await this.#sessionKey(sessionId);
    const block = dec.decode(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(pinBlock.iv) }, key, unb64(pinBlock.data)),
    );
    const m = /^2([4-9A-C])(\d{4,12})(F*)$/.exec(block);
    if (!m || parseInt(m[1], 16) !== m[2].length || block.length !== 16) throw new Error('bad PIN block');
    this.card.pin = m[2];
    return { token: this.token, status: 'PIN_SET' };
  }
}
