/**
 * `${ENV:NAME}` references in configuration values. The file names where values come
 * from; the values themselves (hosts, ports, URLs) come from the environment so one
 * file serves every deployment.
 */
const REF = /\$\{ENV:([A-Za-z_][A-Za-z0-9_]*)\}/g;

export class EnvRefError extends Error {}

/** Replace references in every string of a parsed document. `at` names the location for errors. */
export function substituteEnvRefs(value: unknown, env: Record<string, string | undefined>, at = ""): unknown {
  if (typeof value === "string") {
    return value.replace(REF, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new EnvRefError(`${at || "/"}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnvRefs(v, env, `${at}/${i}`));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnvRefs(v, env, `${at}/${k}`);
    return out;
  }
  return value;
}
