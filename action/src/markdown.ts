/** Job-summary Markdown: user text goes into table cells without breaking the table or injecting HTML. */
import { inert } from "../../src/github/render.js";

export function cell(text: string): string {
  return inert(text).replace(/\|/g, "\\|").replace(/\r\n|\r|\n/g, "<br>");
}

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}
