// The host page: knows card tokens and masked numbers, asks its own backend
// for ephemeral keys, and mounts the widgets. It never handles card data.
import { mountCardReveal, mountSetPin } from '/sdk/paysecure-embed.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const remaskAfterMs = Number(params.get('remask')) || 60000; // ?remask=ms (tests)
const ttlSeconds = Number(params.get('ttl')) || 300; // ?ttl=s (tests)
let config;
let selected = null;
let widget = null;

async function backend(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body && JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`demo backend: ${res.status}`);
  return res.json();
}

function notice(text) {
  $('notice').textContent = text;
}

function logEvent(m) {
  const li = document.createElement('li');
  li.textContent = JSON.stringify(m);
  $('events').prepend(li);
}

function renderCards() {
  const list = $('cards');
  list.replaceChildren();
  for (const c of config.cards) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'card-item';
    b.dataset.token = c.token;
    b.setAttribute('aria-pressed', String(selected?.token === c.token));
    b.innerHTML = '<span class="brand"></span><span class="masked"></span><span class="meta"></span>';
    b.querySelector('.brand').textContent = c.brand;
    b.querySelector('.masked').textContent = c.maskedPan.replace(/\*/g, '•');
    b.querySelector('.meta').textContent = `exp ${String(c.expiryMonth).padStart(2, '0')}/${String(c.expiryYear).slice(-2)} · ${c.pinBlocked ? 'PIN blocked' : c.pinSet ? 'PIN set' : 'no PIN'}`;
    b.addEventListener('click', () => select(c));
    li.append(b);
    list.append(li);
  }
}

function select(card) {
  selected = card;
  widget?.destroy();
  widget = null;
  $('panel-title').textContent = `${card.brand} ${card.maskedPan.slice(-4)}`;
  $('actions').hidden = false;
  $('unblock').hidden = !card.pinBlocked;
  notice('');
  renderCards();
}

let refreshes = 0;

async function refresh() {
  // Responses can arrive out of order; only the latest request's counts.
  const mine = ++refreshes;
  const fresh = await backend('GET', '/demo-api/config');
  if (mine !== refreshes) return;
  config = fresh;
  // Stable order for the demo: VISA, Mastercard, AMEX (by customer reference).
  config.cards.sort((a, b) => (b.customerRef || '').localeCompare(a.customerRef || ''));
  if (selected) selected = config.cards.find((c) => c.token === selected.token) || null;
  renderCards();
  if (selected) $('unblock').hidden = !selected.pinBlocked;
}

async function open(kind) {
  if (!selected) return;
  const scopes = kind === 'reveal' ? ['reveal'] : ['pin:read', 'pin:write', 'pin:verify'];
  const { key } = await backend('POST', '/demo-api/ephemeral-keys', { token: selected.token, scopes, ttlSeconds });
  widget?.destroy();
  const mountFn = kind === 'reveal' ? mountCardReveal : mountSetPin;
  widget = mountFn($('widget'), {
    apiOrigin: config.widgetOrigin,
    token: selected.token,
    ephemeralKey: key,
    remaskAfterMs,
    style: { '--ps-accent': '#0b6e4f', '--ps-radius': '12px' },
    onEvent: logEvent,
  });
  widget
    .on('error', (m) => notice(m.code === 'UNAUTHORIZED' ? 'The secure view expired. Open it again.' : `Secure view error: ${m.code}`))
    .on('blocked', async () => {
      notice('The PIN is blocked after three wrong attempts. You can unblock it here.');
      await refresh();
    })
    .on('pin-set', () => refresh());
}

$('show-card').addEventListener('click', () => open('reveal'));
$('manage-pin').addEventListener('click', () => open('pin'));
$('unblock').addEventListener('click', async () => {
  await backend('POST', `/demo-api/cards/${encodeURIComponent(selected.token)}/unblock`);
  await refresh();
  notice('PIN unblocked.');
});

try {
  await refresh();
  if (config.cards[0]) select(config.cards[0]);
  document.body.dataset.ready = 'true';
} catch (e) {
  notice(`The demo backend is not reachable: ${e.message}`);
}
