import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Redactor, REDACTED, SecretResolver } from "../../../src/actions/secrets.js";
import { ActionError } from "../../../src/actions/types.js";

describe("SecretResolver", () => {
  it("resolves from the environment at call time, not construction time", async () => {
    const env: Record<string, string | undefined> = {};
    const r = new SecretResolver({ db: { env: "DB_PW" } }, env);
    await expect(r.resolve("db")).rejects.toMatchObject({ code: "secret-missing" });
    env.DB_PW = "s3cret-value-1";
    await expect(r.resolve("db")).resolves.toBe("s3cret-value-1");
  });

  it("resolves from a file, dropping the trailing newline only", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cl-secret-"));
    const file = join(dir, "token");
    await writeFile(file, "  spaced token \n");
    const r = new SecretResolver({ t: { file } }, {});
    await expect(r.resolve("t")).resolves.toBe("  spaced token ");
  });

  it("gives clear errors for unknown names and unreadable files, without values", async () => {
    const r = new SecretResolver({ f: { file: "/nonexistent/cl-secret" } }, {});
    const unknown = await r.resolve("nope").catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ActionError);
    expect((unknown as ActionError).code).toBe("secret-unknown");
    await expect(r.resolve("f")).rejects.toThrow(/cannot read \/nonexistent\/cl-secret \(ENOENT\)/);
  });

  it("does not treat inherited object keys as secret names", async () => {
    const r = new SecretResolver({}, {});
    await expect(r.resolve("constructor")).rejects.toMatchObject({ code: "secret-unknown" });
  });
});

describe("Redactor", () => {
  it("redacts the value and its JSON, URL and base64 encodings", () => {
    const r = new Redactor();
    const secret = 'p@ss "word"/1';
    r.add(secret);
    const text = [secret, JSON.stringify({ v: secret }), encodeURIComponent(secret), Buffer.from(secret).toString("base64")].join(" | ");
    const out = r.redact(text);
    expect(out).not.toContain("ss \"word");
    expect(out).not.toContain(encodeURIComponent(secret));
    expect(out).not.toContain(Buffer.from(secret).toString("base64"));
    expect(out.split(REDACTED).length - 1).toBe(4);
  });

  it("removes a longer secret whole when it contains a shorter one", () => {
    const r = new Redactor();
    r.add("abc123");
    r.add("xxabc123yy");
    expect(r.redact("token=xxabc123yy")).toBe(`token=${REDACTED}`);
  });

  it("redacts nested values and keys, leaving other types alone", () => {
    const r = new Redactor();
    r.add("topsecret");
    expect(r.redactValue({ a: ["topsecret!", 3, null], topsecret: true, n: { deep: "x topsecret" } })).toEqual({
      a: [`${REDACTED}!`, 3, null],
      [REDACTED]: true,
      n: { deep: `x ${REDACTED}` },
    });
  });

  it("ignores empty values instead of redacting everything", () => {
    const r = new Redactor();
    r.add("");
    expect(r.redact("nothing to hide")).toBe("nothing to hide");
  });
});
