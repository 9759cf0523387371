import { REQUEST_SCHEMA } from "../../formats/check-request.js";
import { WORKFLOW_SCHEMA } from "../../formats/check-workflow.js";
import { parseCli } from "../args.js";
import { UsageError, type Command } from "../command.js";

export const command: Command = {
  name: "schema",
  summary: "print the JSON Schema of workflows or requests, for editors",
  usage: `Usage: clutch-luigi schema workflow|request

Prints the JSON Schema, e.g. to save into your ops repository and reference from
files with  # yaml-language-server: $schema=../schemas/request.schema.json`,
  async run(argv, io) {
    const { positionals } = parseCli(argv, {});
    const which = positionals[0];
    if (which === "workflow") io.stdout.write(`${JSON.stringify(WORKFLOW_SCHEMA, null, 2)}\n`);
    else if (which === "request") io.stdout.write(`${JSON.stringify(REQUEST_SCHEMA, null, 2)}\n`);
    else throw new UsageError("name workflow or request");
    return 0;
  },
};
