/**
 * LISTEN for new deliveries on a shared Postgres server, so an idle processor in
 * any replica starts on a delivery another replica received without waiting for
 * its next poll. Best effort: a lost connection is re-made on the next poll, and
 * polling covers the gap. The embedded database is one process, which wakes its
 * own processor directly.
 */
import pg from "pg";
import type { Store } from "./db.js";
import { DELIVERY_CHANNEL } from "./deliveries.js";

export interface DeliveryListener {
  /** Connects (again) if not connected; cheap when it is. */
  ensure(): Promise<void>;
  close(): Promise<void>;
}

export function listenForDeliveries(store: Store, onNotify: () => void): DeliveryListener {
  let client: pg.Client | null = null;
  let connecting: Promise<void> | null = null;
  let closed = false;
  const drop = (c: pg.Client): void => {
    if (client === c) client = null;
    c.end().catch(() => undefined);
  };
  return {
    ensure() {
      if (closed || store.backend !== "pg" || !store.databaseUrl || client) return Promise.resolve();
      connecting ??= (async () => {
        const c = new pg.Client({ connectionString: store.databaseUrl, application_name: "clutch-luigi-deliveries", keepAlive: true });
        c.on("notification", () => onNotify());
        c.on("error", () => drop(c));
        try {
          await c.connect();
          await c.query(`listen ${DELIVERY_CHANNEL}`);
          if (closed) drop(c);
          else client = c;
        } catch {
          drop(c);
        }
      })().finally(() => (connecting = null));
      return connecting;
    },
    async close() {
      closed = true;
      await connecting;
      if (client) drop(client);
    },
  };
}
