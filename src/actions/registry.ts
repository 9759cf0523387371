import type { Action } from "./types.js";

/**
 * Any action, whatever its input and output types. `any` (not `unknown`) because an
 * Action<I, O> takes I in parameter position: Action<ShellInput, …> is not assignable
 * to Action<unknown, …>. Inputs are checked against the action's JSON Schema before
 * `run` sees them, which is what makes the erasure safe.
 */
export type AnyAction = Action<any, any>;

/** The set of actions a deployment offers. Validation and workers both consult it. */
export class ActionRegistry {
  private readonly actions = new Map<string, Action>();

  constructor(actions: Iterable<AnyAction> = []) {
    for (const a of actions) this.register(a);
  }

  register(action: AnyAction): this {
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
