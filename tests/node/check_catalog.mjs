// Catalog conformance oracle: validates Hang catalogs with the official @moq/hang zod schema.
//
// Run (cwd = this folder): node --import ./register.mjs check_catalog.mjs < input.json
//
// stdin: one catalog object, or {"many": [catalog, ...]} for batch mode.
// stdout: exactly one JSON line:
//   single: {"ok": true, "parsed": <RootSchema output>} | {"ok": false, "issues": ["path: message", ...]}
//   batch:  {"results": [<single result>, ...]}
//   (batch mode = an object whose only key is "many" and whose value is an array)
// Exit 0 whenever validation ran (valid or not); 2 if stdin is not JSON; 1 (uncaught error) if
// the module fails to load.
import * as z from "zod";
import { RootSchema } from "@moq/hang/catalog";

// @moq/hang builds its schema with "zod/mini", which ships no error messages ("Invalid input"
// everywhere). package.json pins the same zod as @moq/hang resolves (one deduped copy), so
// loading the English locale here also applies to the catalog schema.
z.config(z.locales.en());

// The catalog schema uses unions (current form | legacy form), so a bad field deep inside a
// rendition surfaces only as "audio: Invalid input" with the real causes nested per branch.
// Flatten them: for each union keep the branch(es) whose issues reach deepest (the branch the
// input was "meant" for), prefixing nested paths with the union's own path.
function flatten(issue, prefix) {
  const path = [...prefix, ...(issue.path ?? [])];
  if (issue.code === "invalid_union" && Array.isArray(issue.errors) && issue.errors.length > 0) {
    const branches = issue.errors.map((branch) => branch.flatMap((inner) => flatten(inner, path)));
    const depth = (leaves) => Math.max(-1, ...leaves.map((leaf) => leaf.path.length));
    const best = Math.max(...branches.map(depth));
    return branches.filter((leaves) => depth(leaves) === best).flat();
  }
  return [{ path, message: issue.message }];
}

function check(doc) {
  const res = RootSchema.safeParse(doc);
  if (res.success) return { ok: true, parsed: res.data };
  const lines = res.error.issues
    .flatMap((issue) => flatten(issue, []))
    .map(({ path, message }) => `${path.map(String).join(".") || "(root)"}: ${message}`);
  return { ok: false, issues: [...new Set(lines)] };
}

function fail(msg) {
  process.stderr.write(`check_catalog: ${msg}\n`);
  process.exit(2);
}

let text = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) text += chunk;

let input;
try {
  input = JSON.parse(text);
} catch (err) {
  fail(`stdin is not valid JSON: ${err.message}`);
}

// Batch mode only for an object whose single key is "many" holding an array, so a real catalog
// carrying an application root key named "many" (the root is a loose object) still validates.
const isBatch =
  input !== null &&
  typeof input === "object" &&
  !Array.isArray(input) &&
  Object.keys(input).length === 1 &&
  Array.isArray(input.many);

let out;
if (isBatch) {
  out = { results: input.many.map(check) };
} else {
  out = check(input);
}
process.stdout.write(JSON.stringify(out) + "\n");
