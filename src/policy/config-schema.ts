/**
 * JSON Schema of `.github/clutch-luigi.yml` (the policy part). The same object
 * is shipped as `schemas/clutch-luigi.schema.json` for editors; a unit test
 * keeps the two identical.
 */
import type { JsonSchema } from "../formats/types.js";

const owners: JsonSchema = {
  type: "array",
  items: { type: "string", pattern: "^@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$" },
  description: "Users (@alice) or teams (@org/team).",
};

const approvalRule: JsonSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    minApprovals: { type: "integer", minimum: 1, maximum: 50 },
    from: owners,
  },
};

const localTime = "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$";
const dateOrDateTime = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2})?(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})?)?$";

export const CONFIG_SCHEMA: JsonSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://clutch-luigi.dev/schemas/clutch-luigi.schema.json",
  title: "Clutch Luigi repository policy (.github/clutch-luigi.yml)",
  type: "object",
  additionalProperties: false,
  properties: {
    minApprovals: {
      type: "integer",
      minimum: 1,
      maximum: 50,
      description: "Approvals every PR needs from eligible reviewers (not the author, not bots). Default 1.",
    },
    staleApprovals: {
      enum: ["keep", "dismiss", "content"],
      description:
        "keep: approvals count whatever was pushed later. dismiss: only approvals of the head commit count. content (default): an approval counts while every file of the PR is byte-identical to what was approved.",
    },
    botsMayRequest: {
      description: "Whether bot accounts (and machineUsers) may open requests: true, false (default) or a list of allowed logins.",
      oneOf: [{ type: "boolean" }, { type: "array", items: { type: "string", minLength: 1 } }],
    },
    machineUsers: {
      type: "array",
      items: { type: "string", minLength: 1 },
      description: "Logins of machine users and AI agents with User accounts; treated as bots.",
    },
    paths: {
      type: "array",
      description: "Extra approvals for PRs touching matching paths (CODEOWNERS pattern syntax).",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["pattern"],
        properties: {
          pattern: { type: "string", minLength: 1 },
          minApprovals: { type: "integer", minimum: 1, maximum: 50 },
          from: owners,
        },
      },
    },
    workflows: {
      type: "object",
      description: "Per-workflow approval rules; they take precedence over the workflow file's own approval.",
      additionalProperties: approvalRule,
    },
    freeze: {
      type: "array",
      description: "Windows during which requests are blocked (unless break-glass allows).",
      items: {
        type: "object",
        additionalProperties: false,
        properties: {
          name: { type: "string" },
          timeZone: { type: "string", minLength: 1, description: "IANA time zone, default UTC." },
          from: { type: "string", pattern: dateOrDateTime, description: "Start, local to timeZone unless it has an offset." },
          to: { type: "string", pattern: dateOrDateTime, description: "End; a bare date includes that whole day." },
          weekly: {
            type: "object",
            additionalProperties: false,
            required: ["days"],
            properties: {
              days: {
                type: "array",
                minItems: 1,
                items: { enum: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] },
              },
              from: { type: "string", pattern: localTime, description: "Default 00:00." },
              to: { type: "string", pattern: localTime, description: "Default 24:00; earlier than from wraps past midnight." },
            },
          },
          workflows: { type: "array", items: { type: "string" }, description: "Only these workflows are frozen; default all." },
        },
        oneOf: [{ required: ["from", "to"], not: { required: ["weekly"] } }, { required: ["weekly"], not: { anyOf: [{ required: ["from"] }, { required: ["to"] }] } }],
      },
    },
    breakGlass: {
      description: "false disables break-glass. Default: label break-glass, reason required, allowed during freezes, approvals unchanged.",
      oneOf: [
        { const: false },
        {
          type: "object",
          additionalProperties: false,
          properties: {
            label: { type: "string", minLength: 1 },
            requireReason: { type: "boolean" },
            minApprovals: { type: "integer", minimum: 1, maximum: 50, description: "Caps every approval count (not CODEOWNERS) while break-glass is on." },
            allowDuringFreeze: { type: "boolean" },
          },
        },
      ],
    },
    vetoTeams: {
      ...owners,
      description: "A change request from any member of these blocks, whatever else approves.",
    },
    timeZone: {
      type: "string",
      minLength: 1,
      maxLength: 64,
      description: "The team's IANA time zone (e.g. Europe/Berlin): outcome comments give times such as an expiry in it as well as in UTC.",
    },
    operators: {
      ...owners,
      description:
        "Teams (@org/team) or users (@alice) who may use the run check's buttons (Retry failed steps, Roll back, Cancel run), besides the code owners of the request file. Bots never may.",
    },
    controlPlane: {
      type: "object",
      additionalProperties: false,
      properties: {
        paths: { type: "array", items: { type: "string", minLength: 1 }, description: "Default [/workflows/, /.github/]." },
        owners,
        minApprovals: { type: "integer", minimum: 1, maximum: 50 },
        allowWithRequests: { type: "boolean", description: "Allow one PR to change the control plane and add requests. Default false." },
      },
    },
  },
};
