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
    timestamp: string;
    data: {
        room_id: string;
        user_id: string;
        name: string;
        connection_id: string;
        session_id: string;
        joined_at: string;
        left_at?: string | null;
        duration_seconds?: number | null;
        end_reason?: string | null;
        [key: string]: unknown;
    };
}
export interface MemberLeftEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "member.left";
    timestamp: string;
    data: {
        room_id: string;
        user_id: string;
        name: string;
        connection_id: string;
        session_id: string;
        joined_at: string;
        left_at?: string | null;
        duration_seconds?: number | null;
        end_reason?: string | null;
        [key: string]: unknown;
    };
}
export interface MessageCreatedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "message.created";
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
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface MessageOfflineEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "message.offline";
    timestamp: string;
    /** A message in a members-only room and the listed members who had no connection in the room when it was processed (for push notifications). */
    data: {
        room_id: string;
        message: ChatMessageData;
        offline_user_ids: string[];
        offline_truncated?: boolean;
        [key: string]: unknown;
    };
}
export interface ModerationBannedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.banned";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationKickedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.kicked";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationMemberAddedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.member_added";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationMemberRemovedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.member_removed";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationMutedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.muted";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationRoleChangedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.role_changed";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationUnbannedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.unbanned";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface ModerationUnmutedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "moderation.unmuted";
    timestamp: string;
    data: {
        room_id: string;
        act: string;
        by?: string | null;
        target_user?: string | null;
        at?: string | null;
        until?: string | null;
        message_id?: string | null;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface RoomClosedEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "room.closed";
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
    timestamp: string;
    data: {
        user_id: string;
        name?: string | null;
        connection_id: string;
        at: string;
        reason?: string | null;
        [key: string]: unknown;
    };
}
export interface UserOnlineEvent {
    /** the event's id: dedupe on it */
    id: string;
    type: "user.online";
    timestamp: string;
    data: {
        user_id: string;
        name?: string | null;
        connection_id: string;
        at: string;
        reason?: string | null;
        [key: string]: unknown;
    };
}
/** Any webhook event, told apart by `type`. */
export type WebhookEvent = CallEndedEvent | CallStartedEvent | EndpointTestEvent | MemberJoinedEvent | MemberLeftEvent | MessageCreatedEvent | MessageDeletedEvent | MessageOfflineEvent | ModerationBannedEvent | ModerationKickedEvent | ModerationMemberAddedEvent | ModerationMemberRemovedEvent | ModerationMutedEvent | ModerationRoleChangedEvent | ModerationUnbannedEvent | ModerationUnmutedEvent | RoomClosedEvent | RoomCreatedEvent | UserOfflineEvent | UserOnlineEvent;
