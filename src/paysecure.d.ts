/**
 * PaySecure protocol version: `v1` (RSA PKCS#1 v1.5 + AES-CBC), `v2` and `v3` (RSA-OAEP SHA-1 + AES-GCM).
 * The `paysecure-wasm/reveal` entry point has `v2` and `v3` only: `'v1'` throws `V1_NOT_IN_ENTRY` there.
 */
export type PaySecureVersion = 'v1' | 'v2' | 'v3';

/** AES session key size in bits. */
export type KeyBits = 128 | 192 | 256;

/** Options of {@link Session.create}. */
export interface SessionOptions {
  /** Protocol version; default `'v2'`. `'v1'` is legacy: see {@link FromKeyOptions.allowLegacyCbc}. */
  version?: PaySecureVersion;
  /** Session key size; default `256`. */
  keyBits?: KeyBits;
  /** See {@link FromKeyOptions.allowLegacyCbc}. */
  allowLegacyCbc?: boolean;
}

/**
 * A {@link Session} made for an issuer's public key ({@link Session.create},
 * {@link PublicKey.createSession}): its `sessionId` is always there.
 */
export type SessionWithId = Session & { readonly sessionId: string };

/** Options of {@link Session.fromKey}. */
export interface FromKeyOptions {
  /** Protocol version; default `'v2'`. `'v1'` is legacy: see `allowLegacyCbc`. */
  version?: PaySecureVersion;
  /**
   * Allows a `'v1'` session to decrypt (`decrypt`, `decryptBytes`, `decryptPin`); default `false`,
   * and without it they throw `LEGACY_CBC_DISABLED`. V1 values are AES-CBC **without a MAC**:
   * unauthenticated, so anyone on the path can alter them undetected, and wherever an attacker can
   * observe whether a relayed V1 value decrypts, that is a padding oracle that reveals the plaintext.
   * Every V1 decryption failure is therefore the same `DECRYPTION_FAILED` error with the same
   * message. Use V2 or V3 (AES-GCM); enable this only to talk to an issuer that has nothing else.
   * It has no effect on `'v2'`/`'v3'` sessions or on encryption.
   */
  allowLegacyCbc?: boolean;
}

/**
 * An encrypted value as the PaySecure API exchanges it.
 * V2/V3: `data` is base64(ciphertext || 16-byte GCM tag). V1: base64 AES-CBC ciphertext.
 * `iv` is base64 of the 16-byte IV (V1 also accepts the 16-character text form on decryption).
 */
export interface EncryptedValue {
  data: string;
  iv: string;
}

/**
 * An RSA public key as a JSON Web Key (RFC 7517/7518). A JWK with any private or symmetric member
 * (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is refused with `PRIVATE_JWK`; `use`, if present,
 * must be `'enc'` and `key_ops`, if present, must include `'encrypt'` or `'wrapKey'`
 * (else `INVALID_PUBLIC_KEY`).
 */
export interface RsaJwk {
  kty: 'RSA';
  /** Modulus, base64url. */
  n: string;
  /** Public exponent, base64url. */
  e: string;
  alg?: string;
  kid?: string;
  use?: 'enc';
  key_ops?: string[];
}

/**
 * The issuer's RSA public key (at least 2048 bits): SPKI PEM (`-----BEGIN PUBLIC KEY-----`),
 * PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`), bare base64 of the SPKI DER, a JWK object,
 * or the JWK's JSON text.
 */
export type PublicKeyInput = string | RsaJwk;

/**
 * ISO 9564-1 PIN block format: 0-3 are 16 hex characters; 4 is the AES PIN block (ISO 9564-1:2017),
 * enciphered under an AES key, 32 hex characters.
 */
export type PinBlockFormat = 0 | 1 | 2 | 3 | 4;

/** Options of {@link pinBlock}. */
export interface PinBlockOptions {
  /** ISO 9564-1 format; default `2` (the PaySecure format). */
  format?: PinBlockFormat;
  /** The card number; required for formats 0, 3 and 4 (12 to 19 digits). */
  pan?: string;
  /** Format 4 only, and required there: the AES key (16, 24 or 32 bytes) the block is enciphered under. */
  key?: Uint8Array | ArrayBuffer;
}

/** Options of {@link parsePinBlock}. */
export interface ParsePinBlockOptions {
  /** The card number; required for formats 0, 3 and 4. */
  pan?: string;
  /** Given: the block is format 4 (32 hex characters), deciphered under this AES key (16, 24 or 32 bytes). */
  key?: Uint8Array | ArrayBuffer;
}

/**
 * Why {@link pinWeakness} finds a PIN too easy to guess: one repeated digit (`1111`), a run of
 * consecutive digits up or down (`1234`, `4321`, `8901`), one repeated pair (`1212`), or one of the
 * most common PINs (`2580`, `1004`, ...). The issuer refuses such a PIN with `WEAK_PIN`.
 */
export type PinWeaknessCode = 'REPEATED_DIGIT' | 'SEQUENCE' | 'REPEATED_PAIR' | 'COMMON';

/** Card brands {@link cardBrand} recognises. */
export type CardBrand =
  | 'VISA' | 'MASTERCARD' | 'AMEX' | 'DISCOVER' | 'JCB'
  | 'DINERS' | 'UNIONPAY' | 'MAESTRO' | 'UNKNOWN';

/**
 * Stable codes of {@link PaySecureError}.
 *
 * Input limits (`INPUT_TOO_LARGE`, checked before anything is copied into WebAssembly memory;
 * text in JavaScript `.length` units, and plaintexts and bodies again in UTF-8 bytes):
 * a public key (PEM, base64 DER, JWK text, each JWK member) 16 KiB, a JWK's `key_ops` 16 entries;
 * a value's `data` 64 KiB and `iv` 256; `encrypt` plaintext 32 KiB (text or bytes);
 * `encryptBody` 1 MiB, `decryptBody` 2 MiB of hex; a session key 256; everything else (PIN, PIN
 * block, PAN, CVV, names, key alias, version, option strings) 256.
 *
 * `RANDOM_UNAVAILABLE` is any failure of the platform CSPRNG, including during RSA padding.
 * `OBJECT_FREED`: a method or getter of a `Session` or `PublicKey` after its `free()`.
 * `LEGACY_CBC_DISABLED`: see {@link FromKeyOptions.allowLegacyCbc}.
 * `V1_NOT_IN_ENTRY`: `{ version: 'v1' }` from the `paysecure-wasm/reveal` entry point, which has no V1
 * (import from `paysecure-wasm` for V1).
 * `NOT_INITIALIZED`: a call before {@link initAsync} (browsers, workers, bundlers).
 * `WASM_BLOCKED_BY_CSP`: {@link initAsync} on a page whose Content-Security-Policy forbids compiling
 * WebAssembly (`script-src` needs `'wasm-unsafe-eval'`). `WASM_LOAD_FAILED`: the module could not be
 * fetched or read, or is not this package's module; `cause` holds the underlying error.
 */
export type PaySecureErrorCode =
  | 'INVALID_PUBLIC_KEY' | 'WEAK_PUBLIC_KEY' | 'PRIVATE_JWK' | 'INVALID_KEY_SIZE'
  | 'UNSUPPORTED_VERSION' | 'INVALID_BASE64' | 'INVALID_IV' | 'DECRYPTION_FAILED' | 'INVALID_UTF8'
  | 'INVALID_PIN' | 'INVALID_PIN_BLOCK' | 'INVALID_PAN' | 'INVALID_CARD' | 'INVALID_INPUT'
  | 'INPUT_TOO_LARGE' | 'LEGACY_CBC_DISABLED' | 'V1_NOT_IN_ENTRY' | 'OBJECT_FREED'
  | 'RANDOM_UNAVAILABLE' | 'ENCRYPTION_FAILED'
  | 'NOT_INITIALIZED' | 'WASM_BLOCKED_BY_CSP' | 'WASM_LOAD_FAILED';

/**
 * What every function and method of this package throws on failure, and nothing else: whatever
 * the arguments (wrong types, oversized, hostile getters or proxies), a call returns or throws
 * a `PaySecureError`. `DECRYPTION_FAILED` is deliberately opaque: a wrong key, a bad tag and bad
 * padding look alike. Test for it with {@link isPaySecureError}.
 *
 * @example
 * try { session.decrypt(value) } catch (e) {
 *   if (isPaySecureError(e)) console.log(e.code)
 * }
 */
export interface PaySecureError extends Error {
  name: 'PaySecureError';
  code: PaySecureErrorCode;
}

/**
 * Whether `e` is an error thrown by this package: an object whose `name`
 * is `'PaySecureError'`, whose `message` is a string and whose `code` is
 * one of the stable codes. Never throws (a throwing getter reads as
 * `false`). Plain JavaScript (src/js/runtime.js): it works before the
 * module is loaded.
 *
 * @example
 * ```ts
 * try { session.decrypt(value) } catch (e) {
 *   if (isPaySecureError(e) && e.code === 'DECRYPTION_FAILED') askAgain();
 *   else throw e;
 * }
 * ```
 */
export function isPaySecureError(e: unknown): e is PaySecureError;
