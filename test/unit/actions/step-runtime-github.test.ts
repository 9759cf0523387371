/** The step runtime's GitHub identity: the app's when its credentials are set, tokenSecret as an override, else none. */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createStepRuntime } from "../../../src/runtime/step-runtime.js";
import type { Store } from "../../../src/store/db.js";

const PEM = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
// Never queried here: building the runtime reads nothing from the store.
const store = {} as Store;
const dir = mkdtempSync(path.join(tmpdir(), "cl-rt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("createStepRuntime: how GitHub steps authenticate", () => {
  it("acts as the app with APP_ID and the key, and never names the key", async () => {
    const rt = await createStepRuntime({ env: { APP_ID: "123", PRIVATE_KEY: PEM }, store });
    expect(rt.githubAuth).toBe("app 123 on each run's installation");
    expect(rt.githubAuth).not.toContain("PRIVATE KEY");
  });

  it("github.tokenSecret overrides the app's credentials", async () => {
    const config = path.join(dir, "server.yaml");
    writeFileSync(config, "secrets:\n  gh: { env: GH_TOKEN }\ngithub: { tokenSecret: gh }\n");
    const rt = await createStepRuntime({ env: { APP_ID: "123", PRIVATE_KEY: PEM, CLUTCH_LUIGI_CONFIG: config, GH_TOKEN: "ghp_x" }, store });
    expect(rt.githubAuth).toBe("github.tokenSecret (gh)");
  });

  it("without either, says what to set", async () => {
    const rt = await createStepRuntime({ env: {}, store });
    expect(rt.githubAuth).toMatch(/no credentials: set APP_ID and PRIVATE_KEY or PRIVATE_KEY_PATH, or github.tokenSecret/);
  });

  it("a key that is set but broken stops the worker at start, not at its first GitHub step", async () => {
    await expect(createStepRuntime({ env: { APP_ID: "123", PRIVATE_KEY: "garbage" }, store })).rejects.toThrow(/not a PEM key/);
  });
});
