export interface ChatMessageData {
    id: string;
    user_id: string;
    name: string;
    text: string;
    sent_at: string;
    client_msg_id?: string | null;
    meta?: Record<string, unknown> | null;
    sender_kind?: string | null;
    streamed?: boolean | null;
    stream_ended_by?: string | null;
    incomplete?: boolean | null;
    [key: string]: unknown;
}
export interface RoomStatsData {
    current_users: number;
    peak_users: number;
    total_joins: number;
    message_count: number;
    [key: string]: unknown;
}
export interface CallEndedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "call.ended";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    data: {
        room_id: string;
        call_id: string;
        caller: string;
        callee: string;
        media: string;
        status: string;
        invited_at: string;
        started_at?: string | null;
        ended_at?: string | null;
        duration_seconds?: number | null;
        ended_by?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface CallStartedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "call.started";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    data: {
        room_id: string;
        call_id: string;
        caller: string;
        callee: string;
        media: string;
        status: string;
        invited_at: string;
        started_at?: string | null;
        ended_at?: string | null;
        duration_seconds?: number | null;
        ended_by?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface EndpointTestEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "endpoint.test";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    data: {
        endpoint_id: string;
        message: string;
        [key: string]: unknown;
    };
}
/** The body of every event webhook: a batch of 1..EVENT_BATCH_MAX_EVENTS events, in order per room. Each event is one of docs/events/<type>.schema.json. */
export interface EventBatchBody {
    type: "event.batch";
    /** the timestamp of the batch's last event (a retry sends the same body) */
    timestamp: string;
    data: {
        endpoint_id: string;
        batch_id: string;
        events: Record<string, unknown>[];
    };
}
export interface MemberJoinedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "member.joined";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** member.joined: the session as it starts (the session's item as it is: left_at, duration_seconds and end_reason are null until it ends). */
    data: {
        room_id: string;
        user_id: string;
        name: string;
        connection_id: string;
        session_id: string;
        joined_at: string;
        left_at?: null;
        duration_seconds?: null;
        end_reason?: null;
        [key: string]: unknown;
    };
}
export interface MemberLeftEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "member.left";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** member.left: the session as it ended. */
    data: {
        room_id: string;
        user_id: string;
        name: string;
        connection_id: string;
        session_id: string;
        joined_at: string;
        left_at: string;
        duration_seconds: number;
        end_reason: "leave" | "disconnect" | "gone" | "expired" | "room_closed" | "kicked" | "banned" | "removed";
        [key: string]: unknown;
    };
}
export interface MessageCreatedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "message.created";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    data: {
        room_id: string;
        message: ChatMessageData;
        [key: string]: unknown;
    };
}
export interface MessageDeletedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "message.deleted";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        message_id: string;
        [key: string]: unknown;
    };
}
export interface MessageOfflineEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "message.offline";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** A message in a members-only room and the listed members who had no connection in the room when it was processed (for push notifications). */
    data: {
        room_id: string;
        message: ChatMessageData;
        offline_user_ids: string[];
        offline_truncated: boolean;
        [key: string]: unknown;
    };
}
export interface ModerationBannedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.banned";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** A recorded act (MODLOG#): who did what to whom, when; `until` for a ban or mute that ends, `reason` when one was given. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationKickedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.kicked";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** A recorded act (MODLOG#): who did what to whom, when; `until` for a ban or mute that ends, `reason` when one was given. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationMemberAddedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.member_added";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** moderation.member_added / role_changed: the role the user has on the room's list now. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        role: "member" | "moderator" | "admin";
        [key: string]: unknown;
    };
}
export interface ModerationMemberRemovedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.member_removed";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** A recorded act (MODLOG#): who did what to whom, when; `until` for a ban or mute that ends, `reason` when one was given. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationMutedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.muted";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** A recorded act (MODLOG#): who did what to whom, when; `until` for a ban or mute that ends, `reason` when one was given. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationRoleChangedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.role_changed";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** moderation.member_added / role_changed: the role the user has on the room's list now. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        role: "member" | "moderator" | "admin";
        [key: string]: unknown;
    };
}
export interface ModerationUnbannedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.unbanned";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** A recorded act (MODLOG#): who did what to whom, when; `until` for a ban or mute that ends, `reason` when one was given. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationUnmutedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.unmuted";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** A recorded act (MODLOG#): who did what to whom, when; `until` for a ban or mute that ends, `reason` when one was given. */
    data: {
        room_id: string;
        act: string;
        by: string;
        target_user: string;
        at: string;
        until?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface RoomClosedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "room.closed";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** room.closed: the room.closed webhook's fields (docs/webhooks.md, Payload); an endpoint gets the room and its stats, the histories travel to the room's callback_url. */
    data: {
        room_id: string;
        name: string;
        admin_user_ids: string[];
        metadata: Record<string, unknown>;
        start_time: string;
        end_time: string | null;
        closed_by: string | null;
        stats: RoomStatsData;
        chat_history?: Record<string, unknown>[] | null;
        session_history?: Record<string, unknown>[] | null;
        call_history?: Record<string, unknown>[] | null;
        [key: string]: unknown;
    };
}
export interface RoomCreatedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "room.created";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    data: {
        room_id: string;
        name: string;
        admin_user_ids: string[];
        metadata: Record<string, unknown>;
        created_at: string;
        [key: string]: unknown;
    };
}
export interface UserOfflineEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "user.offline";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    data: {
        user_id: string;
        name?: string | null;
        connection_id: string;
        at: string;
        reason: "disconnect" | "expired";
        [key: string]: unknown;
    };
}
export interface UserOnlineEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "user.online";
    /** When the change happened, RFC 3339 in UTC with milliseconds: the time the written item carries (room.created: created_at; room.closed: closed_at; message.created/offline: the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: started_at/ended_at; moderation and message.deleted: the act's at), else when the write committed (the stream record's creation time: user.online/offline). endpoint.test: when it was sent. Not when the batch was sent: that is the batch's own timestamp. */
    timestamp: string;
    /** user.online: a connection opened (name: the token's, when it has one). */
    data: {
        user_id: string;
        name?: string | null;
        connection_id: string;
        at: string;
        [key: string]: unknown;
    };
}
/** Any webhook event, told apart by `type`. */
export type WebhookEvent = CallEndedEvent | CallStartedEvent | EndpointTestEvent | MemberJoinedEvent | MemberLeftEvent | MessageCreatedEvent | MessageDeletedEvent | MessageOfflineEvent | ModerationBannedEvent | ModerationKickedEvent | ModerationMemberAddedEvent | ModerationMemberRemovedEvent | ModerationMutedEvent | ModerationRoleChangedEvent | ModerationUnbannedEvent | ModerationUnmutedEvent | RoomClosedEvent | RoomCreatedEvent | UserOfflineEvent | UserOnlineEvent;
