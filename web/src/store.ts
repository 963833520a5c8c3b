// A small state store: one immutable state object, replaced by `update`, and components that
// subscribe to the part they show (`useStore(selector)`), re-rendering only when it changes.

import { useEffect, useLayoutEffect, useReducer, useRef } from "preact/hooks";

type Listener = () => void;

export interface Store<S> {
  get(): S;
  /** Replaces part of the state; listeners run once per call. */
  update(change: Partial<S> | ((s: S) => Partial<S>)): void;
  subscribe(listener: Listener): () => void;
}

export function createStore<S extends object>(initial: S): Store<S> {
  let state = initial;
  const listeners = new Set<Listener>();
  return {
    get: () => state,
    update(change) {
      const part = typeof change === "function" ? change(state) : change;
      let changed = false;
      for (const key of Object.keys(part) as (keyof S)[]) {
        if (!Object.is(state[key], part[key])) changed = true;
      }
      if (!changed) return;
      state = { ...state, ...part };
      for (const l of [...listeners]) l();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Equal when identical, or arrays/plain objects whose members are identical. */
export function shallowEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The selected part of the store's state; the component re-renders when it changes. */
export function useSelector<S, T>(store: Store<S>, select: (s: S) => T): T {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const selected = select(store.get());
  const latest = useRef({ select, selected });
  useLayoutEffect(() => {
    latest.current = { select, selected };
  });
  useEffect(() => {
    const check = () => {
      let next: T;
      try {
        next = latest.current.select(store.get());
      } catch {
        // A component about to go (its conversation closed at sign-out, say) selecting what is
        // gone: redrawn (and so removed, or its error shown), never breaking the update itself.
        rerender(0);
        return;
      }
      if (!shallowEqual(next, latest.current.selected)) rerender(0);
    };
    check();
    return store.subscribe(check);
  }, [store]);
  return selected;
}
