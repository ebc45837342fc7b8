export { MAX_FRAME_BYTES, MAX_HISTORY_LIMIT, PROTOCOL, RoomcastClient, newClientMsgId, type ClientEventMap, type ConnectionState, type ConnectionStateDetail, type ReconnectOptions, type RequestOptions, type RoomcastClientOptions, type WebSocketLike, } from "./client.js";
export { Room, type MuteInfo, type RoomEventMap, type RoomReason, type RoomState, type RoomStateDetail, type StreamUpdate, type SyntheticClosed, type SyntheticKicked, type SyntheticMuted, type Typer, } from "./room.js";
export { RoomcastError, UnauthorizedError, type ClientErrorCode } from "./errors.js";
export { Emitter } from "./emitter.js";
export { CallManager, DATA_CHANNEL_LABEL, newCallId, type Call, type CallManagerEventMap, type CallManagerOptions, type CallMedia, type CallState, type CallStateDetail, } from "./calls.js";
export type * from "./wire.js";
