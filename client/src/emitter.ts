// A typed EventTarget: `on(type, fn)` hands `fn` the event's detail and returns the
// function that stops listening; addEventListener still works with CustomEvents.

export class Emitter<M extends object> extends EventTarget {
  /** Listen to `type`; returns the function that removes the listener. */
  on<K extends keyof M & string>(type: K, listener: (detail: M[K]) => void): () => void {
    const wrapped = (event: Event) => listener((event as CustomEvent<M[K]>).detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /** Listen to the next `type` only. */
  once<K extends keyof M & string>(type: K, listener: (detail: M[K]) => void): () => void {
    const off = this.on(type, (detail) => {
      off();
      listener(detail);
    });
    return off;
  }

  protected emit<K extends keyof M & string>(type: K, detail: M[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
