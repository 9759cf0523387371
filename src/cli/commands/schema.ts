import { REQUEST_SCHEMA } from "../../formats/check-request.js";
import { WORKFLOW_SCHEMA } from "../../formats/check-workflow.js";
import { CONFIG_SCHEMA } from "../../policy/config-schema.js";
import { parseCli } from "../args.js";
import { UsageError, type Command } from "../command.js";

export const command: Command = {
  name: "schema",
  summary: "print the JSON Schema of workflows, requests or the policy config, for editors",
  usage: `Usage: clutch-luigi schema workflow|request|config

Prints the JSON Schema, e.g. to save into your ops repository and reference from
files with  # yaml-language-server: $schema=../schemas/request.schema.json`,
  async run(argv, io) {
    const { positionals } = parseCli(argv, {});
    const which = positionals[0];
    if (which === "workflow") io.stdout.write(`${JSON.stringify(WORKFLOW_SCHEMA, null, 2)}\n`);
    else if (which === "request") io.stdout.write(`${JSON.stringify(REQUEST_SCHEMA, null, 2)}\n`);
    else if (which === "config") io.stdout.write(`${JSON.stringify(CONFIG_SCHEMA, null, 2)}\n`);
    else throw new UsageError("name workflow, request or config");
    return 0;
  },
};
