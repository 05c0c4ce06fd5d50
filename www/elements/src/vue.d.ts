// Types of @paysecure/elements/vue.
import type { DefineSetupFnComponent } from 'vue';
import type { CardRevealOptions, PinOptions, WidgetEvents, WidgetHandle } from './index.js';

/** 'copy-unavailable' -> 'copyUnavailable'. */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
/** The emits: each event under its camelCase name (`@copy-unavailable` in templates), with its payload. */
export type WidgetEmits = { [K in keyof WidgetEvents as Camel<K>]: (event: WidgetEvents[K]) => void };

export type CardRevealProps = Omit<CardRevealOptions, 'onEvent' | 'style'>;
export type PinWidgetProps = Omit<PinOptions, 'onEvent' | 'style'>;

/** What a template ref exposes. */
export interface WidgetExposed {
  /** The mounted widget's handle (null before mount and after unmount). */
  readonly widget: WidgetHandle | null;
}

/** The card-reveal widget (`@ready`, `@revealed`, `@copied`, `@copy-unavailable`, `@hidden`, `@resize`, `@error`). */
export declare const CardReveal: DefineSetupFnComponent<CardRevealProps, WidgetEmits>;
/** The PIN widget (`@ready`, `@pin-set`, `@pin-refused`, `@verified`, `@blocked`, `@resize`, `@error`, …). */
export declare const PinWidget: DefineSetupFnComponent<PinWidgetProps, WidgetEmits>;
