// One message: who, the content (drawn by its kind's renderer), when, and for my own messages
// what happened to it.

import { rendererFor } from "../renderers";
import type { TimelineItem } from "../state";
import { clockTime } from "../time";
import { memo } from "./memo";
import { MessageStatus } from "./MessageStatus";
import { Presence } from "./Presence";

export const Message = memo(function Message({ item }: { item: TimelineItem }) {
  const View = rendererFor(item.type, item.content, item.redacted).view;
  return (
    <article
      class={`msg${item.mine ? " mine" : ""}`}
      data-event={item.eventId ?? ""}
      data-key={item.key}
      data-seen={!item.mine && item.eventId ? item.eventId : undefined}
    >
      {!item.mine && (
        <div class="who">
          <Presence userId={item.sender} />
          {item.senderName}
        </div>
      )}
      <div class="body">
        <View item={item} />
      </div>
      <div class="meta">
        <time dateTime={new Date(item.ts).toISOString()}>{clockTime(item.ts)}</time>
        {item.mine && <MessageStatus item={item} />}
      </div>
    </article>
  );
});
