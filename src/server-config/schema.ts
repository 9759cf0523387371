import type { JsonSchema } from "../formats/types.js";

const NAME = "^[A-Za-z0-9][A-Za-z0-9_.-]*$";
const ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$";
const ABSOLUTE_PATH = "^/";

/** JSON Schema of the server configuration file, after `${ENV:…}` references are replaced. */
export const serverConfigSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    dataDir: { type: "string", minLength: 1 },
    connections: {
      type: "object",
      additionalProperties: false,
      properties: {
        postgres: {
          type: "object",
          propertyNames: { pattern: NAME },
          additionalProperties: {
            type: "object",
            additionalProperties: false,
            required: ["host", "database", "user"],
            properties: {
              host: { type: "string", minLength: 1 },
              port: { type: "integer", minimum: 1, maximum: 65535, default: 5432 },
              database: { type: "string", minLength: 1 },
              user: { type: "string", minLength: 1 },
              passwordSecret: { type: "string", pattern: NAME },
              ssl: { type: "boolean" },
              connectTimeoutMs: { type: "integer", minimum: 1 },
            },
          },
        },
        http: {
          type: "object",
          propertyNames: { pattern: NAME },
          additionalProperties: {
            type: "object",
            additionalProperties: false,
            required: ["baseUrl"],
            properties: {
              baseUrl: { type: "string", format: "uri", pattern: "^https?://" },
              audience: { type: "string", minLength: 1 },
              tokenHeader: { type: "string", pattern: "^[A-Za-z0-9-]+$" },
            },
          },
        },
      },
    },
    secrets: {
      type: "object",
      propertyNames: { pattern: NAME },
      additionalProperties: {
        oneOf: [
          { type: "object", additionalProperties: false, required: ["env"], properties: { env: { type: "string", pattern: ENV_NAME } } },
          { type: "object", additionalProperties: false, required: ["file"], properties: { file: { type: "string", pattern: ABSOLUTE_PATH } } },
        ],
      },
    },
    shell: {
      type: "object",
      additionalProperties: false,
      properties: {
        allow: {
          type: "object",
          propertyNames: { pattern: NAME },
          additionalProperties: {
            type: "object",
            additionalProperties: false,
            required: ["path"],
            properties: {
              path: { type: "string", pattern: ABSOLUTE_PATH },
              env: { type: "object", propertyNames: { pattern: ENV_NAME }, additionalProperties: { type: "string" } },
            },
          },
        },
      },
    },
    oidc: {
      type: "object",
      additionalProperties: false,
      properties: {
        issuers: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["issuer", "audience", "jwksUrl"],
            properties: {
              issuer: { type: "string", pattern: "^https?://" },
              audience: { type: "string", minLength: 1 },
              jwksUrl: { type: "string", format: "uri", pattern: "^https?://" },
              algorithms: { type: "array", minItems: 1, items: { enum: ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"] } },
              claims: {
                type: "object",
                additionalProperties: false,
                properties: { subject: { type: "string", minLength: 1 }, login: { type: "string", minLength: 1 } },
              },
              repositories: { type: "array", items: { type: "string", pattern: "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$" } },
              workflows: { type: "array", items: { type: "string", minLength: 1 } },
              clockToleranceSec: { type: "integer", minimum: 0, maximum: 300 },
            },
          },
        },
      },
    },
    signing: {
      type: "object",
      additionalProperties: false,
      properties: {
        issuer: { type: "string", pattern: "^https?://" },
        keyFile: { type: "string", minLength: 1 },
        algorithm: { enum: ["ES256", "EdDSA"] },
      },
    },
    github: {
      type: "object",
      additionalProperties: false,
      required: ["tokenSecret"],
      properties: {
        tokenSecret: { type: "string", pattern: NAME },
        apiUrl: { type: "string", format: "uri", pattern: "^https?://" },
      },
    },
    worker: {
      type: "object",
      additionalProperties: false,
      properties: { concurrency: { type: "integer", minimum: 1, maximum: 1000 } },
    },
    api: {
      type: "object",
      additionalProperties: false,
      properties: {
        operators: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            anyOf: [{ required: ["subject"] }, { required: ["login"] }, { required: ["repository"] }],
            properties: {
              issuer: { type: "string", pattern: "^https?://" },
              subject: { type: "string", minLength: 1 },
              login: { type: "string", minLength: 1 },
              repository: { type: "string", pattern: "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$" },
            },
          },
        },
      },
    },
  },
};
