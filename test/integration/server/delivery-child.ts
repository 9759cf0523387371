/**
 * A replica's delivery processor in its own process, for the kill -9 test: it
 * claims deliveries from DATABASE_URL with a short lease, says which on stdout,
 * and hangs in the "handler" until it is killed.
 */
import { startDeliveryProcessor } from "../../../src/server/delivery-processor.js";
import { openStore } from "../../../src/store/db.js";

const store = await openStore({ databaseUrl: process.env.DATABASE_URL!, migrate: false });
startDeliveryProcessor({
  store,
  owner: `child:${process.pid}`,
  leaseMs: Number(process.env.LEASE_MS ?? 1000),
  pollMs: 20,
  process: async (d) => {
    process.stdout.write(`claimed ${d.id}\n`);
    return new Promise(() => undefined);
  },
});
process.stdout.write("ready\n");
