// The sign-in screens' form: a title, fields, an error line, one button.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

import { errorMessage } from "../auth";
import type { Step } from "../auth";

export function Form(props: {
  title: string;
  submit: string;
  step?: Step;
  children: ComponentChildren;
  onSubmit: (f: HTMLFormElement) => Promise<void>;
}) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    ref.current?.querySelector<HTMLInputElement>("input")?.focus();
  }, [props.title]);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setError("");
    setBusy(true);
    try {
      await props.onSubmit(ev.currentTarget as HTMLFormElement);
    } catch (e) {
      setError(errorMessage(e, props.step));
    } finally {
      if (ref.current?.isConnected) setBusy(false);
    }
  };
  return (
    <form class="signin" aria-label={props.title} onSubmit={submit} ref={ref}>
      <h1>{props.title}</h1>
      {props.children}
      <p class="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={busy}>
        {props.submit}
      </button>
    </form>
  );
}

export function Field(props: { label: string; name: string; type?: "text" | "password"; autocomplete?: string }) {
  const id = `f-${props.name}`;
  return (
    <>
      <label for={id}>{props.label}</label>
      {props.type === "password" ? (
        <input id={id} name={props.name} type="password" autocomplete={props.autocomplete ?? "off"} required />
      ) : (
        <input id={id} name={props.name} type="text" autocomplete={props.autocomplete ?? "off"} required />
      )}
    </>
  );
}

export function value(f: HTMLFormElement, name: string): string {
  return (f.elements.namedItem(name) as HTMLInputElement).value;
}
