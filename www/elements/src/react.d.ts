// Types of @paysecure/elements/react.
import type { CSSProperties, ForwardRefExoticComponent, RefAttributes } from 'react';
import type { CardRevealOptions, PinOptions, WidgetEvent, WidgetEvents, WidgetHandle } from './index.js';

/** The callback props: one per event, `onX` for event `x` (`onCopyUnavailable` for 'copy-unavailable'). */
export interface WidgetCallbacks {
  onReady?: (event: WidgetEvents['ready']) => void;
  onRevealed?: (event: WidgetEvents['revealed']) => void;
  onCopied?: (event: WidgetEvents['copied']) => void;
  onCopyUnavailable?: (event: WidgetEvents['copy-unavailable']) => void;
  onHidden?: (event: WidgetEvents['hidden']) => void;
  onPinSet?: (event: WidgetEvents['pin-set']) => void;
  onPinRefused?: (event: WidgetEvents['pin-refused']) => void;
  onPinRevealed?: (event: WidgetEvents['pin-revealed']) => void;
  onPinHidden?: (event: WidgetEvents['pin-hidden']) => void;
  onVerified?: (event: WidgetEvents['verified']) => void;
  onBlocked?: (event: WidgetEvents['blocked']) => void;
  onResize?: (event: WidgetEvents['resize']) => void;
  onError?: (event: WidgetEvents['error']) => void;
  /** Every event. */
  onEvent?: (event: WidgetEvent) => void;
}

/** The container <div>'s own props. */
export interface ContainerProps {
  id?: string;
  className?: string;
  style?: CSSProperties;
}

export type CardRevealProps = Omit<CardRevealOptions, 'onEvent' | 'style'> & WidgetCallbacks & ContainerProps;
export type PinWidgetProps = Omit<PinOptions, 'onEvent' | 'style'> & WidgetCallbacks & ContainerProps;

/** The card-reveal widget; `ref` receives the mounted widget's handle (null when unmounted). */
export declare const CardReveal: ForwardRefExoticComponent<CardRevealProps & RefAttributes<WidgetHandle | null>>;
/** The PIN widget; `ref` receives the mounted widget's handle (null when unmounted). */
export declare const PinWidget: ForwardRefExoticComponent<PinWidgetProps & RefAttributes<WidgetHandle | null>>;
/** Every callback prop name. */
export declare const CALLBACK_PROPS: readonly (keyof WidgetCallbacks)[];
