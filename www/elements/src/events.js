// The callback prop / emit name of each widget event, shared by the React and
// Vue components.

/** Every event name the widgets emit. */
export const EVENT_NAMES = [
  'ready', 'revealed', 'copied', 'copy-unavailable', 'hidden', 'pin-set', 'pin-refused',
  'pin-revealed', 'pin-hidden', 'verified', 'blocked', 'resize', 'error',
];

/** 'copy-unavailable' -> 'copyUnavailable' (Vue's emit names). */
export const camelName = (event) => event.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

/** 'copy-unavailable' -> 'onCopyUnavailable' (React's callback props). */
export const callbackName = (event) => 'on' + camelName(event).replace(/^[a-z]/, (c) => c.toUpperCase());

/** The options of a widget (everything but callbacks), in a stable order. */
export const OPTION_NAMES = [
  'apiOrigin', 'token', 'ephemeralKey', 'appearance', 'autoHeight', 'height', 'maxHeight',
  'readyTimeoutMs', 'title', 'remaskAfterMs', 'features',
];

/** The options found in `props`, and a key that changes when one of them does. */
export function pickOptions(props) {
  const options = {};
  for (const name of OPTION_NAMES) if (props[name] !== undefined) options[name] = props[name];
  return { options, key: JSON.stringify(options) };
}
