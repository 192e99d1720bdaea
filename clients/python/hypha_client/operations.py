# Generated from /openapi.json by packages/client/scripts/operations.ts: do not edit.
# A test fails when the two differ.
from typing import Any, Dict, Mapping, Optional, Union

JSON = Any
Query = Mapping[str, Union[str, int, float, bool, None]]

OPERATION_IDS = (
    "approveApproval",
    "bulkDeleteMemories",
    "completeCredentialOAuth",
    "connectorHealth",
    "createConnector",
    "createCredential",
    "createGrant",
    "createKey",
    "createTenant",
    "createUser",
    "createWebhook",
    "deleteConnector",
    "deleteCredential",
    "deleteMemory",
    "deleteTenant",
    "deleteWebhook",
    "endConnectorSecretRotation",
    "endUserSessions",
    "exportMemories",
    "getApproval",
    "getConnector",
    "getCredential",
    "getEmbeddingStatus",
    "getMemory",
    "getOidcConfig",
    "getOverrides",
    "getTenant",
    "getTenantPolicy",
    "getUser",
    "healthLive",
    "healthReady",
    "healthz",
    "ingestWebhook",
    "listApprovals",
    "listAuditEvents",
    "listConnectors",
    "listCredentials",
    "listDeadLetters",
    "listGrants",
    "listKeys",
    "listMemories",
    "listNamespaces",
    "listTenants",
    "listUsers",
    "listWebhooks",
    "login",
    "loginOidc",
    "logout",
    "memoryHistory",
    "proxyHttp",
    "putOidcConfig",
    "putTenantPolicy",
    "recallMemories",
    "refreshSession",
    "rejectApproval",
    "replayDeadLetter",
    "replayDeadLetters",
    "resumeKey",
    "revokeGrant",
    "revokeKey",
    "rotateConnectorSecret",
    "rotateCredential",
    "rotateKey",
    "rotateTenantJwtSecret",
    "setOverride",
    "startCredentialOAuth",
    "storeMemory",
    "streamTenantEvents",
    "updateConnector",
    "updateMemory",
    "updateUser",
    "verifyAuditChain",
)


class Operations:
    """One method per operation of the Hypha REST API, named by its operationId in snake_case."""

    def _request(
        self,
        method: str,
        path: str,
        params: Optional[Dict[str, str]] = None,
        body: JSON = None,
        query: Optional[Query] = None,
    ) -> Any:
        raise NotImplementedError

    def approve_approval(self, id: str, body: JSON) -> Any:
        """Approve a pending action (DEVELOPER or ADMIN; one vote per person) (approveApproval)."""
        return self._request("POST", "/v1/approvals/{id}/approve", params={"id": id}, body=body)

    def bulk_delete_memories(self, body: JSON) -> Any:
        """Erase memories by ids, entity or creation range (every version, index entries too) (bulkDeleteMemories)."""
        return self._request("DELETE", "/v1/memories", body=body)

    def complete_credential_o_auth(self, tenant_id: str, name: str, body: JSON) -> Any:
        """Finish a grant with the code and state the provider redirected with (completeCredentialOAuth)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/credentials/{name}/oauth/callback", params={"tenant_id": tenant_id, "name": name}, body=body)

    def connector_health(self, tenant_id: str, connector_id: str) -> Any:
        """Webhook health: last delivery, success rate, signature failures, dead letters pending (connectorHealth)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/connectors/{connector_id}/health", params={"tenant_id": tenant_id, "connector_id": connector_id})

    def create_connector(self, tenant_id: str, body: JSON) -> Any:
        """Configure an inbound webhook connector (the secret is stored, never returned) (createConnector)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/connectors", params={"tenant_id": tenant_id}, body=body)

    def create_credential(self, tenant_id: str, body: JSON) -> Any:
        """Store a third-party credential, sealed at once; it is never returned (createCredential)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/credentials", params={"tenant_id": tenant_id}, body=body)

    def create_grant(self, tenant_id: str, body: JSON) -> Any:
        """Let agents of one namespace read another namespace (optionally some types, until an expiry) (createGrant)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/grants", params={"tenant_id": tenant_id}, body=body)

    def create_key(self, tenant_id: str, body: JSON) -> Any:
        """Create an API key; the full key is in this response only (createKey)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/keys", params={"tenant_id": tenant_id}, body=body)

    def create_tenant(self, body: JSON) -> Any:
        """Create a tenant (instance admin) (createTenant)."""
        return self._request("POST", "/v1/tenants", body=body)

    def create_user(self, tenant_id: str, body: JSON) -> Any:
        """Create a user (a person) with roles and, optionally, a password (createUser)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/users", params={"tenant_id": tenant_id}, body=body)

    def create_webhook(self, tenant_id: str, body: JSON) -> Any:
        """Subscribe a URL to events; the signing secret is in this response only (createWebhook)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/webhooks", params={"tenant_id": tenant_id}, body=body)

    def delete_connector(self, tenant_id: str, connector_id: str) -> Any:
        """Delete a connector; its endpoint answers 401 from then on (deleteConnector)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}/connectors/{connector_id}", params={"tenant_id": tenant_id, "connector_id": connector_id})

    def delete_credential(self, tenant_id: str, name: str) -> Any:
        """Delete a credential (an OAuth credential's tokens are revoked at the provider) (deleteCredential)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}/credentials/{name}", params={"tenant_id": tenant_id, "name": name})

    def delete_memory(self, id: str) -> Any:
        """Delete a memory and all its versions (deleteMemory)."""
        return self._request("DELETE", "/v1/memories/{id}", params={"id": id})

    def delete_tenant(self, tenant_id: str) -> Any:
        """Delete a tenant and crypto-shred its data (instance admin) (deleteTenant)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}", params={"tenant_id": tenant_id})

    def delete_webhook(self, tenant_id: str, webhook_id: str) -> Any:
        """Remove a subscription and its queued deliveries (deleteWebhook)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}/webhooks/{webhook_id}", params={"tenant_id": tenant_id, "webhook_id": webhook_id})

    def end_connector_secret_rotation(self, tenant_id: str, connector_id: str) -> Any:
        """End a rotation now: the previous secret stops verifying (endConnectorSecretRotation)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}/connectors/{connector_id}/secret/previous", params={"tenant_id": tenant_id, "connector_id": connector_id})

    def end_user_sessions(self, tenant_id: str, user_id: str) -> Any:
        """Sign a user out everywhere: refresh tokens revoked, access tokens issued before now refused at once (endUserSessions)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}/users/{user_id}/sessions", params={"tenant_id": tenant_id, "user_id": user_id})

    def export_memories(self, query: Optional[Query] = None) -> Any:
        """Stream memories as NDJSON in id order; resume with ?cursor=<last id> (exportMemories)."""
        return self._request("GET", "/v1/memories/export", query=query)

    def get_approval(self, id: str) -> Any:
        """One approval and its status (getApproval)."""
        return self._request("GET", "/v1/approvals/{id}", params={"id": id})

    def get_connector(self, tenant_id: str, connector_id: str) -> Any:
        """Read one connector (getConnector)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/connectors/{connector_id}", params={"tenant_id": tenant_id, "connector_id": connector_id})

    def get_credential(self, tenant_id: str, name: str) -> Any:
        """One credential's metadata (never its secret) (getCredential)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/credentials/{name}", params={"tenant_id": tenant_id, "name": name})

    def get_embedding_status(self) -> Any:
        """Hybrid recall: the active embedder and how many memories have a vector or wait for one (getEmbeddingStatus)."""
        return self._request("GET", "/v1/memories/embeddings/status")

    def get_memory(self, id: str) -> Any:
        """Read a memory's current version (getMemory)."""
        return self._request("GET", "/v1/memories/{id}", params={"id": id})

    def get_oidc_config(self, tenant_id: str) -> Any:
        """Read the tenant's OpenID Connect configuration (getOidcConfig)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/oidc", params={"tenant_id": tenant_id})

    def get_overrides(self) -> Any:
        """Active freezes (an ADMIN sees the global ones and its tenant's) (getOverrides)."""
        return self._request("GET", "/admin/override")

    def get_tenant(self, tenant_id: str) -> Any:
        """Read a tenant (getTenant)."""
        return self._request("GET", "/v1/tenants/{tenant_id}", params={"tenant_id": tenant_id})

    def get_tenant_policy(self, tenant_id: str) -> Any:
        """The tenant's governance policy: risk tiers, approvals, anomaly thresholds, guardrails (getTenantPolicy)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/policy", params={"tenant_id": tenant_id})

    def get_user(self, tenant_id: str, user_id: str) -> Any:
        """Read a user (getUser)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/users/{user_id}", params={"tenant_id": tenant_id, "user_id": user_id})

    def health_live(self) -> Any:
        """Liveness (healthLive)."""
        return self._request("GET", "/health/live")

    def health_ready(self) -> Any:
        """Readiness: the store answers, every migration is applied, and the server is not shedding load; each dependency's state (Redis down is degraded, not unready: every gateway falls back the same way) (healthReady)."""
        return self._request("GET", "/health/ready")

    def healthz(self) -> Any:
        """Liveness (healthz)."""
        return self._request("GET", "/healthz")

    def ingest_webhook(self, tenant_id: str, connector_id: str) -> Any:
        """Receive a signed webhook delivery (authenticated by its signature, not an API key) (ingestWebhook)."""
        return self._request("POST", "/v1/ingest/{tenant_id}/{connector_id}", params={"tenant_id": tenant_id, "connector_id": connector_id})

    def list_approvals(self, query: Optional[Query] = None) -> Any:
        """Approvals of the tenant (an agent key sees only its own requests) (listApprovals)."""
        return self._request("GET", "/v1/approvals", query=query)

    def list_audit_events(self, query: Optional[Query] = None) -> Any:
        """Audit events, newest first, with filters and a seq cursor (listAuditEvents)."""
        return self._request("GET", "/v1/audit/events", query=query)

    def list_connectors(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """List a tenant's connectors (listConnectors)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/connectors", params={"tenant_id": tenant_id}, query=query)

    def list_credentials(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """List a tenant's credentials (metadata only) (listCredentials)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/credentials", params={"tenant_id": tenant_id}, query=query)

    def list_dead_letters(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """Deliveries that failed every attempt, with the error and the raw payload (listDeadLetters)."""
        return self._request("GET", "/admin/webhooks/dead-letters/{tenant_id}", params={"tenant_id": tenant_id}, query=query)

    def list_grants(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """List a tenant's namespace grants (listGrants)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/grants", params={"tenant_id": tenant_id}, query=query)

    def list_keys(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """List a tenant's keys (metadata only) (listKeys)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/keys", params={"tenant_id": tenant_id}, query=query)

    def list_memories(self, query: Optional[Query] = None) -> Any:
        """List current memories, newest first, with filters and a cursor (listMemories)."""
        return self._request("GET", "/v1/memories", query=query)

    def list_namespaces(self) -> Any:
        """The namespaces holding memories this key can see, with counts (listNamespaces)."""
        return self._request("GET", "/v1/namespaces")

    def list_tenants(self, query: Optional[Query] = None) -> Any:
        """List tenants (instance admin) (listTenants)."""
        return self._request("GET", "/v1/tenants", query=query)

    def list_users(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """List a tenant's users (listUsers)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/users", params={"tenant_id": tenant_id}, query=query)

    def list_webhooks(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """List a tenant's outbound webhook subscriptions (listWebhooks)."""
        return self._request("GET", "/v1/tenants/{tenant_id}/webhooks", params={"tenant_id": tenant_id}, query=query)

    def login(self, body: JSON) -> Any:
        """Sign in with email and password: an access token, and the refresh token in a cookie (login)."""
        return self._request("POST", "/v1/auth/login", body=body)

    def login_oidc(self, body: JSON) -> Any:
        """Sign in with an ID token from the tenant's OpenID Connect provider (loginOidc)."""
        return self._request("POST", "/v1/auth/oidc", body=body)

    def logout(self) -> Any:
        """End the session of the refresh cookie (with X-CSRF-Token) and clear the cookies (logout)."""
        return self._request("POST", "/v1/auth/logout")

    def memory_history(self, id: str) -> Any:
        """Every version of a memory, newest first (memoryHistory)."""
        return self._request("GET", "/v1/memories/{id}/history", params={"id": id})

    def proxy_http(self, body: JSON) -> Any:
        """Make an HTTP call with a credential the caller never sees (proxyHttp)."""
        return self._request("POST", "/v1/proxy/http", body=body)

    def put_oidc_config(self, tenant_id: str, body: JSON) -> Any:
        """Set the tenant's OpenID Connect provider and role mapping (putOidcConfig)."""
        return self._request("PUT", "/v1/tenants/{tenant_id}/oidc", params={"tenant_id": tenant_id}, body=body)

    def put_tenant_policy(self, tenant_id: str, body: JSON) -> Any:
        """Replace the tenant's governance policy (omitted fields take their defaults) (putTenantPolicy)."""
        return self._request("PUT", "/v1/tenants/{tenant_id}/policy", params={"tenant_id": tenant_id}, body=body)

    def recall_memories(self, body: JSON) -> Any:
        """Recall the memories relevant to a query, with a context block for a model prompt (recallMemories)."""
        return self._request("POST", "/v1/memories/recall", body=body)

    def refresh_session(self) -> Any:
        """Exchange the refresh cookie (with X-CSRF-Token) for a new access token and refresh cookie (refreshSession)."""
        return self._request("POST", "/v1/auth/refresh")

    def reject_approval(self, id: str, body: JSON) -> Any:
        """Reject a pending action (DEVELOPER or ADMIN; one vote per person) (rejectApproval)."""
        return self._request("POST", "/v1/approvals/{id}/reject", params={"id": id}, body=body)

    def replay_dead_letter(self, tenant_id: str, event_id: str) -> Any:
        """Put one dead letter back in the inbox (idempotent, audited) (replayDeadLetter)."""
        return self._request("POST", "/admin/webhooks/replay/{tenant_id}/{event_id}", params={"tenant_id": tenant_id, "event_id": event_id})

    def replay_dead_letters(self, tenant_id: str, body: JSON) -> Any:
        """Put a tenant's dead letters (optionally one connector's) back in the inbox (replayDeadLetters)."""
        return self._request("POST", "/admin/webhooks/replay/{tenant_id}", params={"tenant_id": tenant_id}, body=body)

    def resume_key(self, tenant_id: str, key_id: str) -> Any:
        """Resume a key the anomaly detector paused (DEVELOPER or ADMIN) (resumeKey)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/keys/{key_id}/resume", params={"tenant_id": tenant_id, "key_id": key_id})

    def revoke_grant(self, tenant_id: str, grant_id: str) -> Any:
        """Revoke a namespace grant at once (revokeGrant)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}/grants/{grant_id}", params={"tenant_id": tenant_id, "grant_id": grant_id})

    def revoke_key(self, tenant_id: str, key_id: str) -> Any:
        """Revoke a key at once (revokeKey)."""
        return self._request("DELETE", "/v1/tenants/{tenant_id}/keys/{key_id}", params={"tenant_id": tenant_id, "key_id": key_id})

    def rotate_connector_secret(self, tenant_id: str, connector_id: str, body: JSON) -> Any:
        """Roll the signing secret: the new one is current, the old one keeps verifying until the grace period ends (rotateConnectorSecret)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/connectors/{connector_id}/secret/rotate", params={"tenant_id": tenant_id, "connector_id": connector_id}, body=body)

    def rotate_credential(self, tenant_id: str, name: str, body: JSON) -> Any:
        """Replace a static credential's secret (sealed at once) (rotateCredential)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/credentials/{name}/rotate", params={"tenant_id": tenant_id, "name": name}, body=body)

    def rotate_key(self, tenant_id: str, key_id: str, body: JSON) -> Any:
        """Replace a key; the old one keeps working for grace_seconds. The new key is in this response only (rotateKey)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/keys/{key_id}/rotate", params={"tenant_id": tenant_id, "key_id": key_id}, body=body)

    def rotate_tenant_jwt_secret(self, tenant_id: str) -> Any:
        """Replace the tenant's token signing secret: every access token of the tenant stops working (rotateTenantJwtSecret)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/jwt/rotate", params={"tenant_id": tenant_id})

    def set_override(self, body: JSON) -> Any:
        """Freeze or unfreeze agent work globally (instance admin), for a tenant, a key or an agent name (setOverride)."""
        return self._request("PUT", "/admin/override", body=body)

    def start_credential_o_auth(self, tenant_id: str, name: str) -> Any:
        """Start an OAuth 2.0 grant (authorization code + PKCE); open authorize_url in a browser (startCredentialOAuth)."""
        return self._request("POST", "/v1/tenants/{tenant_id}/credentials/{name}/oauth/start", params={"tenant_id": tenant_id, "name": name})

    def store_memory(self, body: JSON) -> Any:
        """Store a memory, or a batch {memories: [...]} in one transaction (storeMemory)."""
        return self._request("POST", "/v1/memories", body=body)

    def stream_tenant_events(self, tenant_id: str, query: Optional[Query] = None) -> Any:
        """Live tenant events (Server-Sent Events); resume with Last-Event-ID (streamTenantEvents)."""
        return self._request("GET", "/admin/stream/{tenant_id}", params={"tenant_id": tenant_id}, query=query)

    def update_connector(self, tenant_id: str, connector_id: str, body: JSON) -> Any:
        """Rename a connector or replace its config (omit the secret to keep the stored one) (updateConnector)."""
        return self._request("PATCH", "/v1/tenants/{tenant_id}/connectors/{connector_id}", params={"tenant_id": tenant_id, "connector_id": connector_id}, body=body)

    def update_memory(self, id: str, body: JSON) -> Any:
        """Write a new version of a memory (updateMemory)."""
        return self._request("PATCH", "/v1/memories/{id}", params={"id": id}, body=body)

    def update_user(self, tenant_id: str, user_id: str, body: JSON) -> Any:
        """Change a user's roles, status (disabling ends their sessions) or password (updateUser)."""
        return self._request("PATCH", "/v1/tenants/{tenant_id}/users/{user_id}", params={"tenant_id": tenant_id, "user_id": user_id}, body=body)

    def verify_audit_chain(self, query: Optional[Query] = None) -> Any:
        """Verify a chain: HMACs, sequence, retention anchor and signed checkpoints (verifyAuditChain)."""
        return self._request("GET", "/v1/audit/verify", query=query)
