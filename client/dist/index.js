// @roomcast/client: the browser client for roomcast (docs/protocol.md).
//
//   const client = new RoomcastClient({ url, getToken });
//   await client.connect();
//   const room = client.room("standup");
//   room.on("message", ({ message }) => show(message));
//   await room.join();
//   await room.send("Good morning!");
export { MAX_FRAME_BYTES, MAX_HISTORY_LIMIT, PROTOCOL, RoomcastClient, newClientMsgId, } from "./client.js";
export { Room, } from "./room.js";
export { RoomcastError, UnauthorizedError } from "./errors.js";
export { Emitter } from "./emitter.js";
export { CallManager, DATA_CHANNEL_LABEL, newCallId, } from "./calls.js";
