// Drive Debian's headless Chromium with playwright-core for tests/test_web.py.
//
// Run: node tests/web/driver.mjs. Reads one JSON command per line on stdin and answers one JSON line
// on stdout per command: {"id", "ok": true, "value"} or {"id", "ok": false, "error"}. Every console
// message and page error of every page is also written to stdout as {"console": {page, type, text}}.
// Commands ({"id", "op", ...}):
//   open {page, url}                    new page (tab) named `page`, navigated to `url`
//   eval {page, expr}                   evaluate a JS expression (awaited), return its JSON value
//   wait {page, expr, timeout_ms}       wait until the expression is truthy, return its value
//   click {page, selector}              click an element (playwright selector, e.g. "text=room/a.hang")
//   screenshot {page, path, selector?}  PNG of the page, or of one element
//   missing {pattern}                   answer 404 for URLs matching a glob from now on (e.g. "**/assets/*")
//   close {page}                        close a page
//   quit                                close the browser and exit
// The playwright-core package comes from hang/relay/web/node_modules (installed by .ci/setup).
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const web = new URL("../../hang/relay/web/", import.meta.url);
const { chromium } = createRequire(web)("playwright-core");

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Headless as root on a box without a GPU; the fake camera and microphone (a moving test pattern and
// a beep) feed <moq-publish>, and the fake UI grants their permission prompts.
const ARGS = [
	"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
	"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
];

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
const pages = new Map();

function page(name) {
	const found = pages.get(name);
	if (!found) throw new Error(`no page ${name}`);
	return found;
}

const ops = {
	async open({ page: name, url }) {
		const tab = await context.newPage();
		tab.on("console", (m) => send({ console: { page: name, type: m.type(), text: m.text() } }));
		tab.on("pageerror", (e) => send({ console: { page: name, type: "pageerror", text: String(e) } }));
		pages.set(name, tab);
		await tab.goto(url);
		return tab.url();
	},
	eval: ({ page: name, expr }) => page(name).evaluate(`(async () => (${expr}))()`),
	async wait({ page: name, expr, timeout_ms: timeout = 10000 }) {
		const handle = await page(name).waitForFunction(expr, undefined, { timeout, polling: 100 });
		return handle.jsonValue();
	},
	async click({ page: name, selector }) {
		await page(name).click(selector, { timeout: 5000 });
	},
	async screenshot({ page: name, path, selector }) {
		const target = selector ? page(name).locator(selector) : page(name);
		await target.screenshot({ path, timeout: 5000 });
		return path;
	},
	async missing({ pattern }) {
		await context.route(pattern, (route) => route.fulfill({ status: 404, body: "not found\n" }));
	},
	async close({ page: name }) {
		await page(name).close();
		pages.delete(name);
	},
	quit() {
		quitting = true;
	},
};
let quitting = false;

send({ ready: { browser: browser.version() } });
for await (const line of createInterface({ input: process.stdin })) {
	if (!line.trim()) continue;
	const command = JSON.parse(line);
	try {
		const op = ops[command.op];
		if (!op) throw new Error(`unknown op ${command.op}`);
		send({ id: command.id, ok: true, value: (await op(command)) ?? null });
	} catch (err) {
		send({ id: command.id, ok: false, error: String(err?.message ?? err) });
	}
	if (quitting) break;
}
await browser.close();
process.exit(0);
