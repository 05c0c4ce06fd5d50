// Types of @paysecure/elements/testing.
import type { Appearance, CardField, ErrorCode, PinFeature, WidgetEvent } from './index.js';

export interface MockIssuerOptions {
  /** The origin to stand in for (default https://cards.mock.invalid); pass it as `apiOrigin`. */
  origin?: string;
  /** Answer init with `ready` and `resize` (default true). */
  autoReady?: boolean;
  /** The reveal widget reveals after `ready`, as the real one does (default true). */
  autoReveal?: boolean;
  /** The height the frames report (px, default 240). */
  height?: number;
  /** Reveal and setPin fail with this code. */
  failWith?: ErrorCode;
}

/** What the SDK sent the frame (the secrets included: they are the host's own). */
export interface MockInit {
  channel: string;
  token: string;
  ephemeralKey: string;
  appearance: Required<Appearance>;
  remaskAfterMs?: number;
  features?: PinFeature[];
}

/** One mounted widget, played by the mock. */
export interface MockFrame {
  readonly widget: 'reveal' | 'pin';
  readonly iframe: HTMLIFrameElement;
  readonly init: MockInit;
  readonly origin: string;
  /** False once the SDK destroyed the widget. */
  readonly connected: boolean;
  /** Every event sent, in order. */
  readonly sent: WidgetEvent[];
  readonly state: 'masked' | 'revealed';
  /** Sends any event with any fields (to test what the SDK does with unexpected ones too). */
  emit(event: string, detail?: Record<string, unknown>): this;
  reveal(): this;
  hide(reason?: 'user' | 'timeout'): this;
  copy(field?: CardField, available?: boolean): this;
  setPin(): this;
  verify(right: boolean, triesRemaining?: number): this;
  error(code: ErrorCode): this;
  resize(height: number): this;
}

export interface MockIssuer {
  readonly origin: string;
  /** A well-formed ephemeral key and token for tests. */
  readonly ephemeralKey: string;
  readonly token: string;
  failWith: ErrorCode | null;
  readonly frames: MockFrame[];
  readonly mounted: MockFrame[];
  /** Init messages that failed the frame's checks. */
  readonly rejected: { widget: 'reveal' | 'pin'; token: string }[];
  install(): this;
  uninstall(): void;
  /** The next mounted frame not yet returned by nextFrame(). */
  nextFrame(): Promise<MockFrame>;
}

export declare function createMockIssuer(options?: MockIssuerOptions): MockIssuer;
