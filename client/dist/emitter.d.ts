export declare class Emitter<M extends object> extends EventTarget {
    /** Listen to `type`; returns the function that removes the listener. */
    on<K extends keyof M & string>(type: K, listener: (detail: M[K]) => void): () => void;
    /** Listen to the next `type` only. */
    once<K extends keyof M & string>(type: K, listener: (detail: M[K]) => void): () => void;
    protected emit<K extends keyof M & string>(type: K, detail: M[K]): void;
}
