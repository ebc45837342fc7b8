// Errors the client rejects with and emits. Server codes: ErrorCode (generated from
// roomcast.errors); client codes: ClientErrorCode.
/** An error frame from the server, or a client-side failure (timeout, disconnected, ...). */
export class RoomcastError extends Error {
    code;
    requestId;
    /** The server's error frame, when there was one. */
    frame;
    /** The HTTP status of a refused handshake, when the WebSocket implementation tells it. */
    status;
    constructor(code, message, options = {}) {
        super(message);
        this.name = "RoomcastError";
        this.code = code;
        this.requestId = options.requestId ?? null;
        this.frame = options.frame ?? null;
        this.status = options.status ?? null;
    }
}
/**
 * The connection is not authorized: the handshake was refused 401/403 twice in a row
 * (with a fresh token in between), or `getToken` threw it. The client stops reconnecting.
 * Throw it from `getToken` when your backend refuses to mint a token (a logged-out or
 * blocked user), as with centrifuge-js's UnauthorizedError.
 */
export class UnauthorizedError extends RoomcastError {
    constructor(message = "not authorized", status = null) {
        super("unauthorized", message, { status });
        this.name = "UnauthorizedError";
    }
}
