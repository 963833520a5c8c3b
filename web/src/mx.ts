// The parts of matrix-js-sdk the client uses (sync, rooms, receipts, presence, HTTP), imported
// from their own modules rather than the package's index, which also pulls in widgets, calls
// and the rest: a smaller first load. See README (web client) for the measured size.

export { MatrixClient, ClientEvent } from "matrix-js-sdk/lib/client.js";
export { MemoryStore } from "matrix-js-sdk/lib/store/memory.js";
export { SyncState, SetPresence } from "matrix-js-sdk/lib/sync.js";
export { RoomEvent, NotificationCountType } from "matrix-js-sdk/lib/models/room.js";
export { RoomMemberEvent } from "matrix-js-sdk/lib/models/room-member.js";
export { UserEvent } from "matrix-js-sdk/lib/models/user.js";
export { HttpApiEvent } from "matrix-js-sdk/lib/http-api/interface.js";
export { EventType, MsgType } from "matrix-js-sdk/lib/@types/event.js";
export { KnownMembership } from "matrix-js-sdk/lib/@types/membership.js";
export { ReceiptType } from "matrix-js-sdk/lib/@types/read_receipts.js";
export type { MatrixEvent } from "matrix-js-sdk/lib/models/event.js";
export type { Room } from "matrix-js-sdk/lib/models/room.js";
