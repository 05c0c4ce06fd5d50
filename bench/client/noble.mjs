// The pure-JS peer of the client benchmark (issue #20): @noble/ciphers (AES-GCM),
// @noble/hashes (SHA-1) and micro-rsa-dsa-dh (RSA-OAEP), imported as their
// authors document. Node imports this file as is; run-browser.mjs bundles it
// with esbuild into one ES module for the page (the packages' own modules
// import each other by bare specifier).
export { gcm } from '@noble/ciphers/aes.js';
export { randomBytes } from '@noble/ciphers/utils.js';
export { sha1 } from '@noble/hashes/legacy.js';
export { OAEP, mgf1 } from 'micro-rsa-dsa-dh/rsa.js';
