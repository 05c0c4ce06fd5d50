// Compiled with `tsc --strict --noEmit` against the generated declarations.
// The @ts-expect-error lines fail the compile if a type ever degrades to
// `any` or loses a union member: they prove the types are precise.
import {
  Session, PublicKey, pinBlock, parsePinBlock, pinWeakness, luhnCheck, cardBrand, maskPan, encryptCard,
  isPaySecureError, type FromKeyOptions,
  type PinWeaknessCode, type EncryptedValue, type SessionOptions, type PaySecureError, type PaySecureErrorCode,
  type CardBrand, type KeyBits, type PaySecureVersion, type RsaJwk,
  type CardInput, type EncryptCardOptions,
} from '../../pkg/paysecure-wasm/paysecure_wasm';

declare const pem: string;
declare const jwk: RsaJwk;

const opts: SessionOptions = { version: 'v1', keyBits: 192, allowLegacyCbc: true };
const s = Session.create(pem, opts);
const s2 = Session.create(jwk);
const issuer: PublicKey = PublicKey.parse(pem);
const keySize: number = issuer.bits;
const s3 = issuer.createSession({ version: 'v3' });
// @ts-expect-error createSession takes options, not a key
issuer.createSession(pem);
// Sessions made for a key always have their id (SessionWithId); fromKey's may not.
const id: string = s.sessionId;
const id3: string = s3.sessionId;
// @ts-expect-error a fromKey session's id may be undefined
const noId: string = Session.fromKey('AAAAAAAAAAAAAAAAAAAAAA==').sessionId;
const v: PaySecureVersion = s.version;
const bits: KeyBits = s2.keyBits;
const enc: EncryptedValue = s.encrypt('024');
const enc2: EncryptedValue = s.encrypt(new Uint8Array([1, 2]));
const text: string = s.decrypt(enc);
const bytes: Uint8Array = s.decryptBytes(enc2);
const pin: string = s.decryptPin(s.encryptPin('1432'));
const key: string = s.exportKey();
const sealedBody: string = s.encryptBody(JSON.stringify({ data: { uuid: 'x' } }));
const openedBody: string = s2.decryptBody(sealedBody);
const k2 = Session.fromKey(key, { version: 'v3' });
k2.free();
const legacy: FromKeyOptions = { version: 'v1', allowLegacyCbc: true };
Session.fromKey(key, legacy).free();
const block: string = pinBlock('1432', { format: 0, pan: '4111111111111111' });
const back: string = parsePinBlock(block, { pan: '4111111111111111' });
const weakness: PinWeaknessCode | null = pinWeakness('1234');
const ok: boolean = luhnCheck('4111111111111111');
const brand: CardBrand = cardBrand('4111');
const masked: string = maskPan('4111111111111111');
const card: CardInput = { cardNumber: '4444 3333 2222 1111', expiryMonth: 12, expiryYear: '31', cvv: '123' };
const cardOpts: EncryptCardOptions = { keyAlias: 'rsa-fe656ac0e7bf4311', captureTime: new Date() };
const jwe: string = encryptCard(card, pem, cardOpts);
const jwe2: string = encryptCard(
  { ...card, cardholderName: 'MR J HOLDER', sequenceNumber: '01', startMonth: '03', startYear: 2024 },
  jwk, { keyAlias: 'k1', captureTime: Date.now() });

function codeOf(e: unknown): PaySecureErrorCode | undefined {
  if (e instanceof Error && e.name === 'PaySecureError') return (e as PaySecureError).code;
  return undefined;
}

// isPaySecureError narrows `unknown` to PaySecureError: no cast needed.
function codeOf2(e: unknown): PaySecureErrorCode | undefined {
  if (isPaySecureError(e)) {
    const newCodes: PaySecureErrorCode[] = ['INPUT_TOO_LARGE', 'PRIVATE_JWK', 'LEGACY_CBC_DISABLED', 'OBJECT_FREED'];
    return newCodes.includes(e.code) ? e.code : e.code;
  }
  // @ts-expect-error without the guard, e is unknown
  return e.code;
}

// @ts-expect-error keyBits is 128 | 192 | 256
Session.create(pem, { keyBits: 512 });
// @ts-expect-error version is 'v1' | 'v2' | 'v3'
Session.create(pem, { version: 'v4' });
// @ts-expect-error allowLegacyCbc is a boolean
Session.fromKey(key, { version: 'v1', allowLegacyCbc: 'yes' });
// @ts-expect-error a JWK's use is 'enc'
const sigJwk: RsaJwk = { kty: 'RSA', n: 'AQAB', e: 'AQAB', use: 'sig' };
// @ts-expect-error a public key is a string or an RSA JWK
Session.create(42);
// @ts-expect-error encrypt takes a string or a Uint8Array
s.encrypt(42);
// @ts-expect-error encryptBody takes a string (JSON.stringify a body first)
s.encryptBody({ data: { uuid: 'x' } });
// @ts-expect-error decryptBody takes the hex string, not bytes
s.decryptBody(new Uint8Array([1, 2]));
// @ts-expect-error decryptBody returns a string
const wrongBody: number = s.decryptBody(sealedBody);
// @ts-expect-error decrypt returns a string
const wrong: number = s.decrypt(enc);
// @ts-expect-error an EncryptedValue has data and iv
s.decrypt({ data: 'x' });
// @ts-expect-error PIN block formats are 0..4
pinBlock('1234', { format: 5 });
// Format 4 (AES) takes the key as bytes.
const aesPinBlock: string = pinBlock('1234', { format: 4, pan: '4111111111111111', key: new Uint8Array(16) });
parsePinBlock(aesPinBlock, { pan: '4111111111111111', key: new Uint8Array(16).buffer });
// @ts-expect-error the format-4 key is bytes, not text
pinBlock('1234', { format: 4, pan: '4111111111111111', key: '00112233445566778899aabbccddeeff' });
// @ts-expect-error pinWeakness may answer null
const alwaysWeak: PinWeaknessCode = pinWeakness('1432');
// @ts-expect-error not a weakness code
const notWeakness: PinWeaknessCode = 'TOO_SHORT';
// @ts-expect-error not a brand
const notBrand: CardBrand = 'DINERSCLUB';
// @ts-expect-error not a code
const notCode: PaySecureErrorCode = 'OOPS';
// @ts-expect-error a plain Session's sessionId may be undefined
const sid: string = (k2 as Session).sessionId;
// @ts-expect-error encryptCard needs options.keyAlias
encryptCard(card, pem, {});
// @ts-expect-error encryptCard needs its options
encryptCard(card, pem);
// @ts-expect-error cardNumber is a string
encryptCard({ cardNumber: 4444333322221111, expiryMonth: 12, expiryYear: 2031 }, pem, { keyAlias: 'k1' });
// @ts-expect-error a card needs its expiry
encryptCard({ cardNumber: '4444333322221111' }, pem, { keyAlias: 'k1' });
// @ts-expect-error captureTime is a Date or milliseconds
encryptCard(card, pem, { keyAlias: 'k1', captureTime: '2026-11-18T11:06:40Z' });

export { id, v, bits, text, bytes, pin, openedBody, wrongBody, back, weakness, alwaysWeak, notWeakness, ok, brand, masked, jwe, jwe2, codeOf, codeOf2, sigJwk, wrong, notBrand, notCode, sid };

// Loading: initAsync takes a URL, a Response, bytes or nothing; initSync a module or bytes.
import initDefault, { initAsync, initSync, isInitialized, type WasmSource } from '../../pkg/paysecure-wasm/paysecure_wasm';
const loaded: Promise<void> = initAsync();
const src: WasmSource = new URL('https://cdn.example/paysecure_wasm_bg.wasm');
void initAsync(src);
void initAsync({ module_or_path: fetch('/x.wasm') });
void initDefault(new Uint8Array(8));
initSync({ module: new Uint8Array(8) });
const ready: boolean = isInitialized();
// @ts-expect-error initAsync resolves to nothing (not the raw exports)
const exportsLeak: { memory: WebAssembly.Memory } = await initAsync();
const loadCode: PaySecureErrorCode = 'WASM_BLOCKED_BY_CSP';
