// A component redrawn only when its props change (what preact/compat's memo does, without
// pulling in the React compatibility layer).

import { Component, createElement } from "preact";
import type { FunctionComponent } from "preact";

import { shallowEqual } from "../store";

export function memo<P extends object>(render: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    shouldComponentUpdate(next: P): boolean {
      return !shallowEqual(this.props, next);
    }
    render() {
      return createElement(render, this.props);
    }
  }
  return Memo as unknown as FunctionComponent<P>;
}
