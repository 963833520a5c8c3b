// An answer to a message that asks (`org.wardline.response`): its text is the option's label
// and the reason; drawn as an answer, with a link to the message it answers.

import { ToMessage } from "../components/ToMessage";
import { messageText } from "../messagetext";
import { responseOf } from "../priority";
import { Text } from "./text";
import type { Renderer } from "./types";

export const responseRenderer: Renderer = {
  view: ({ item, preview }) => {
    const r = responseOf(item.content);
    return (
      <div class="text answer-text">
        <span class="answer-label">Answer: </span>
        <Text content={item.content} />
        {r && !preview && <ToMessage eventId={r.to} label="Show the message" />}
      </div>
    );
  },
  preview: (c) => `Answer: ${messageText(c).text}`,
};
