import { randomBytes, randomInt } from "node:crypto";
import type { Action } from "../types.js";

export interface SecretGenerateInput {
  /** Characters in the result. Default 32. */
  length?: number;
  /** `alphanumeric` (default: safe in URLs, shells and connection strings), `hex`, `base64url`. */
  alphabet?: "alphanumeric" | "hex" | "base64url";
}

const ALPHABETS: Record<NonNullable<SecretGenerateInput["alphabet"]>, string> = {
  alphanumeric: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  hex: "0123456789abcdef",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

/** Uniform choice from the alphabet (randomInt rejects biased draws, unlike `byte % n`). */
export function randomString(length: number, alphabet: string): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

export const secretGenerate: Action<SecretGenerateInput, { value: string }> = {
  name: "secret.generate",
  description: "Generates a random secret from the OS CSPRNG. The `value` output is secret: stored encrypted, never printed.",
  input: {
    type: "object",
    additionalProperties: false,
    properties: {
      length: { type: "integer", minimum: 16, maximum: 4096 },
      alphabet: { enum: ["alphanumeric", "hex", "base64url"] },
    },
  },
  output: {
    type: "object",
    additionalProperties: false,
    required: ["value"],
    properties: { value: { type: "string" } },
  },
  secretOutputs: ["value"],
  async run(input, ctx) {
    // Touch the CSPRNG once up front so an exhausted or broken source fails loudly here.
    randomBytes(1);
    const value = randomString(input.length ?? 32, ALPHABETS[input.alphabet ?? "alphanumeric"]);
    ctx.markSecret(value);
    return { value };
  },
};
