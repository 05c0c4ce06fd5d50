// Headless Chromium (Debian's, driven by playwright-core) and a loopback
// static server for the browser suites.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve as serveMounts } from '../../scripts/static-server.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Serves the repository's test pages, the web build, the test data and the demo. */
export function serve() {
  return serveMounts({
    '/tests/': path.join(root, 'tests'),
    '/pkg/': path.join(root, 'pkg', 'paysecure-wasm'),
    '/': path.join(root, 'www'),
  });
}

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}
