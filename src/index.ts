/**
 * The Probot app. Probot verifies each delivery's signature; the app then only
 * records the delivery in the queue (src/store/deliveries.ts) and lets Probot
 * answer, so GitHub hears back in milliseconds whatever the handlers cost.
 * Processors (src/server/delivery-processor.ts) take it from there: pull request
 * and review events re-evaluate the plan and policy checks; a merge re-verifies
 * the approvals and starts the run (src/github/handlers/process-delivery.ts).
 * A delivery id is recorded once: GitHub's redelivery of it changes nothing
 * unless the first copy ended dead.
 */
import type { ApplicationFunction } from "probot";
import { classifyDelivery, installationOf, orderingKey, pullRequestOf } from "./github/app-event.js";
import { isDeliveryId } from "./github/delivery-id.js";
import { resolveDeps, type AppDepsSource } from "./github/handlers/deps.js";
import { recordDelivery, type RecordOutcome } from "./store/deliveries.js";

export type { AppDeps, AppDepsSource } from "./github/handlers/deps.js";

export const EVENTS = [
  "pull_request.opened",
  "pull_request.reopened",
  "pull_request.synchronize",
  "pull_request.edited",
  "pull_request.labeled",
  "pull_request.unlabeled",
  "pull_request.ready_for_review",
  "pull_request.closed",
  "pull_request_review.submitted",
  "pull_request_review.edited",
  "pull_request_review.dismissed",
  "check_run.requested_action",
  "check_run.rerequested",
  "check_suite.rerequested",
] as const;

export interface AppHooks {
  /** A delivery was recorded (or found already recorded): the local processor may look at once. */
  recorded?: (outcome: RecordOutcome, event: string) => void;
}

export function clutchLuigiApp(source: AppDepsSource, hooks: AppHooks = {}): ApplicationFunction {
  return (app) => {
    app.on([...EVENTS], async (context) => {
      if (!isDeliveryId(context.id)) {
        context.log.warn("delivery without a usable X-GitHub-Delivery id: ignored");
        return;
      }
      const deps = await resolveDeps(source);
      const payload: unknown = context.payload;
      const action = typeof context.payload.action === "string" ? context.payload.action : null;
      const event = classifyDelivery(context.name, payload);
      const pr = pullRequestOf(event);
      // A failure here (the database is down) is thrown: Probot answers 500 and GitHub shows the delivery as failed, to redeliver.
      const outcome = await recordDelivery(deps.store.db, {
        id: context.id,
        event: context.name,
        action,
        installationId: installationOf(payload),
        repository: pr?.repository ?? null,
        pullNumber: pr?.pullNumber ?? null,
        orderingKey: orderingKey(event),
        payload,
      });
      if (outcome === "duplicate") context.log.info({ delivery: context.id }, "delivery already recorded: ignored");
      hooks.recorded?.(outcome, `${context.name}.${action ?? ""}`);
    });
  };
}
