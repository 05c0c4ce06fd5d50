// Types of @paysecure/elements (hand-written: the source is plain ESM JavaScript).

/** The protocol version the SDK and the frames speak. */
export declare const PROTOCOL_VERSION: 1;

/** CSS variables a host may set in `appearance.variables`. */
export type StyleVariable =
  | '--ps-font-family' | '--ps-font-size' | '--ps-text' | '--ps-muted' | '--ps-background'
  | '--ps-surface' | '--ps-accent' | '--ps-accent-text' | '--ps-error' | '--ps-radius' | '--ps-border';
export declare const STYLE_VARIABLES: readonly StyleVariable[];

/**
 * Every code an `error` event, a `blocked` event or a rejected `ready` carries.
 * Issuer codes: UNAUTHORIZED (the ephemeral key expired or is wrong), FORBIDDEN (the
 * key lacks the scope), CARD_NOT_FOUND, RATE_LIMITED, PIN_BLOCKED, PIN_NOT_SET,
 * WEAK_PIN, INVALID_PIN, INVALID_PIN_BLOCK; NETWORK_ERROR (the frame cannot reach the
 * card service), SERVER_ERROR (5xx), UNEXPECTED (anything else); host-side:
 * FRAME_TIMEOUT (no `ready` within `readyTimeoutMs`), DESTROYED (`destroy()` before `ready`).
 */
export type ErrorCode =
  | 'UNAUTHORIZED' | 'FORBIDDEN' | 'CARD_NOT_FOUND' | 'RATE_LIMITED' | 'PIN_BLOCKED' | 'PIN_NOT_SET'
  | 'WEAK_PIN' | 'INVALID_PIN' | 'INVALID_PIN_BLOCK' | 'NETWORK_ERROR' | 'SERVER_ERROR' | 'UNEXPECTED'
  | 'FRAME_TIMEOUT' | 'DESTROYED';
export declare const ERROR_CODES: readonly ErrorCode[];

/** What `ready` rejects with. */
export declare class ElementsError extends Error {
  readonly name: 'ElementsError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string);
}

/** A card field the reveal widget can copy. */
export type CardField = 'pan' | 'expiry' | 'cvv2';

/** The events and what each carries (never a card value or PIN). */
export interface WidgetEvents {
  /** The frame loaded, checked the init message and is usable. */
  ready: { event: 'ready' };
  /** The card values are shown (in the frame). */
  revealed: { event: 'revealed' };
  /** A value went to the clipboard. */
  copied: { event: 'copied'; field: CardField };
  /** The frame may not write the clipboard here: show your own hint. */
  'copy-unavailable': { event: 'copy-unavailable'; field: CardField };
  /** The values are masked again, by the cardholder or after `remaskAfterMs`. */
  hidden: { event: 'hidden'; reason: 'user' | 'timeout' };
  /** A new PIN is set. */
  'pin-set': { event: 'pin-set' };
  /** The frame refused a PIN before sending it (too easy to guess). */
  'pin-refused': { event: 'pin-refused'; reason: 'WEAK_PIN' };
  'pin-revealed': { event: 'pin-revealed' };
  'pin-hidden': { event: 'pin-hidden' };
  /** A PIN check's outcome. */
  verified: { event: 'verified'; verified: boolean; triesRemaining: number };
  /** The PIN is blocked (three wrong tries). */
  blocked: { event: 'blocked'; code: ErrorCode };
  /** The frame's content height in CSS pixels (already clamped to `maxHeight`). */
  resize: { event: 'resize'; height: number };
  error: { event: 'error'; code: ErrorCode };
}
export type WidgetEventName = keyof WidgetEvents;
/** Any event (what `'*'` listeners and `onEvent` receive). */
export type WidgetEvent = WidgetEvents[WidgetEventName];

/** An @font-face the frame loads: one https font file. */
export interface FontSource {
  /** The family name to use in `--ps-font-family` (letters, digits, space, - and _). */
  family: string;
  /** An https URL of a font file (woff2, woff, ttf). The widget CSP admits https: fonts. */
  src: string;
  /** e.g. '400', 'bold', or a range '100 900' for a variable font. */
  weight?: string;
  style?: 'normal' | 'italic' | 'oblique';
  display?: 'auto' | 'block' | 'swap' | 'fallback' | 'optional';
}

export interface Appearance {
  /** Whitelisted CSS variables; values are plain colours, lengths and font names. */
  variables?: Partial<Record<StyleVariable, string>>;
  /** Up to 8 font faces. No stylesheet URLs and no unicode-range (see the README). */
  fonts?: FontSource[];
}

export interface WidgetOptions {
  /** The card service's origin, which serves the widget frames: https (http only on loopback). */
  apiOrigin: string;
  /** The card token (`tok_…`). */
  token: string;
  /** A short-lived key your backend minted for this card (`pse_…`); sent to the frame only. */
  ephemeralKey: string;
  appearance?: Appearance;
  /** @deprecated the 0.x name of `appearance.variables`. */
  style?: Partial<Record<StyleVariable, string>>;
  /** Follow the frame's content height (default true). */
  autoHeight?: boolean;
  /** The iframe's height before the first `resize`, or always if `autoHeight` is false (px). */
  height?: number;
  /** The largest height `resize` may set (px, default 2000). */
  maxHeight?: number;
  /** `error` FRAME_TIMEOUT and a rejected `ready` if the frame is not ready by then (ms, default 20000; 0: never). */
  readyTimeoutMs?: number;
  /** The iframe's accessible title. */
  title?: string;
  /** Called with every event. */
  onEvent?: (event: WidgetEvent) => void;
}

export interface CardRevealOptions extends WidgetOptions {
  /** Mask the values again after this long (1000..600000 ms, default 60000). */
  remaskAfterMs?: number;
}

export type PinFeature = 'set' | 'reveal' | 'verify';
export interface PinOptions extends WidgetOptions {
  /** Which sections to show (default all three). */
  features?: PinFeature[];
  /** Hide a revealed PIN after this long (1000..120000 ms, default 15000). */
  remaskAfterMs?: number;
}

/** A mounted widget. */
export interface WidgetHandle {
  /** The iframe (of the card service's origin). */
  readonly iframe: HTMLIFrameElement;
  /** Resolves on `ready`; rejects with an ElementsError on an error before it, a timeout, or `destroy()`. */
  readonly ready: Promise<void>;
  readonly destroyed: boolean;
  on<K extends WidgetEventName>(event: K, callback: (event: WidgetEvents[K]) => void): this;
  on(event: '*', callback: (event: WidgetEvent) => void): this;
  off<K extends WidgetEventName>(event: K, callback: (event: WidgetEvents[K]) => void): this;
  off(event: '*', callback: (event: WidgetEvent) => void): this;
  /** Removes the iframe and every listener; idempotent. */
  destroy(): void;
}

/** Mounts the card-reveal widget (PAN, expiry, CVV2, copy buttons, re-masking) into `element`. */
export declare function mountCardReveal(element: Element, options: CardRevealOptions): WidgetHandle;
/** Mounts the PIN widget (set, reveal, verify) into `element`. */
export declare function mountPin(element: Element, options: PinOptions): WidgetHandle;
/** @deprecated the former name of `mountPin`. */
export declare const mountSetPin: typeof mountPin;
