/** The typed client now lives in the `@hypha/client` package; this path keeps `hypha/client` working. */
export * from "../../packages/client/src/index.ts";
