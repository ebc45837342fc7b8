// A typed EventTarget: `on(type, fn)` hands `fn` the event's detail and returns the
// function that stops listening; addEventListener still works with CustomEvents.
export class Emitter extends EventTarget {
    /** Listen to `type`; returns the function that removes the listener. */
    on(type, listener) {
        const wrapped = (event) => listener(event.detail);
        this.addEventListener(type, wrapped);
        return () => this.removeEventListener(type, wrapped);
    }
    /** Listen to the next `type` only. */
    once(type, listener) {
        const off = this.on(type, (detail) => {
            off();
            listener(detail);
        });
        return off;
    }
    emit(type, detail) {
        this.dispatchEvent(new CustomEvent(type, { detail }));
    }
}
