import type { ErrorCode, ErrorFrame } from "./wire.js";
/** Codes the client itself uses (never sent by the server). */
export type ClientErrorCode = "timeout" | "disconnected" | "not_connected" | "connect_failed" | "invalid_argument" | "invalid_frame";
/** An error frame from the server, or a client-side failure (timeout, disconnected, ...). */
export declare class RoomcastError extends Error {
    readonly code: ErrorCode | ClientErrorCode | (string & {});
    readonly requestId: string | null;
    /** The server's error frame, when there was one. */
    readonly frame: ErrorFrame | null;
    /** The HTTP status of a refused handshake, when the WebSocket implementation tells it. */
    readonly status: number | null;
    constructor(code: ErrorCode | ClientErrorCode | (string & {}), message: string, options?: {
        requestId?: string | null;
        frame?: ErrorFrame | null;
        status?: number | null;
    });
}
/**
 * The connection is not authorized: the handshake was refused 401/403 twice in a row
 * (with a fresh token in between), or `getToken` threw it. The client stops reconnecting.
 * Throw it from `getToken` when your backend refuses to mint a token (a logged-out or
 * blocked user), as with centrifuge-js's UnauthorizedError.
 */
export declare class UnauthorizedError extends RoomcastError {
    constructor(message?: string, status?: number | null);
}
