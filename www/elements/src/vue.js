// @paysecure/elements/vue: <CardReveal> and <PinWidget> for Vue 3.3+.
// defineComponent + h, no SFC (no build step). Server rendering yields an
// empty <div>: the iframe is mounted in onMounted, which only runs in a
// browser, and destroyed in onBeforeUnmount. A change of any option
// remounts the widget; events are re-emitted under their camelCase names
// (listen with @ready, @revealed, @copy-unavailable, @pin-set, … in templates,
// onCopyUnavailable in render functions).
import { defineComponent, h, onBeforeUnmount, onMounted, ref, watch } from 'vue';
import { mountCardReveal, mountPin } from './index.js';
import { EVENT_NAMES, camelName, pickOptions } from './events.js';

const common = {
  apiOrigin: { type: String, required: true },
  token: { type: String, required: true },
  ephemeralKey: { type: String, required: true },
  appearance: { type: Object, default: undefined },
  autoHeight: { type: Boolean, default: undefined },
  height: { type: Number, default: undefined },
  maxHeight: { type: Number, default: undefined },
  readyTimeoutMs: { type: Number, default: undefined },
  title: { type: String, default: undefined },
  remaskAfterMs: { type: Number, default: undefined },
};

function component(name, mountWidget, extraProps) {
  return defineComponent({
    name,
    props: { ...common, ...extraProps },
    emits: EVENT_NAMES.map(camelName),
    setup(props, { emit, expose }) {
      const container = ref(null);
      let widget = null;
      const mountNow = () => {
        widget?.destroy();
        widget = mountWidget(container.value, { ...pickOptions(props).options, onEvent: (e) => emit(camelName(e.event), e) });
      };
      expose({
        /** The mounted widget's handle (null before mount and after unmount). */
        get widget() {
          return widget;
        },
      });
      onMounted(() => {
        mountNow();
        watch(() => pickOptions(props).key, mountNow);
      });
      onBeforeUnmount(() => {
        widget?.destroy();
        widget = null;
      });
      return () => h('div', { ref: container });
    },
  });
}

/** The card-reveal widget. */
export const CardReveal = component('PaySecureCardReveal', mountCardReveal, {});
/** The PIN widget. */
export const PinWidget = component('PaySecurePinWidget', mountPin, {
  features: { type: Array, default: undefined },
});
