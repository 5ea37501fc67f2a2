// The official player, registered as <moq-watch> and <moq-watch-ui>; bundled to dist/moq-watch.js.
import "@moq/watch/element";
import "@moq/watch/ui";

export * as Watch from "@moq/watch";
