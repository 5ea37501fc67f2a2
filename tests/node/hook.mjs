// ESM resolve hook: @moq/hang ships compiled ESM with extension-less relative imports
// (e.g. `export * from "./audio"`), which Node's ESM resolver rejects. On "not found",
// retry the specifier with ".js" and then "/index.js".
export async function resolve(spec, ctx, next) {
  try {
    return await next(spec, ctx);
  } catch (err) {
    if (!["ERR_MODULE_NOT_FOUND", "ERR_UNSUPPORTED_DIR_IMPORT"].includes(err?.code)) throw err;
    for (const tail of [".js", "/index.js"]) {
      try {
        return await next(spec + tail, ctx);
      } catch {
        // try the next candidate
      }
    }
    throw err;
  }
}
