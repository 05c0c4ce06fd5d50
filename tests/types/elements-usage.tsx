// Compiled with `tsc --strict --noEmit` (tests/js/elements-types.test.mjs) in
// a project that installed @paysecure/elements from its tarball: every entry
// used as its README uses it. The @ts-expect-error lines fail the compile if
// a type ever widens to `any` or loses a member.
import { useRef } from 'react';
import { createRoot } from 'react-dom/client';
import { createApp, defineComponent, h, ref } from 'vue';
import {
  mountCardReveal, mountPin, mountSetPin, ElementsError, ERROR_CODES, STYLE_VARIABLES,
  type ErrorCode, type WidgetEvent, type WidgetHandle, type CardRevealOptions, type PinOptions, type FontSource,
} from '@paysecure/elements';
import { CardReveal, PinWidget, type CardRevealProps } from '@paysecure/elements/react';
import { CardReveal as VueCardReveal, PinWidget as VuePinWidget, type WidgetExposed } from '@paysecure/elements/vue';
import { createMockIssuer, type MockFrame } from '@paysecure/elements/testing';
import pkg from '@paysecure/elements/package.json' with { type: 'json' };

declare const token: string;
declare const revealKey: string;
declare const pinKey: string;
declare const hint: (text: string) => void;

// vanilla
const font: FontSource = { family: 'Inter', src: 'https://cdn.example.com/inter-var.woff2', weight: '100 900', display: 'swap' };
const widget: WidgetHandle = mountCardReveal(document.getElementById('card')!, {
  apiOrigin: 'https://cards.example.com',
  token,
  ephemeralKey: revealKey,
  remaskAfterMs: 30000,
  appearance: { variables: { '--ps-accent': '#0b6e4f' }, fonts: [font] },
});
widget
  .on('revealed', () => console.log('card shown'))
  .on('copied', (e) => hint(`${e.field} copied`))
  .on('copy-unavailable', (e) => {
    const f: 'pan' | 'expiry' | 'cvv2' = e.field;
    hint(f);
  })
  .on('error', (e) => {
    const code: ErrorCode = e.code;
    hint(code === 'UNAUTHORIZED' ? 'expired' : code);
  })
  .on('resize', (e) => hint(String(e.height.toFixed(0))))
  .on('*', (e: WidgetEvent) => hint(e.event));
// @ts-expect-error not an event
widget.on('exfiltrated', () => {});
// @ts-expect-error `revealed` carries no field
widget.on('revealed', (e) => e.field);
// @ts-expect-error the codes are a closed union
const wrong: ErrorCode = 'SOMETHING';
const ready: Promise<void> = widget.ready;
ready.catch((e: unknown) => {
  if (e instanceof ElementsError) hint(e.code);
});
const frame: HTMLIFrameElement = widget.iframe;
widget.destroy();

const pinOptions: PinOptions = { apiOrigin: 'https://cards.example.com', token, ephemeralKey: pinKey, features: ['set', 'verify'] };
// @ts-expect-error features are 'set' | 'reveal' | 'verify'
const badPin: PinOptions = { ...pinOptions, features: ['steal'] };
mountPin(document.body, pinOptions).on('verified', (e) => hint(e.verified ? 'right' : `${e.triesRemaining} left`));
mountSetPin(document.body, pinOptions);
// @ts-expect-error the ephemeral key is required
const noKey: CardRevealOptions = { apiOrigin: 'https://cards.example.com', token };
// @ts-expect-error only the whitelisted variables
mountCardReveal(document.body, { apiOrigin: '', token, ephemeralKey: revealKey, appearance: { variables: { color: 'red' } } });
const codes: readonly ErrorCode[] = ERROR_CODES;
const vars: readonly string[] = STYLE_VARIABLES;

// react
function CardPage({ token, revealKey, pinKey }: { token: string; revealKey: string; pinKey: string }) {
  const reveal = useRef<WidgetHandle | null>(null);
  return (
    <>
      <CardReveal ref={reveal} apiOrigin="https://cards.example.com" token={token} ephemeralKey={revealKey}
        onReady={() => console.log('card widget ready')} onRevealed={() => console.log('card shown')}
        onError={(e) => console.log('card error', e.code)} className="card" style={{ maxWidth: 420 }} />
      <PinWidget apiOrigin="https://cards.example.com" token={token} ephemeralKey={pinKey}
        features={['set', 'verify']} onReady={() => console.log('PIN widget ready')}
        onVerified={(e) => console.log(e.verified ? 'right PIN' : `${e.triesRemaining} tries left`)} />
      {/* @ts-expect-error apiOrigin is required */}
      <CardReveal token={token} ephemeralKey={revealKey} />
      {/* @ts-expect-error onCopied gets { field }, not a string */}
      <CardReveal apiOrigin="x" token={token} ephemeralKey={revealKey} onCopied={(e: string) => e} />
    </>
  );
}
createRoot(document.getElementById('root')!).render(<CardPage token={token} revealKey={revealKey} pinKey={pinKey} />);
const props: CardRevealProps = { apiOrigin: 'https://cards.example.com', token, ephemeralKey: revealKey, onCopyUnavailable: (e) => hint(e.field) };

// vue
const status = ref('loading');
const Panel = defineComponent({
  setup() {
    const card = ref<WidgetExposed | null>(null);
    return () => [
      h(VueCardReveal, {
        apiOrigin: 'https://cards.example.com', token, ephemeralKey: revealKey,
        onReady: () => { status.value = 'ready'; },
        onRevealed: () => { status.value = 'shown'; },
        onError: (e) => { status.value = e.code; },
        onCopyUnavailable: (e) => { status.value = e.field; },
      }),
      h(VuePinWidget, {
        apiOrigin: 'https://cards.example.com', token, ephemeralKey: pinKey, features: ['set'],
        onPinSet: () => { status.value = 'PIN set'; },
        onVerified: (e) => {
          const left: number = e.triesRemaining;
          // @ts-expect-error the emit payload is typed: triesRemaining is a number
          const wrongType: string = e.triesRemaining;
          status.value = String(left) + wrongType;
        },
      }),
      // @ts-expect-error token must be a string
      h(VueCardReveal, { apiOrigin: 'https://cards.example.com', token: 42, ephemeralKey: revealKey }),
    ];
  },
});
createApp(Panel).mount('#app');

// testing
const issuer = createMockIssuer({ failWith: 'UNAUTHORIZED', height: 300 }).install();
issuer.nextFrame().then((f: MockFrame) => {
  f.copy('pan', false).error('NETWORK_ERROR').verify(false, 0).resize(400);
  const sent: WidgetEvent[] = f.sent;
  const channel: string = f.init.channel;
  // @ts-expect-error not a code
  f.error('OOPS');
  // @ts-expect-error not a card field
  f.copy('pin');
});
issuer.uninstall();
// @ts-expect-error not a code
createMockIssuer({ failWith: 'NOPE' });

const version: string = pkg.version;
export { codes, vars, frame, props, wrong, badPin, noKey, version };
