import type { Action } from "./types.js";

/** The set of actions a deployment offers. Validation and workers both consult it. */
export class ActionRegistry {
  private readonly actions = new Map<string, Action>();

  constructor(actions: Iterable<Action<any, any>> = []) {
    for (const a of actions) this.register(a);
  }

  register(action: Action<any, any>): this {
    if (this.actions.has(action.name)) throw new Error(`action "${action.name}" is registered twice`);
    this.actions.set(action.name, action as Action);
    return this;
  }

  get(name: string): Action | undefined {
    return this.actions.get(name);
  }

  has(name: string): boolean {
    return this.actions.has(name);
  }

  names(): string[] {
    return [...this.actions.keys()].sort();
  }

  all(): Action[] {
    return [...this.actions.values()];
  }
}
