import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../lib/config.ts";
import { otlpProtocol } from "./telemetry.ts";

test("OTLP encoding: protobuf by default, http/json when asked, the traces variable first; gRPC stops the start naming the setting", () => {
  assert.equal(otlpProtocol({}), "http/protobuf");
  assert.equal(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }), "http/json");
  assert.equal(
    otlpProtocol({
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
    }),
    "http/protobuf",
  );
  assert.throws(
    () => otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
    (err: unknown) =>
      err instanceof ConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL="grpc".*http\/protobuf/.test(err.message),
  );
});
