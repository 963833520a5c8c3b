// A message that asks: urgent or emergency (a badge with a sign and the word, never colour
// alone), or routine with quick responses. Its text is without the server's "[URGENT]" and
// "React 1️⃣ …" (messagetext.ts); below it, for those it was sent to, the answers to choose
// (AnswerBox), and for its sender who has answered what and the escalation (AskTally).

import { AnswerBox } from "../components/AnswerBox";
import { AskTally } from "../components/AskTally";
import { PriorityBadge } from "../components/PriorityBadge";
import { messageText } from "../messagetext";
import { askOf, levelOf } from "../priority";
import { Text } from "./text";
import type { Renderer } from "./types";

export const priorityRenderer: Renderer = {
  view: ({ item, preview }) => {
    const level = levelOf(item.content);
    const ask = askOf(item.content);
    return (
      <div class={`priority-msg ${level}`}>
        {level !== "routine" && <PriorityBadge level={level} />}
        <div class="text">
          <Text content={item.content} />
        </div>
        {!preview && ask && !item.redacted && (item.mine ? <AskTally item={item} ask={ask} /> : <AnswerBox item={item} ask={ask} />)}
      </div>
    );
  },
  preview: (c) => {
    const level = levelOf(c);
    const text = messageText(c).text;
    return level === "emergency" ? `EMERGENCY: ${text}` : level === "urgent" ? `Urgent: ${text}` : text;
  },
};
