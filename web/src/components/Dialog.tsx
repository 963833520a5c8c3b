// A modal dialog (the browser's own <dialog>, shown with showModal): it takes the focus, keeps
// it inside (the page behind is inert; Tab goes round the dialog's controls), closes on Escape
// and gives the focus back to what had it before. On a phone it sits at the bottom, in thumb
// reach.

import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";

const FOCUSABLE = "button:not([disabled]), input:not([disabled]), textarea:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])";

export function Dialog(props: {
  label: string;
  onClose: () => void;
  class?: string;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;
  /** Closed because the state said so: its close event is not news. */
  const gone = useRef(false);
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return undefined;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    d.showModal();
    return () => {
      gone.current = true;
      if (d.open) d.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  const keydown = (ev: KeyboardEvent) => {
    if (ev.key !== "Tab") return;
    const all = [...(ref.current?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? [])].filter((el) => el.offsetParent !== null);
    if (!all.length) return;
    const first = all[0];
    const last = all[all.length - 1];
    if (ev.shiftKey && document.activeElement === first) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && document.activeElement === last) {
      ev.preventDefault();
      first.focus();
    }
  };
  return (
    <dialog
      ref={ref}
      class={`sheet${props.class ? ` ${props.class}` : ""}`}
      aria-label={props.label}
      onKeyDown={keydown}
      // Escape: closed through the state, like the close button.
      onCancel={(ev) => {
        ev.preventDefault();
        onClose.current();
      }}
      onClose={() => gone.current || onClose.current()}
    >
      {props.children}
    </dialog>
  );
}
