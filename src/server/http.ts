/**
 * The app's HTTP surface: health, metrics, and the API (JWKS, run status, callbacks).
 * Plain node:http so the Probot webhook middleware can be mounted in front of it
 * without a framework in between.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Knex } from "knex";
import { createApiHandler, type ApiOptions } from "../api/index.js";
import { sendJson } from "../api/http.js";
import { pingDatabase } from "../store/db.js";
import type { AppMetrics } from "./metrics.js";

export type Middleware = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface HttpOptions extends ApiOptions {
  db: Knex;
  metrics: AppMetrics;
  /** Tried first (e.g. Probot's webhook middleware); resolves true when it answered. */
  before?: Middleware[];
}

export function createHttpServer(opts: HttpOptions): Server {
  const api = createApiHandler(opts);
  const handlers: Middleware[] = [...(opts.before ?? []), api];
  return createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      try {
        if (path === "/healthz") {
          // Healthy means able to do the work: the database answers.
          await pingDatabase(opts.db);
          return sendJson(res, 200, { status: "ok" });
        }
        if (path === "/metrics") {
          const text = await opts.metrics.render();
          res.writeHead(200, { "content-type": opts.metrics.contentType });
          return void res.end(text);
        }
        for (const h of handlers) if (await h(req, res)) return;
        sendJson(res, 404, { error: "not found" });
      } catch (e) {
        opts.onError?.(e);
        if (path === "/healthz" && !res.headersSent) return sendJson(res, 503, { status: "unavailable" });
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.destroy();
      }
    })();
  });
}
