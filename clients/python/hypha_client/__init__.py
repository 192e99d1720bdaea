"""Typed client for the Hypha REST API, standard library only (urllib, json, dataclasses).

    from hypha_client import HyphaClient
    hypha = HyphaClient("http://127.0.0.1:7411", key=os.environ["HYPHA_KEY"])
    memory = hypha.store("user/prefs", "Prefers metric units")
    print(hypha.recall("which units?").context)

Every operation of /openapi.json is a method named by its operationId in snake_case (generated in
operations.py; a test keeps the two in step). Failures raise HyphaError with the server's stable code;
429 and 503 answers are retried as Retry-After says; a 202 approval_required raises ApprovalRequired.
"""

import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, TypeVar

from .operations import JSON, OPERATION_IDS, Operations, Query

__all__ = [
    "OPERATION_IDS",
    "Approval",
    "ApprovalRequired",
    "HyphaClient",
    "HyphaError",
    "Memory",
    "Recall",
    "RecallResult",
    "StreamEvent",
    "parse_retry_after",
]

T = TypeVar("T")


class HyphaError(Exception):
    """A failed call: the server's stable error code, the HTTP status and the request id to quote."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        request_id: Optional[str] = None,
        details: Optional[List[Dict[str, str]]] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.details = details
        #: Seconds, from Retry-After, when the server sent one.
        self.retry_after = retry_after


@dataclass(frozen=True)
class Approval:
    id: str
    status: str
    operation: str
    raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Approval":
        return cls(id=d["id"], status=d["status"], operation=str(d.get("operation", "")), raw=dict(d))


class ApprovalRequired(HyphaError):
    """The tenant's policy holds the call for a person's decision (202 approval_required)."""

    def __init__(self, approval: Approval, request_id: Optional[str]) -> None:
        super().__init__("APPROVAL_REQUIRED", f"the call waits for approval {approval.id}", 202, request_id)
        self.approval = approval


@dataclass(frozen=True)
class Memory:
    id: str
    version: int
    namespace: str
    type: str
    content: str
    tags: List[str]
    entities: List[str]
    metadata: Dict[str, Any]
    importance: float
    agent: str
    created_at: str
    updated_at: str
    raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Memory":
        names = ("id", "version", "namespace", "type", "content", "tags", "entities", "metadata")
        rest = ("importance", "agent", "created_at", "updated_at")
        return cls(**{k: d[k] for k in names + rest}, raw=dict(d))


@dataclass(frozen=True)
class RecallResult:
    memory: Memory
    score: float


@dataclass(frozen=True)
class Recall:
    results: List[RecallResult]
    #: The delimited block to put in a prompt.
    context: str


@dataclass(frozen=True)
class StreamEvent:
    id: Optional[str]
    event: str
    data: Dict[str, Any]


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait as Retry-After says (delta seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, at - (time.time() if now is None else now))


class HyphaClient(Operations):
    def __init__(
        self,
        url: str,
        key: str,
        *,
        max_retries: int = 3,
        max_retry_delay: float = 30.0,
        approval_id: Optional[str] = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.max_retries = max_retries
        self.max_retry_delay = max_retry_delay
        self.approval_id = approval_id
        self.timeout = timeout
        self.sleep = sleep

    def with_approval(self, approval_id: str) -> "HyphaClient":
        """A client that sends X-Approval-Id: repeat the identical call and the server runs it once."""
        return HyphaClient(
            self.url,
            self.key,
            max_retries=self.max_retries,
            max_retry_delay=self.max_retry_delay,
            approval_id=approval_id,
            timeout=self.timeout,
            sleep=self.sleep,
        )

    # Typed conveniences over the generated operations.

    def store(self, namespace: str, content: str, **fields: Any) -> Memory:
        return Memory.from_dict(self.store_memory({"namespace": namespace, "content": content, **fields}))

    def recall(self, query: str, **options: Any) -> Recall:
        answer = self.recall_memories({"query": query, **options})
        results = [RecallResult(Memory.from_dict(r["memory"]), float(r["score"])) for r in answer["results"]]
        return Recall(results=results, context=answer["context"])

    def forget(self, memory_id: str) -> int:
        return int(self.delete_memory(memory_id)["deleted"])

    def wait_for_approval(self, approval_id: str, interval: float = 1.0, timeout: float = 600.0) -> Approval:
        """Polls until a person decides the approval (or it expires); returns it in its final state."""
        deadline = time.monotonic() + timeout
        while True:
            approval = Approval.from_dict(self.get_approval(approval_id))
            if approval.status != "pending":
                return approval
            if time.monotonic() + interval > deadline:
                raise HyphaError("APPROVAL_TIMEOUT", f"approval {approval_id} is still pending", 0)
            self.sleep(interval)

    def run_with_approval(
        self, call: Callable[["HyphaClient"], T], interval: float = 1.0, timeout: float = 600.0
    ) -> T:
        """Runs call(client); when it is held for approval, waits for the decision and repeats it once."""
        try:
            return call(self)
        except ApprovalRequired as held:
            decided = self.wait_for_approval(held.approval.id, interval, timeout)
            if decided.status != "approved":
                raise HyphaError(
                    f"APPROVAL_{decided.status.upper()}", f"approval {decided.id} was {decided.status}", 0
                ) from held
            return call(self.with_approval(decided.id))

    def stream_events(self, tenant_id: str, last_event_id: Optional[str] = None) -> Iterator[StreamEvent]:
        """A tenant's buffered events (SSE, follow=false), after last_event_id when given."""
        headers = {"accept": "text/event-stream"}
        if last_event_id is not None:
            headers["last-event-id"] = last_event_id
        raw = self._send("GET", f"/admin/stream/{_seg(tenant_id)}", {"follow": "false"}, None, headers)
        for block in raw.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
            ident: Optional[str] = None
            event = "message"
            data: List[str] = []
            for line in block.split("\n"):
                if not line or line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "id":
                    ident = value
                elif name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
            if data:
                yield StreamEvent(ident, event, json.loads("\n".join(data)))

    # Transport.

    def _request(
        self,
        method: str,
        path: str,
        params: Optional[Dict[str, str]] = None,
        body: JSON = None,
        query: Optional[Query] = None,
    ) -> Any:
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", _seg(value))
        headers = {"accept": "application/json"}
        raw = self._send(method, path, query, body, headers)
        if not raw:
            return None
        text = raw.decode("utf-8")
        if (self._last_content_type or "").startswith("application/x-ndjson"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        answer = json.loads(text)
        if isinstance(answer, dict) and answer.get("status") == "approval_required" and path != "/v1/proxy/http":
            raise ApprovalRequired(Approval.from_dict(answer["approval"]), self._last_request_id)
        return answer

    _last_request_id: Optional[str] = None
    _last_content_type: Optional[str] = None

    def _send(
        self,
        method: str,
        path: str,
        query: Optional[Query],
        body: JSON,
        headers: Dict[str, str],
    ) -> bytes:
        url = self.url + path
        pairs = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        headers = {**headers, "authorization": f"Bearer {self.key}", "user-agent": "hypha-client-python"}
        if self.approval_id:
            headers["x-approval-id"] = self.approval_id
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as res:
                    self._last_request_id = res.headers.get("x-request-id")
                    self._last_content_type = res.headers.get("content-type")
                    return res.read()
            except urllib.error.HTTPError as err:
                retry_after = parse_retry_after(err.headers.get("retry-after"))
                if err.code in (429, 503) and attempt < self.max_retries:
                    wait = retry_after if retry_after is not None else min(self.max_retry_delay, 0.5 * 2**attempt)
                    if wait <= self.max_retry_delay:
                        err.read()
                        self.sleep(wait)
                        attempt += 1
                        continue
                raise _error_of(err, retry_after) from None
            except urllib.error.URLError as err:
                raise HyphaError("NETWORK_ERROR", f"cannot reach {self.url}: {err.reason}", 0) from err


def _seg(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_of(err: urllib.error.HTTPError, retry_after: Optional[float]) -> HyphaError:
    request_id = err.headers.get("x-request-id")
    text = err.read().decode("utf-8", "replace")
    try:
        envelope = json.loads(text)["error"]
        return HyphaError(
            envelope["code"],
            envelope.get("message", ""),
            err.code,
            envelope.get("requestId", request_id),
            envelope.get("details"),
            retry_after,
        )
    except (ValueError, KeyError, TypeError):
        return HyphaError(f"HTTP_{err.code}", f"HTTP {err.code}", err.code, request_id, None, retry_after)
