// Usage: node --import ./register.mjs check_catalog.mjs
import { register } from "node:module";

register("./hook.mjs", import.meta.url);
