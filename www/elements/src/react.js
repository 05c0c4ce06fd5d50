// @paysecure/elements/react: <CardReveal> and <PinWidget> for React 18 and 19.
// No JSX (no build step). Rendering, on the server too, yields an empty <div>;
// the iframe is mounted in an effect, so nothing touches `window` before the
// component is in a browser. Each effect run mounts one widget and its
// cleanup destroys it: StrictMode's mount / unmount / mount leaves exactly one
// iframe and one message listener.
import { createElement, forwardRef, useEffect, useRef } from 'react';
import { mountCardReveal, mountPin } from './index.js';
import { EVENT_NAMES, callbackName, pickOptions } from './events.js';

function setRef(ref, value) {
  if (typeof ref === 'function') ref(value);
  else if (ref) ref.current = value;
}

function component(displayName, mountWidget) {
  const Widget = forwardRef(function Widget(props, ref) {
    const container = useRef(null);
    // The latest callbacks, read when an event arrives: a new onX function
    // on each render does not remount the widget.
    const latest = useRef(props);
    latest.current = props;
    // Likewise the ref: an inline callback ref is a new function on every
    // render, and must not remount the widget.
    const latestRef = useRef(ref);
    latestRef.current = ref;
    const { options, key } = pickOptions(props);
    useEffect(() => {
      const widget = mountWidget(container.current, {
        ...options,
        onEvent: (e) => {
          const p = latest.current;
          if (typeof p.onEvent === 'function') p.onEvent(e);
          const cb = p[callbackName(e.event)];
          if (typeof cb === 'function') cb(e);
        },
      });
      const target = latestRef.current;
      setRef(target, widget);
      return () => {
        setRef(target, null);
        widget.destroy();
      };
      // `key` stands for the options: remount only when one of them changes.
      // eslint-disable-next-line react-hooks/exhaustive-deps
    }, [key]);
    return createElement('div', { ref: container, id: props.id, className: props.className, style: props.style });
  });
  Widget.displayName = displayName;
  return Widget;
}

/** The card-reveal widget. Props: the mountCardReveal options, onReady/onRevealed/…/onError, id, className, style. */
export const CardReveal = component('CardReveal', mountCardReveal);
/** The PIN widget. Props: the mountPin options, onReady/onPinSet/onVerified/…/onError, id, className, style. */
export const PinWidget = component('PinWidget', mountPin);
/** Every callback prop name, e.g. 'onCopyUnavailable'. */
export const CALLBACK_PROPS = EVENT_NAMES.map(callbackName);
