// The official publisher, registered as <moq-publish> and <moq-publish-ui>; bundled to dist/moq-publish.js.
import "@moq/publish/element";
import "@moq/publish/ui";

export * as Publish from "@moq/publish";
