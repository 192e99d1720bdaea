"""The Python client against a live server: HYPHA_URL, HYPHA_KEY (an agent key of a tenant whose policy
holds bulkDeleteMemories for one approval), HYPHA_APPROVER_KEY (a DEVELOPER token of that tenant),
HYPHA_ADMIN_KEY and HYPHA_TENANT_ID. Run: python3 -m unittest discover -s clients/python"""

import http.server
import os
import re
import threading
import unittest

from hypha_client import (
    OPERATION_IDS,
    ApprovalRequired,
    HyphaClient,
    HyphaError,
    Memory,
    parse_retry_after,
)

URL = os.environ.get("HYPHA_URL", "")
KEY = os.environ.get("HYPHA_KEY", "")


def snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


@unittest.skipUnless(URL, "HYPHA_URL is not set")
class LiveServerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.hypha = HyphaClient(URL, KEY, max_retries=0)

    def test_every_operation_is_a_method(self) -> None:
        self.assertGreaterEqual(len(OPERATION_IDS), 60)
        for op in OPERATION_IDS:
            self.assertTrue(callable(getattr(self.hypha, snake(op), None)), op)

    def test_store_recall_update_delete(self) -> None:
        stored = self.hypha.store("py/notes", "The release train leaves on Thursdays", entities=["release"])
        self.assertIsInstance(stored, Memory)
        self.assertTrue(stored.id.startswith("mem_"))
        recall = self.hypha.recall("when does the release train leave?")
        self.assertEqual(recall.results[0].memory.id, stored.id)
        self.assertGreater(recall.results[0].score, 0)
        self.assertIn(f'<memory id="{stored.id}"', recall.context)
        patched = self.hypha.update_memory(stored.id, {"content": "The release train leaves on Fridays"})
        self.assertEqual(patched["version"], 2)
        versions = self.hypha.memory_history(stored.id)["versions"]
        self.assertEqual([v["version"] for v in versions], [2, 1])
        page = self.hypha.list_memories({"namespace": "py/notes", "limit": 10})
        self.assertEqual([m["id"] for m in page["items"]], [stored.id])
        with self.assertRaises(ApprovalRequired) as held:  # the default policy holds exports
            self.hypha.export_memories({"namespace": "py/notes"})
        self.assertEqual(held.exception.approval.operation, "exportMemories")
        self.assertEqual(self.hypha.forget(stored.id), 1)

    def test_errors_carry_the_server_code_status_and_request_id(self) -> None:
        with self.assertRaises(HyphaError) as missing:
            self.hypha.get_memory("mem_01JZZZZZZZZZZZZZZZZZZZZZZZ")
        self.assertEqual((missing.exception.code, missing.exception.status), ("NOT_FOUND", 404))
        self.assertTrue((missing.exception.request_id or "").startswith("req_"))
        with self.assertRaises(HyphaError) as invalid:
            self.hypha.store("../x", "x")
        self.assertEqual((invalid.exception.code, invalid.exception.status), ("VALIDATION_FAILED", 422))
        self.assertTrue(any("namespace" in d["path"] for d in invalid.exception.details or []))
        with self.assertRaises(HyphaError) as nobody:
            HyphaClient(URL, "hyk_not_a_real_key_at_all_000000").list_memories()
        self.assertEqual((nobody.exception.code, nobody.exception.status), ("INVALID_CREDENTIALS", 401))
        with self.assertRaises(HyphaError) as down:
            HyphaClient("http://127.0.0.1:9", KEY).list_memories()
        self.assertEqual((down.exception.code, down.exception.status), ("NETWORK_ERROR", 0))

    def test_approval_round_trip(self) -> None:
        self.hypha.store("py/tmp", "scratch note", entities=["py-scratch"])
        with self.assertRaises(ApprovalRequired) as held:
            self.hypha.bulk_delete_memories({"entity": "py-scratch"})
        approval = held.exception.approval
        self.assertEqual((held.exception.code, held.exception.status), ("APPROVAL_REQUIRED", 202))
        self.assertEqual(approval.status, "pending")
        approver = HyphaClient(URL, os.environ["HYPHA_APPROVER_KEY"])
        approver.approve_approval(approval.id, {"comment": "ok"})
        self.assertEqual(self.hypha.wait_for_approval(approval.id, interval=0.05).status, "approved")
        answer = self.hypha.with_approval(approval.id).bulk_delete_memories({"entity": "py-scratch"})
        self.assertEqual(answer, {"deleted": 1})
        with self.assertRaises(HyphaError) as spent:
            self.hypha.with_approval(approval.id).bulk_delete_memories({"entity": "py-scratch"})
        self.assertEqual(spent.exception.status, 409)

        def decide(_: float) -> None:
            pending = approver.list_approvals({"status": "pending"})["items"]
            for item in pending:
                approver.reject_approval(item["id"], {})

        gated = HyphaClient(URL, KEY, max_retries=0, sleep=decide)
        with self.assertRaises(HyphaError) as rejected:
            gated.run_with_approval(lambda c: c.bulk_delete_memories({"entity": "nothing"}), interval=0.01)
        self.assertEqual(rejected.exception.code, "APPROVAL_REJECTED")

    def test_stream_events(self) -> None:
        admin = HyphaClient(URL, os.environ["HYPHA_ADMIN_KEY"])
        self.hypha.store("py/stream", "an event for the stream")
        events = list(admin.stream_events(os.environ["HYPHA_TENANT_ID"]))
        self.assertTrue(any(e.event.startswith("memory.") for e in events), [e.event for e in events])
        last = events[-1].id
        self.assertIsNotNone(last)
        self.assertEqual(list(admin.stream_events(os.environ["HYPHA_TENANT_ID"], last_event_id=last)), [])


class RetryAfterTest(unittest.TestCase):
    def test_parse_retry_after(self) -> None:
        now = 1780315200.0  # 2026-06-01T12:00:00Z
        self.assertEqual(parse_retry_after("7", now), 7.0)
        self.assertEqual(parse_retry_after("Mon, 01 Jun 2026 12:00:30 GMT", now), 30.0)
        self.assertEqual(parse_retry_after("Mon, 01 Jun 2026 11:00:00 GMT", now), 0.0)
        self.assertIsNone(parse_retry_after("soon", now))
        self.assertIsNone(parse_retry_after(None, now))

    def test_429_and_503_are_retried_as_retry_after_says_and_bounded(self) -> None:
        script = [
            (429, {"retry-after": "2"}, b'{"error":{"code":"RATE_LIMITED","message":"slow","requestId":"r1"}}'),
            (503, {}, b'{"error":{"code":"UNAVAILABLE","message":"busy","requestId":"r2"}}'),
            (200, {}, b'{"status":"ok"}'),
            (429, {"retry-after": "3600"}, b'{"error":{"code":"RATE_LIMITED","message":"slow","requestId":"r3"}}'),
        ]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                status, headers, body = script.pop(0)
                self.send_response(status)
                for k, v in {"content-type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            waits = []
            client = HyphaClient(f"http://127.0.0.1:{server.server_port}", "k", sleep=waits.append)
            self.assertEqual(client.health_ready(), {"status": "ok"})
            self.assertEqual(waits, [2.0, 1.0])
            with self.assertRaises(HyphaError) as limited:
                client.health_ready()
            self.assertEqual((limited.exception.code, limited.exception.retry_after), ("RATE_LIMITED", 3600.0))
            self.assertEqual(waits, [2.0, 1.0], "an hour is past the cap: no wait")
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    unittest.main()
