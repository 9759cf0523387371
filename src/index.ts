/**
 * The Probot app: pull request and review events re-evaluate the plan and
 * policy checks; a merge re-verifies the approvals and starts the run. Each
 * delivery id is handled to completion at most once (see handlers/deliveries.ts).
 */
import type { ApplicationFunction, Context } from "probot";
import type { GitHubClient } from "./github/client.js";
import { ConditionalCache } from "./github/conditional-cache.js";
import { pullRequestTarget } from "./github/event.js";
import { beginDelivery, completeDelivery, isDeliveryId } from "./github/handlers/deliveries.js";
import { resolveDeps, type AppDeps, type AppDepsSource } from "./github/handlers/deps.js";
import { evaluateAndPublish } from "./github/handlers/evaluate-handler.js";
import { handleMerge } from "./github/handlers/merge-handler.js";
import { mergedPullRequest, pullRequestHtmlUrl, senderOf } from "./github/handlers/payload.js";

export type { AppDeps, AppDepsSource } from "./github/handlers/deps.js";

const EVENTS = [
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
] as const;

type AppContext = Context<(typeof EVENTS)[number]>;

async function handle(deps: AppDeps, cache: ConditionalCache, context: AppContext): Promise<void> {
  // Probot's installation Octokit has `request(route, params)`; its overloads are
  // narrower than GitHubClient's string route, so it is viewed through that interface.
  // Its GETs go through the process's ETag cache, scoped to the installation.
  const installation = (context.payload as { installation?: { id?: unknown } }).installation?.id;
  const gh = cache.client(context.octokit as unknown as GitHubClient, `installation:${typeof installation === "number" ? installation : "none"}`);
  const opts = { actor: senderOf(context.payload), ...(pullRequestHtmlUrl(context.payload) ? { detailsUrl: pullRequestHtmlUrl(context.payload)! } : {}) };
  const merged = mergedPullRequest(context.name, context.payload);
  if (merged) {
    const outcome = await handleMerge(deps, gh, merged, opts);
    context.log.info({ pullRequest: merged.pullNumber, outcome: outcome.kind }, "merge handled");
    return;
  }
  const target = pullRequestTarget(context.name, context.payload);
  if (!target) return;
  await evaluateAndPublish(deps, gh, { owner: target.owner, repo: target.repo, pullNumber: target.pullNumber }, opts);
}

export function clutchLuigiApp(source: AppDepsSource, opts: { cache?: ConditionalCache } = {}): ApplicationFunction {
  // One per process: every delivery's reads are revalidated against the answers earlier ones got.
  const cache = opts.cache ?? new ConditionalCache();
  return (app) => {
    app.on([...EVENTS], async (context) => {
      const deps = await resolveDeps(source);
      if (!isDeliveryId(context.id)) {
        context.log.warn("delivery without a usable X-GitHub-Delivery id: ignored");
        return;
      }
      if (!(await beginDelivery(deps.store.db, context.id, `${context.name}.${String(context.payload.action)}`))) {
        context.log.info({ delivery: context.id }, "delivery already handled: ignored");
        return;
      }
      try {
        await handle(deps, cache, context);
      } catch (e) {
        // The delivery stays open, so GitHub's redelivery retries it. Rethrown without
        // the GitHub API's own status: the webhook answer is 500 (our failure), not,
        // say, a 422 that reads as "GitHub sent a bad payload".
        throw new Error(`${context.name} delivery ${context.id} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      await completeDelivery(deps.store.db, context.id);
    });
  };
}
