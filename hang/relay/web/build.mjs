// `npm run build`: bundle the official player and publisher into dist/, which the relay serves under /assets/.
import { build } from "esbuild";

const here = new URL(".", import.meta.url).pathname;
await build({
	absWorkingDir: here,
	entryPoints: { "moq-watch": "entry-watch.js", "moq-publish": "entry-publish.js" },
	outdir: "dist",
	bundle: true,
	format: "esm",
	target: "chrome120",
	minify: true,
	legalComments: "none",
	logLevel: "warning",
});
console.log("built dist/moq-watch.js and dist/moq-publish.js");
