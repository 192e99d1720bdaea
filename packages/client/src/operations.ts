// Generated from /openapi.json by scripts/operations.ts: do not edit. A test fails when they differ.
/* biome-ignore-all format: generated */
export interface Operations {
  /** Approve a pending action (DEVELOPER or ADMIN; one vote per person) */
  approveApproval: {
    method: "POST";
    path: "/v1/approvals/{id}/approve";
    params: {
      id: string;
    };
    query: never;
    body: {
      comment?: string;
    } | null;
    response: {
      id: string;
      tenant_id: string;
      requester: string;
      agent: string | null;
      operation: string;
      method: string;
      route: string;
      tier: "low" | "medium" | "high" | "critical";
      payload_sha256: string;
      required_approvals: number;
      approvals: number;
      status: "pending" | "approved" | "rejected" | "consumed" | "expired" | "cancelled";
      created_at: string;
      expires_at: string;
      decided_at: string | null;
      consumed_at: string | null;
    };
  };
  /** Erase memories by ids, entity or creation range (every version, index entries too) */
  bulkDeleteMemories: {
    method: "DELETE";
    path: "/v1/memories";
    params: never;
    query: never;
    body: {
      ids: string[];
    } | {
      entity: string;
    } | {
      created_after: string;
      created_before: string;
    };
    response: {
      deleted: number;
    };
  };
  /** Finish a grant with the code and state the provider redirected with */
  completeCredentialOAuth: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/credentials/{name}/oauth/callback";
    params: {
      tenant_id: string;
      name: string;
    };
    query: never;
    body: {
      code: string;
      state: string;
    };
    response: {
      id: string;
      name: string;
      service: string;
      label: string | null;
      kind: "static" | "oauth2";
      allowed_hosts: string[];
      injection: {
        type: "bearer";
      } | {
        type: "header";
        name: string;
        prefix?: string;
      } | {
        type: "basic";
        username: string;
      } | {
        type: "query";
        param: string;
      } | {
        type: "path";
      };
      risk_tier: "low" | "medium" | "high" | "critical";
      created_at: string;
      rotated_at: string | null;
      last_used_at: string | null;
      expires_at: string | null;
      oauth: {
        connected: boolean;
        token_expires_at: string | null;
        scopes: string[];
        provider: string;
      } | null;
    };
  };
  /** Webhook health: last delivery, success rate, signature failures, dead letters pending */
  connectorHealth: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/connectors/{connector_id}/health";
    params: {
      tenant_id: string;
      connector_id: string;
    };
    query: never;
    body: never;
    response: {
      connector_id: string;
      last_delivery_at: string | null;
      last_rejected_at: string | null;
      accepted: number;
      duplicates: number;
      signature_failures: number;
      processed: number;
      processing_failures: number;
      success_rate: number | null;
      mean_ingest_latency_ms: number | null;
      pending: number;
      dead_letters_pending: number;
      outcomes: {
        stored: number;
        ignored: {
          [key: string]: number;
        };
        ignored_total: number;
        dead: number;
      };
      stored_rate: number | null;
      previous_secret_verified: number;
      rotation: {
        in_progress: boolean;
        rotated_at: string | null;
        previous_expires_at: string | null;
      };
      warnings: {
        code: string;
        message: string;
      }[];
    };
  };
  /** Configure an inbound webhook connector (the secret is stored, never returned) */
  createConnector: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/connectors";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      name: string;
      config: {
        source: "github";
        secret?: string;
        secretEnv?: string;
        replayWindowSec?: number;
        maxBodyBytes?: number;
        mapping: {
          kind?: "builtin" | "generic";
          namespace: string;
          type?: string;
          contentPointer?: string;
          tagPointers?: string[];
          entityPointers?: string[];
          staticTags?: string[];
          metadataPointers?: {
            [key: string]: string;
          };
          eventTypes?: string[];
          eventTypePointer?: string;
          maxContentChars?: number;
        };
        options?: Record<string, never>;
      } | {
        source: "slack";
        secret?: string;
        secretEnv?: string;
        replayWindowSec?: number;
        maxBodyBytes?: number;
        mapping: {
          kind?: "builtin" | "generic";
          namespace: string;
          type?: string;
          contentPointer?: string;
          tagPointers?: string[];
          entityPointers?: string[];
          staticTags?: string[];
          metadataPointers?: {
            [key: string]: string;
          };
          eventTypes?: string[];
          eventTypePointer?: string;
          maxContentChars?: number;
        };
        options?: {
          toleranceSec?: number;
          includeBotMessages?: boolean;
          reactions?: string[];
        };
      } | {
        source: "stripe";
        secret?: string;
        secretEnv?: string;
        replayWindowSec?: number;
        maxBodyBytes?: number;
        mapping: {
          kind?: "builtin" | "generic";
          namespace: string;
          type?: string;
          contentPointer?: string;
          tagPointers?: string[];
          entityPointers?: string[];
          staticTags?: string[];
          metadataPointers?: {
            [key: string]: string;
          };
          eventTypes?: string[];
          eventTypePointer?: string;
          maxContentChars?: number;
        };
        options?: {
          toleranceSec?: number;
        };
      } | {
        source: "standard";
        secret?: string;
        secretEnv?: string;
        replayWindowSec?: number;
        maxBodyBytes?: number;
        mapping: {
          kind?: "builtin" | "generic";
          namespace: string;
          type?: string;
          contentPointer?: string;
          tagPointers?: string[];
          entityPointers?: string[];
          staticTags?: string[];
          metadataPointers?: {
            [key: string]: string;
          };
          eventTypes?: string[];
          eventTypePointer?: string;
          maxContentChars?: number;
        };
        options?: {
          toleranceSec?: number;
        };
      } | {
        source: "generic_hmac";
        secret?: string;
        secretEnv?: string;
        replayWindowSec?: number;
        maxBodyBytes?: number;
        mapping: {
          kind?: "builtin" | "generic";
          namespace: string;
          type?: string;
          contentPointer?: string;
          tagPointers?: string[];
          entityPointers?: string[];
          staticTags?: string[];
          metadataPointers?: {
            [key: string]: string;
          };
          eventTypes?: string[];
          eventTypePointer?: string;
          maxContentChars?: number;
        };
        options: {
          header: string;
          encoding: "hex" | "base64";
          prefix?: string;
          timestampHeader?: string;
          toleranceSec?: number;
          deliveryIdHeader?: string;
        };
      } | {
        source: "jwt";
        secret?: string;
        secretEnv?: string;
        replayWindowSec?: number;
        maxBodyBytes?: number;
        mapping: {
          kind?: "builtin" | "generic";
          namespace: string;
          type?: string;
          contentPointer?: string;
          tagPointers?: string[];
          entityPointers?: string[];
          staticTags?: string[];
          metadataPointers?: {
            [key: string]: string;
          };
          eventTypes?: string[];
          eventTypePointer?: string;
          maxContentChars?: number;
        };
        options?: {
          header?: string;
          algorithms?: ("RS256" | "ES256")[];
          jwksUrl?: string;
          jwks?: {
            keys: {
              [key: string]: unknown;
            }[];
          };
          issuer?: string;
          audience?: string;
          bodyHashClaim?: string;
          maxTokenAgeSec?: number;
          clockToleranceSec?: number;
        };
      } | {
        source: "bearer";
        secret?: string;
        secretEnv?: string;
        replayWindowSec?: number;
        maxBodyBytes?: number;
        mapping: {
          kind?: "builtin" | "generic";
          namespace: string;
          type?: string;
          contentPointer?: string;
          tagPointers?: string[];
          entityPointers?: string[];
          staticTags?: string[];
          metadataPointers?: {
            [key: string]: string;
          };
          eventTypes?: string[];
          eventTypePointer?: string;
          maxContentChars?: number;
        };
        options?: {
          header?: string;
        };
      };
    };
    response: {
      id: string;
      tenant_id: string;
      name: string;
      source: string;
      secret_configured: boolean;
      secret_env: string | null;
      replay_window_sec: number | null;
      max_body_bytes: number | null;
      mapping: {
        [key: string]: unknown;
      };
      options: {
        [key: string]: unknown;
      };
      ingest_path: string;
      created_at: string;
      updated_at: string;
    };
  };
  /** Store a third-party credential, sealed at once; it is never returned */
  createCredential: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/credentials";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      name: string;
      service: string;
      label?: string;
      allowed_hosts: string[];
      injection: {
        type: "bearer";
      } | {
        type: "header";
        name: string;
        prefix?: string;
      } | {
        type: "basic";
        username: string;
      } | {
        type: "query";
        param: string;
      } | {
        type: "path";
      };
      risk_tier?: "low" | "medium" | "high" | "critical";
      expires_at?: string;
      secret?: string;
      oauth?: {
        authorize_url: string;
        token_url: string;
        revoke_url?: string;
        client_id: string;
        scopes?: string[];
        redirect_uri: string;
        client_secret?: string;
      };
    };
    response: {
      id: string;
      name: string;
      service: string;
      label: string | null;
      kind: "static" | "oauth2";
      allowed_hosts: string[];
      injection: {
        type: "bearer";
      } | {
        type: "header";
        name: string;
        prefix?: string;
      } | {
        type: "basic";
        username: string;
      } | {
        type: "query";
        param: string;
      } | {
        type: "path";
      };
      risk_tier: "low" | "medium" | "high" | "critical";
      created_at: string;
      rotated_at: string | null;
      last_used_at: string | null;
      expires_at: string | null;
      oauth: {
        connected: boolean;
        token_expires_at: string | null;
        scopes: string[];
        provider: string;
      } | null;
    };
  };
  /** Let agents of one namespace read another namespace (optionally some types, until an expiry) */
  createGrant: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/grants";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      grantee: string;
      namespace: string;
      types?: string[];
      expires_at?: string;
    };
    response: {
      id: string;
      grantee: string;
      namespace: string;
      types: string[] | null;
      created_at: string;
      expires_at: string | null;
      revoked_at: string | null;
    };
  };
  /** Create an API key; the full key is in this response only */
  createKey: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/keys";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      agent: string;
      name?: string;
      scopes: ("read" | "write" | "admin" | "memories:read" | "memories:write" | "tenant:admin" | "audit:read")[];
      capabilities?: string[];
      namespaces?: string[];
      expires_at?: string;
      rate_limit_per_minute?: number;
    };
    response: {
      id: string;
      tenant_id: string;
      agent: string;
      name: string | null;
      start: string;
      scopes: string[];
      capabilities: string[] | null;
      namespaces: string[] | null;
      rate_limit_per_minute: number | null;
      created_at: string;
      expires_at: string | null;
      revoked_at: string | null;
      last_used_at: string | null;
      rotated_to: string | null;
      key: string;
    };
  };
  /** Create a tenant (instance admin) */
  createTenant: {
    method: "POST";
    path: "/v1/tenants";
    params: never;
    query: never;
    body: {
      name: string;
      encryption?: "aes-gcm" | "none";
      storage?: "sqlite" | "markdown";
    };
    response: {
      id: string;
      name: string;
      status: "active";
      encryption: "aes-gcm" | "none";
      storage: "sqlite" | "markdown";
      created_at: string;
    };
  };
  /** Create a user (a person) with roles and, optionally, a password */
  createUser: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/users";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      email: string;
      password?: string;
      roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
    };
    response: {
      id: string;
      tenant_id: string;
      email: string;
      roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
      status: "active" | "disabled";
      sign_in: "password" | "oidc" | "password+oidc" | "none";
      locked_until: string | null;
      created_at: string;
      updated_at: string;
      last_login_at: string | null;
    };
  };
  /** Subscribe a URL to events; the signing secret is in this response only */
  createWebhook: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/webhooks";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      url: string;
      events: ("memory.created" | "memory.deleted" | "dead_letter.created" | "approval.requested" | "approval.decided" | "killswitch.changed" | "agent.paused" | "agent.resumed" | "anomaly.recall_volume")[];
    };
    response: {
      id: string;
      tenant_id: string;
      url: string;
      events: string[];
      status: "active" | "disabled";
      consecutive_failures: number;
      created_at: string;
      disabled_at: string | null;
      last_success_at: string | null;
      last_failure_at: string | null;
      last_error: string | null;
      secret: string;
    };
  };
  /** Delete a connector; its endpoint answers 401 from then on */
  deleteConnector: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}/connectors/{connector_id}";
    params: {
      tenant_id: string;
      connector_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      tenant_id: string;
      name: string;
      source: string;
      secret_configured: boolean;
      secret_env: string | null;
      replay_window_sec: number | null;
      max_body_bytes: number | null;
      mapping: {
        [key: string]: unknown;
      };
      options: {
        [key: string]: unknown;
      };
      ingest_path: string;
      created_at: string;
      updated_at: string;
    };
  };
  /** Delete a credential (an OAuth credential's tokens are revoked at the provider) */
  deleteCredential: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}/credentials/{name}";
    params: {
      tenant_id: string;
      name: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      name: string;
      service: string;
      label: string | null;
      kind: "static" | "oauth2";
      allowed_hosts: string[];
      injection: {
        type: "bearer";
      } | {
        type: "header";
        name: string;
        prefix?: string;
      } | {
        type: "basic";
        username: string;
      } | {
        type: "query";
        param: string;
      } | {
        type: "path";
      };
      risk_tier: "low" | "medium" | "high" | "critical";
      created_at: string;
      rotated_at: string | null;
      last_used_at: string | null;
      expires_at: string | null;
      oauth: {
        connected: boolean;
        token_expires_at: string | null;
        scopes: string[];
        provider: string;
      } | null;
    };
  };
  /** Delete a memory and all its versions */
  deleteMemory: {
    method: "DELETE";
    path: "/v1/memories/{id}";
    params: {
      id: string;
    };
    query: never;
    body: never;
    response: {
      deleted: number;
    };
  };
  /** Delete a tenant and crypto-shred its data (instance admin) */
  deleteTenant: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}";
    params: {
      tenant_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      deleted: true;
    };
  };
  /** Remove a subscription and its queued deliveries */
  deleteWebhook: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}/webhooks/{webhook_id}";
    params: {
      tenant_id: string;
      webhook_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      tenant_id: string;
      url: string;
      events: string[];
      status: "active" | "disabled";
      consecutive_failures: number;
      created_at: string;
      disabled_at: string | null;
      last_success_at: string | null;
      last_failure_at: string | null;
      last_error: string | null;
    };
  };
  /** End a rotation now: the previous secret stops verifying */
  endConnectorSecretRotation: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}/connectors/{connector_id}/secret/previous";
    params: {
      tenant_id: string;
      connector_id: string;
    };
    query: never;
    body: never;
    response: {
      connector: {
        id: string;
        tenant_id: string;
        name: string;
        source: string;
        secret_configured: boolean;
        secret_env: string | null;
        replay_window_sec: number | null;
        max_body_bytes: number | null;
        mapping: {
          [key: string]: unknown;
        };
        options: {
          [key: string]: unknown;
        };
        ingest_path: string;
        created_at: string;
        updated_at: string;
      };
      rotation: {
        in_progress: boolean;
        rotated_at: string | null;
        previous_expires_at: string | null;
      };
    };
  };
  /** Sign a user out everywhere: refresh tokens revoked, access tokens issued before now refused at once */
  endUserSessions: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}/users/{user_id}/sessions";
    params: {
      tenant_id: string;
      user_id: string;
    };
    query: never;
    body: never;
    response: {
      ended: number;
    };
  };
  /** Stream memories as NDJSON in id order; resume with ?cursor=<last id> */
  exportMemories: {
    method: "GET";
    path: "/v1/memories/export";
    params: never;
    query: {
      namespace?: string;
      cursor?: string;
      include_history?: "true" | "false";
    };
    body: never;
    response: undefined;
  };
  /** One approval and its status */
  getApproval: {
    method: "GET";
    path: "/v1/approvals/{id}";
    params: {
      id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      tenant_id: string;
      requester: string;
      agent: string | null;
      operation: string;
      method: string;
      route: string;
      tier: "low" | "medium" | "high" | "critical";
      payload_sha256: string;
      required_approvals: number;
      approvals: number;
      status: "pending" | "approved" | "rejected" | "consumed" | "expired" | "cancelled";
      created_at: string;
      expires_at: string;
      decided_at: string | null;
      consumed_at: string | null;
    };
  };
  /** Read one connector */
  getConnector: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/connectors/{connector_id}";
    params: {
      tenant_id: string;
      connector_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      tenant_id: string;
      name: string;
      source: string;
      secret_configured: boolean;
      secret_env: string | null;
      replay_window_sec: number | null;
      max_body_bytes: number | null;
      mapping: {
        [key: string]: unknown;
      };
      options: {
        [key: string]: unknown;
      };
      ingest_path: string;
      created_at: string;
      updated_at: string;
    };
  };
  /** One credential's metadata (never its secret) */
  getCredential: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/credentials/{name}";
    params: {
      tenant_id: string;
      name: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      name: string;
      service: string;
      label: string | null;
      kind: "static" | "oauth2";
      allowed_hosts: string[];
      injection: {
        type: "bearer";
      } | {
        type: "header";
        name: string;
        prefix?: string;
      } | {
        type: "basic";
        username: string;
      } | {
        type: "query";
        param: string;
      } | {
        type: "path";
      };
      risk_tier: "low" | "medium" | "high" | "critical";
      created_at: string;
      rotated_at: string | null;
      last_used_at: string | null;
      expires_at: string | null;
      oauth: {
        connected: boolean;
        token_expires_at: string | null;
        scopes: string[];
        provider: string;
      } | null;
    };
  };
  /** Hybrid recall: the active embedder and how many memories have a vector or wait for one */
  getEmbeddingStatus: {
    method: "GET";
    path: "/v1/memories/embeddings/status";
    params: never;
    query: never;
    body: never;
    response: {
      embedder: string | null;
      enabled: boolean;
      embedded: number;
      pending: number;
    };
  };
  /** Read a memory's current version */
  getMemory: {
    method: "GET";
    path: "/v1/memories/{id}";
    params: {
      id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      version: number;
      namespace: string;
      type: string;
      content: string;
      tags: string[];
      entities: string[];
      metadata: {
        [key: string]: unknown;
      };
      importance: number;
      agent: string;
      created_at: string;
      updated_at: string;
      expires_at: string | null;
      valid_from: string | null;
      valid_to: string | null;
      is_current: boolean;
      access: "private" | "shared" | "public";
      allowed_agents: string[];
      owner: string;
      quarantined: boolean;
    };
  };
  /** Read the tenant's OpenID Connect configuration */
  getOidcConfig: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/oidc";
    params: {
      tenant_id: string;
    };
    query: never;
    body: never;
    response: {
      issuer: string;
      jwks_uri?: string;
      client_id: string;
      token_endpoint?: string;
      audience?: string;
      role_mapping: {
        claim: ("roles" | "groups" | "realm_access.roles") | string;
        map: {
          [key: string]: "ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER";
        };
      };
      default_role?: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER") | null;
      auto_provision: boolean;
      client_secret_configured: boolean;
      updated_at: string;
    };
  };
  /** Active freezes (an ADMIN sees the global ones and its tenant's) */
  getOverrides: {
    method: "GET";
    path: "/admin/override";
    params: never;
    query: never;
    body: never;
    response: {
      items: {
        scope: "global" | "tenant" | "agent";
        tenant_id: string | null;
        agent: string | null;
        key_id: string | null;
        reason: string;
        set_by: string;
        set_at: string;
      }[];
    };
  };
  /** Read a tenant */
  getTenant: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}";
    params: {
      tenant_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      name: string;
      status: "active";
      encryption: "aes-gcm" | "none";
      storage: "sqlite" | "markdown";
      created_at: string;
    };
  };
  /** The tenant's governance policy: risk tiers, approvals, anomaly thresholds, guardrails */
  getTenantPolicy: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/policy";
    params: {
      tenant_id: string;
    };
    query: never;
    body: never;
    response: {
      tiers: {
        [key: string]: "low" | "medium" | "high" | "critical";
      };
      approvals: {
        low: number;
        medium: number;
        high: number;
        critical: number;
      };
      approval_ttl_seconds: number;
      anomaly: {
        enforce: boolean;
        max_requests_per_minute: number;
        error_rate: number;
        error_min_requests: number;
        error_window_seconds: number;
        recall_volume_factor: number;
        recall_min_samples: number;
      };
      guardrails: {
        inbound: {
          pii: "allow" | "flag" | "mask" | "block";
          secrets: "allow" | "flag" | "mask" | "block";
          injection: "allow" | "flag" | "mask" | "quarantine" | "block";
          maxLength: number;
        };
        outbound: {
          pii: "allow" | "flag" | "mask" | "block";
          secrets: "allow" | "flag" | "mask" | "block";
          injection: "allow" | "flag" | "mask" | "quarantine" | "block";
          maxLength: number;
        };
        piiTypes: ("EMAIL" | "PHONE" | "CREDIT_CARD" | "IBAN" | "SSN" | "IP_ADDRESS" | "PERSON")[];
        piiMinConfidence: number;
        piiPersonModel: boolean;
        injectionThreshold: number;
      };
      write_injection_threshold: number;
      ingest_injection_threshold: number;
      embeddings?: "off" | "on";
      dedupe: "off" | "on";
      dedupe_threshold: number;
      version: number;
      updated_at: string | null;
    };
  };
  /** Read a user */
  getUser: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/users/{user_id}";
    params: {
      tenant_id: string;
      user_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      tenant_id: string;
      email: string;
      roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
      status: "active" | "disabled";
      sign_in: "password" | "oidc" | "password+oidc" | "none";
      locked_until: string | null;
      created_at: string;
      updated_at: string;
      last_login_at: string | null;
    };
  };
  /** Liveness */
  healthLive: {
    method: "GET";
    path: "/health/live";
    params: never;
    query: never;
    body: never;
    response: {
      status: "ok";
    };
  };
  /** Readiness: the store answers, every migration is applied, and the server is not shedding load; each dependency's state (Redis down is degraded, not unready: every gateway falls back the same way) */
  healthReady: {
    method: "GET";
    path: "/health/ready";
    params: never;
    query: never;
    body: never;
    response: {
      status: "ok" | "degraded";
      dependencies: {
        store: "ok" | "unavailable" | "not_configured";
        redis: "ok" | "unavailable" | "not_configured";
      };
    };
  };
  /** Liveness */
  healthz: {
    method: "GET";
    path: "/healthz";
    params: never;
    query: never;
    body: never;
    response: {
      status: "ok";
    };
  };
  /** Receive a signed webhook delivery (authenticated by its signature, not an API key) */
  ingestWebhook: {
    method: "POST";
    path: "/v1/ingest/{tenant_id}/{connector_id}";
    params: {
      tenant_id: string;
      connector_id: string;
    };
    query: never;
    body: never;
    response: {
      status: "duplicate";
    } | {
      challenge: string;
    } | "" | {
      status: "accepted";
      id: string;
    };
  };
  /** Approvals of the tenant (an agent key sees only its own requests) */
  listApprovals: {
    method: "GET";
    path: "/v1/approvals";
    params: never;
    query: {
      status?: "pending" | "approved" | "rejected" | "consumed" | "expired" | "cancelled";
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        tenant_id: string;
        requester: string;
        agent: string | null;
        operation: string;
        method: string;
        route: string;
        tier: "low" | "medium" | "high" | "critical";
        payload_sha256: string;
        required_approvals: number;
        approvals: number;
        status: "pending" | "approved" | "rejected" | "consumed" | "expired" | "cancelled";
        created_at: string;
        expires_at: string;
        decided_at: string | null;
        consumed_at: string | null;
      }[];
      next_cursor: string | null;
    };
  };
  /** Audit events, newest first, with filters and a seq cursor */
  listAuditEvents: {
    method: "GET";
    path: "/v1/audit/events";
    params: never;
    query: {
      tenant_id?: string;
      since?: string;
      until?: string;
      actor?: string;
      action?: string;
      outcome?: "success" | "denied" | "error";
      suspicious?: "true" | "false";
      cursor?: number;
      limit?: number;
    };
    body: never;
    response: {
      items: {
        seq: number;
        id: string;
        ts: string;
        tenant_id: string | null;
        actor: {
          type: string;
          id: string;
        };
        action: string;
        target_ids: string[];
        outcome: string;
        request_id: string | null;
        client_ip: string | null;
        user_agent: string | null;
        details: {
          [key: string]: unknown;
        } | null;
        prev_hash: string | null;
        hash: string | null;
      }[];
      next_cursor: string | null;
    };
  };
  /** List a tenant's connectors */
  listConnectors: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/connectors";
    params: {
      tenant_id: string;
    };
    query: {
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        tenant_id: string;
        name: string;
        source: string;
        secret_configured: boolean;
        secret_env: string | null;
        replay_window_sec: number | null;
        max_body_bytes: number | null;
        mapping: {
          [key: string]: unknown;
        };
        options: {
          [key: string]: unknown;
        };
        ingest_path: string;
        created_at: string;
        updated_at: string;
      }[];
      next_cursor: string | null;
    };
  };
  /** List a tenant's credentials (metadata only) */
  listCredentials: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/credentials";
    params: {
      tenant_id: string;
    };
    query: {
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        name: string;
        service: string;
        label: string | null;
        kind: "static" | "oauth2";
        allowed_hosts: string[];
        injection: {
          type: "bearer";
        } | {
          type: "header";
          name: string;
          prefix?: string;
        } | {
          type: "basic";
          username: string;
        } | {
          type: "query";
          param: string;
        } | {
          type: "path";
        };
        risk_tier: "low" | "medium" | "high" | "critical";
        created_at: string;
        rotated_at: string | null;
        last_used_at: string | null;
        expires_at: string | null;
        oauth: {
          connected: boolean;
          token_expires_at: string | null;
          scopes: string[];
          provider: string;
        } | null;
      }[];
      next_cursor: string | null;
    };
  };
  /** Deliveries that failed every attempt, with the error and the raw payload */
  listDeadLetters: {
    method: "GET";
    path: "/admin/webhooks/dead-letters/{tenant_id}";
    params: {
      tenant_id: string;
    };
    query: {
      limit?: number;
      cursor?: string;
      connector_id?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        connector_id: string;
        delivery_id: string;
        status: string;
        attempts: number;
        error: string | null;
        received_at: string;
        dead_at: string | null;
        headers: {
          [key: string]: string;
        };
        payload: string;
        payload_encoding: "utf8" | "base64";
      }[];
      next_cursor: string | null;
    };
  };
  /** List a tenant's namespace grants */
  listGrants: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/grants";
    params: {
      tenant_id: string;
    };
    query: {
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        grantee: string;
        namespace: string;
        types: string[] | null;
        created_at: string;
        expires_at: string | null;
        revoked_at: string | null;
      }[];
      next_cursor: string | null;
    };
  };
  /** List a tenant's keys (metadata only) */
  listKeys: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/keys";
    params: {
      tenant_id: string;
    };
    query: {
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        tenant_id: string;
        agent: string;
        name: string | null;
        start: string;
        scopes: string[];
        capabilities: string[] | null;
        namespaces: string[] | null;
        rate_limit_per_minute: number | null;
        created_at: string;
        expires_at: string | null;
        revoked_at: string | null;
        last_used_at: string | null;
        rotated_to: string | null;
      }[];
      next_cursor: string | null;
    };
  };
  /** List current memories, newest first, with filters and a cursor */
  listMemories: {
    method: "GET";
    path: "/v1/memories";
    params: never;
    query: {
      namespace?: string;
      type?: string;
      tag?: string;
      entity?: string;
      created_after?: string;
      created_before?: string;
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        version: number;
        namespace: string;
        type: string;
        content: string;
        tags: string[];
        entities: string[];
        metadata: {
          [key: string]: unknown;
        };
        importance: number;
        agent: string;
        created_at: string;
        updated_at: string;
        expires_at: string | null;
        valid_from: string | null;
        valid_to: string | null;
        is_current: boolean;
        access: "private" | "shared" | "public";
        allowed_agents: string[];
        owner: string;
        quarantined: boolean;
      }[];
      next_cursor: string | null;
    };
  };
  /** The namespaces holding memories this key can see, with counts */
  listNamespaces: {
    method: "GET";
    path: "/v1/namespaces";
    params: never;
    query: never;
    body: never;
    response: {
      items: {
        namespace: string;
        count: number;
      }[];
    };
  };
  /** List tenants (instance admin) */
  listTenants: {
    method: "GET";
    path: "/v1/tenants";
    params: never;
    query: {
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        name: string;
        status: "active";
        encryption: "aes-gcm" | "none";
        storage: "sqlite" | "markdown";
        created_at: string;
      }[];
      next_cursor: string | null;
    };
  };
  /** List a tenant's users */
  listUsers: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/users";
    params: {
      tenant_id: string;
    };
    query: {
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        tenant_id: string;
        email: string;
        roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
        status: "active" | "disabled";
        sign_in: "password" | "oidc" | "password+oidc" | "none";
        locked_until: string | null;
        created_at: string;
        updated_at: string;
        last_login_at: string | null;
      }[];
      next_cursor: string | null;
    };
  };
  /** List a tenant's outbound webhook subscriptions */
  listWebhooks: {
    method: "GET";
    path: "/v1/tenants/{tenant_id}/webhooks";
    params: {
      tenant_id: string;
    };
    query: {
      limit?: number;
      cursor?: string;
    };
    body: never;
    response: {
      items: {
        id: string;
        tenant_id: string;
        url: string;
        events: string[];
        status: "active" | "disabled";
        consecutive_failures: number;
        created_at: string;
        disabled_at: string | null;
        last_success_at: string | null;
        last_failure_at: string | null;
        last_error: string | null;
      }[];
      next_cursor: string | null;
    };
  };
  /** Sign in with email and password: an access token, and the refresh token in a cookie */
  login: {
    method: "POST";
    path: "/v1/auth/login";
    params: never;
    query: never;
    body: {
      tenant_id: string;
      email: string;
      password: string;
    };
    response: {
      access_token: string;
      token_type: "Bearer";
      expires_in: number;
      csrf_token?: string;
      user: {
        id: string;
        email: string;
        roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
      };
    };
  };
  /** Sign in with an ID token from the tenant's OpenID Connect provider */
  loginOidc: {
    method: "POST";
    path: "/v1/auth/oidc";
    params: never;
    query: never;
    body: {
      tenant_id: string;
      id_token: string;
    };
    response: {
      access_token: string;
      token_type: "Bearer";
      expires_in: number;
      csrf_token?: string;
      user: {
        id: string;
        email: string;
        roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
      };
    };
  };
  /** End the session of the refresh cookie (with X-CSRF-Token) and clear the cookies */
  logout: {
    method: "POST";
    path: "/v1/auth/logout";
    params: never;
    query: never;
    body: never;
    response: undefined;
  };
  /** Every version of a memory, newest first */
  memoryHistory: {
    method: "GET";
    path: "/v1/memories/{id}/history";
    params: {
      id: string;
    };
    query: never;
    body: never;
    response: {
      versions: {
        id: string;
        version: number;
        namespace: string;
        type: string;
        content: string;
        tags: string[];
        entities: string[];
        metadata: {
          [key: string]: unknown;
        };
        importance: number;
        agent: string;
        created_at: string;
        updated_at: string;
        expires_at: string | null;
        valid_from: string | null;
        valid_to: string | null;
        is_current: boolean;
        access: "private" | "shared" | "public";
        allowed_agents: string[];
        owner: string;
        quarantined: boolean;
      }[];
    };
  };
  /** Make an HTTP call with a credential the caller never sees */
  proxyHttp: {
    method: "POST";
    path: "/v1/proxy/http";
    params: never;
    query: never;
    body: {
      credential: string;
      method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
      url: string;
      headers?: {
        [key: string]: string;
      };
      body?: string;
    };
    response: {
      status: number;
      headers: {
        [key: string]: string;
      };
      body: string;
      body_encoding: "utf8" | "base64";
    } | {
      status: "approval_required";
      approval: unknown;
    };
  };
  /** Set the tenant's OpenID Connect provider and role mapping */
  putOidcConfig: {
    method: "PUT";
    path: "/v1/tenants/{tenant_id}/oidc";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      issuer: string;
      jwks_uri?: string;
      client_id: string;
      token_endpoint?: string;
      client_secret?: string | null;
      audience?: string;
      role_mapping: {
        claim: ("roles" | "groups" | "realm_access.roles") | string;
        map: {
          [key: string]: "ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER";
        };
      };
      default_role?: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER") | null;
      auto_provision?: boolean;
    };
    response: {
      issuer: string;
      jwks_uri?: string;
      client_id: string;
      token_endpoint?: string;
      audience?: string;
      role_mapping: {
        claim: ("roles" | "groups" | "realm_access.roles") | string;
        map: {
          [key: string]: "ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER";
        };
      };
      default_role?: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER") | null;
      auto_provision: boolean;
      client_secret_configured: boolean;
      updated_at: string;
    };
  };
  /** Replace the tenant's governance policy (omitted fields take their defaults) */
  putTenantPolicy: {
    method: "PUT";
    path: "/v1/tenants/{tenant_id}/policy";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      tiers?: {
        [key: string]: "low" | "medium" | "high" | "critical";
      };
      approvals?: {
        low?: number;
        medium?: number;
        high?: number;
        critical?: number;
      };
      approval_ttl_seconds?: number;
      anomaly?: {
        enforce?: boolean;
        max_requests_per_minute?: number;
        error_rate?: number;
        error_min_requests?: number;
        error_window_seconds?: number;
        recall_volume_factor?: number;
        recall_min_samples?: number;
      };
      guardrails?: {
        inbound?: {
          pii?: "allow" | "flag" | "mask" | "block";
          secrets?: "allow" | "flag" | "mask" | "block";
          injection?: "allow" | "flag" | "mask" | "quarantine" | "block";
          maxLength?: number;
        };
        outbound?: {
          pii?: "allow" | "flag" | "mask" | "block";
          secrets?: "allow" | "flag" | "mask" | "block";
          injection?: "allow" | "flag" | "mask" | "quarantine" | "block";
          maxLength?: number;
        };
        piiTypes?: ("EMAIL" | "PHONE" | "CREDIT_CARD" | "IBAN" | "SSN" | "IP_ADDRESS" | "PERSON")[];
        piiMinConfidence?: number;
        piiPersonModel?: boolean;
        injectionThreshold?: number;
      };
      write_injection_threshold?: number;
      ingest_injection_threshold?: number;
      embeddings?: "off" | "on";
      dedupe?: "off" | "on";
      dedupe_threshold?: number;
    };
    response: {
      tiers: {
        [key: string]: "low" | "medium" | "high" | "critical";
      };
      approvals: {
        low: number;
        medium: number;
        high: number;
        critical: number;
      };
      approval_ttl_seconds: number;
      anomaly: {
        enforce: boolean;
        max_requests_per_minute: number;
        error_rate: number;
        error_min_requests: number;
        error_window_seconds: number;
        recall_volume_factor: number;
        recall_min_samples: number;
      };
      guardrails: {
        inbound: {
          pii: "allow" | "flag" | "mask" | "block";
          secrets: "allow" | "flag" | "mask" | "block";
          injection: "allow" | "flag" | "mask" | "quarantine" | "block";
          maxLength: number;
        };
        outbound: {
          pii: "allow" | "flag" | "mask" | "block";
          secrets: "allow" | "flag" | "mask" | "block";
          injection: "allow" | "flag" | "mask" | "quarantine" | "block";
          maxLength: number;
        };
        piiTypes: ("EMAIL" | "PHONE" | "CREDIT_CARD" | "IBAN" | "SSN" | "IP_ADDRESS" | "PERSON")[];
        piiMinConfidence: number;
        piiPersonModel: boolean;
        injectionThreshold: number;
      };
      write_injection_threshold: number;
      ingest_injection_threshold: number;
      embeddings?: "off" | "on";
      dedupe: "off" | "on";
      dedupe_threshold: number;
      version: number;
      updated_at: string | null;
    };
  };
  /** Recall the memories relevant to a query, with a context block for a model prompt */
  recallMemories: {
    method: "POST";
    path: "/v1/memories/recall";
    params: never;
    query: never;
    body: {
      query: string;
      namespaces?: string[];
      types?: string[];
      tags?: string[];
      entities?: string[];
      metadata?: {
        [key: string]: string | number | boolean | null;
      };
      since?: string;
      until?: string;
      valid_at?: string;
      k?: number;
      token_budget?: number;
      include_quarantined?: boolean;
    };
    response: {
      results: {
        memory: {
          id: string;
          version: number;
          namespace: string;
          type: string;
          content: string;
          tags: string[];
          entities: string[];
          metadata: {
            [key: string]: unknown;
          };
          importance: number;
          agent: string;
          created_at: string;
          updated_at: string;
          expires_at: string | null;
          valid_from: string | null;
          valid_to: string | null;
          is_current: boolean;
          access: "private" | "shared" | "public";
          allowed_agents: string[];
          owner: string;
          quarantined: boolean;
        };
        score: number;
        why: {
          relevance: number;
          bm25: number;
          context: number;
          speaker: number;
          feedback: number;
          recency: number;
          importance: number;
          matched_terms: string[];
          in_context: boolean;
          fusion?: {
            rrf: number;
            lexical_rank: number | null;
            vector_rank: number | null;
            similarity: number | null;
          };
        };
        folded?: {
          id: string;
          similarity: number;
        }[];
      }[];
      context: string;
      context_tokens: number;
    };
  };
  /** Exchange the refresh cookie (with X-CSRF-Token) for a new access token and refresh cookie */
  refreshSession: {
    method: "POST";
    path: "/v1/auth/refresh";
    params: never;
    query: never;
    body: never;
    response: {
      access_token: string;
      token_type: "Bearer";
      expires_in: number;
      csrf_token?: string;
      user: {
        id: string;
        email: string;
        roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
      };
    };
  };
  /** Reject a pending action (DEVELOPER or ADMIN; one vote per person) */
  rejectApproval: {
    method: "POST";
    path: "/v1/approvals/{id}/reject";
    params: {
      id: string;
    };
    query: never;
    body: {
      comment?: string;
    } | null;
    response: {
      id: string;
      tenant_id: string;
      requester: string;
      agent: string | null;
      operation: string;
      method: string;
      route: string;
      tier: "low" | "medium" | "high" | "critical";
      payload_sha256: string;
      required_approvals: number;
      approvals: number;
      status: "pending" | "approved" | "rejected" | "consumed" | "expired" | "cancelled";
      created_at: string;
      expires_at: string;
      decided_at: string | null;
      consumed_at: string | null;
    };
  };
  /** Put one dead letter back in the inbox (idempotent, audited) */
  replayDeadLetter: {
    method: "POST";
    path: "/admin/webhooks/replay/{tenant_id}/{event_id}";
    params: {
      tenant_id: string;
      event_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      status: string;
      replayed: boolean;
    };
  };
  /** Put a tenant's dead letters (optionally one connector's) back in the inbox */
  replayDeadLetters: {
    method: "POST";
    path: "/admin/webhooks/replay/{tenant_id}";
    params: {
      tenant_id: string;
    };
    query: never;
    body: {
      connector_id?: string;
      limit?: number;
    };
    response: {
      replayed: number;
      ids: string[];
    };
  };
  /** Resume a key the anomaly detector paused (DEVELOPER or ADMIN) */
  resumeKey: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/keys/{key_id}/resume";
    params: {
      tenant_id: string;
      key_id: string;
    };
    query: never;
    body: never;
    response: {
      key_id: string;
      paused: boolean;
      resumed: boolean;
    };
  };
  /** Revoke a namespace grant at once */
  revokeGrant: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}/grants/{grant_id}";
    params: {
      tenant_id: string;
      grant_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      grantee: string;
      namespace: string;
      types: string[] | null;
      created_at: string;
      expires_at: string | null;
      revoked_at: string | null;
    };
  };
  /** Revoke a key at once */
  revokeKey: {
    method: "DELETE";
    path: "/v1/tenants/{tenant_id}/keys/{key_id}";
    params: {
      tenant_id: string;
      key_id: string;
    };
    query: never;
    body: never;
    response: {
      id: string;
      tenant_id: string;
      agent: string;
      name: string | null;
      start: string;
      scopes: string[];
      capabilities: string[] | null;
      namespaces: string[] | null;
      rate_limit_per_minute: number | null;
      created_at: string;
      expires_at: string | null;
      revoked_at: string | null;
      last_used_at: string | null;
      rotated_to: string | null;
    };
  };
  /** Roll the signing secret: the new one is current, the old one keeps verifying until the grace period ends */
  rotateConnectorSecret: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/connectors/{connector_id}/secret/rotate";
    params: {
      tenant_id: string;
      connector_id: string;
    };
    query: never;
    body: {
      secret: string;
      grace_seconds?: number;
    };
    response: {
      connector: {
        id: string;
        tenant_id: string;
        name: string;
        source: string;
        secret_configured: boolean;
        secret_env: string | null;
        replay_window_sec: number | null;
        max_body_bytes: number | null;
        mapping: {
          [key: string]: unknown;
        };
        options: {
          [key: string]: unknown;
        };
        ingest_path: string;
        created_at: string;
        updated_at: string;
      };
      rotation: {
        in_progress: boolean;
        rotated_at: string | null;
        previous_expires_at: string | null;
      };
    };
  };
  /** Replace a static credential's secret (sealed at once) */
  rotateCredential: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/credentials/{name}/rotate";
    params: {
      tenant_id: string;
      name: string;
    };
    query: never;
    body: {
      secret: string;
    };
    response: {
      id: string;
      name: string;
      service: string;
      label: string | null;
      kind: "static" | "oauth2";
      allowed_hosts: string[];
      injection: {
        type: "bearer";
      } | {
        type: "header";
        name: string;
        prefix?: string;
      } | {
        type: "basic";
        username: string;
      } | {
        type: "query";
        param: string;
      } | {
        type: "path";
      };
      risk_tier: "low" | "medium" | "high" | "critical";
      created_at: string;
      rotated_at: string | null;
      last_used_at: string | null;
      expires_at: string | null;
      oauth: {
        connected: boolean;
        token_expires_at: string | null;
        scopes: string[];
        provider: string;
      } | null;
    };
  };
  /** Replace a key; the old one keeps working for grace_seconds. The new key is in this response only */
  rotateKey: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/keys/{key_id}/rotate";
    params: {
      tenant_id: string;
      key_id: string;
    };
    query: never;
    body: {
      grace_seconds?: number;
    };
    response: {
      id: string;
      tenant_id: string;
      agent: string;
      name: string | null;
      start: string;
      scopes: string[];
      capabilities: string[] | null;
      namespaces: string[] | null;
      rate_limit_per_minute: number | null;
      created_at: string;
      expires_at: string | null;
      revoked_at: string | null;
      last_used_at: string | null;
      rotated_to: string | null;
      key: string;
    };
  };
  /** Replace the tenant's token signing secret: every access token of the tenant stops working */
  rotateTenantJwtSecret: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/jwt/rotate";
    params: {
      tenant_id: string;
    };
    query: never;
    body: never;
    response: {
      version: string;
      rotated_at: string;
    };
  };
  /** Freeze or unfreeze agent work globally (instance admin), for a tenant, a key or an agent name */
  setOverride: {
    method: "PUT";
    path: "/admin/override";
    params: never;
    query: never;
    body: {
      scope: "global" | "tenant" | "agent";
      tenant_id?: string;
      agent?: string;
      key_id?: string;
      frozen: boolean;
      reason: string;
    };
    response: {
      frozen: boolean;
      override: {
        scope: "global" | "tenant" | "agent";
        tenant_id: string | null;
        agent: string | null;
        key_id: string | null;
        reason: string;
        set_by: string;
        set_at: string;
      };
      cancelled_approvals: number;
    };
  };
  /** Start an OAuth 2.0 grant (authorization code + PKCE); open authorize_url in a browser */
  startCredentialOAuth: {
    method: "POST";
    path: "/v1/tenants/{tenant_id}/credentials/{name}/oauth/start";
    params: {
      tenant_id: string;
      name: string;
    };
    query: never;
    body: never;
    response: {
      authorize_url: string;
      expires_at: string;
    };
  };
  /** Store a memory, or a batch {memories: [...]} in one transaction */
  storeMemory: {
    method: "POST";
    path: "/v1/memories";
    params: never;
    query: never;
    body: {
      namespace: string;
      content: string;
      type?: string;
      tags?: string[];
      entities?: string[];
      metadata?: {
        [key: string]: (string | number | boolean | null) | ((string | number | boolean | null)[]);
      };
      importance?: number;
      ttl_seconds?: number;
      expires_at?: string;
      valid_from?: string;
      valid_to?: string;
      access?: "private" | "shared" | "public";
      allowed_agents?: string[];
    } | {
      memories: {
        namespace: string;
        content: string;
        type?: string;
        tags?: string[];
        entities?: string[];
        metadata?: {
          [key: string]: (string | number | boolean | null) | ((string | number | boolean | null)[]);
        };
        importance?: number;
        ttl_seconds?: number;
        expires_at?: string;
        valid_from?: string;
        valid_to?: string;
        access?: "private" | "shared" | "public";
        allowed_agents?: string[];
      }[];
    };
    response: {
      id: string;
      version: number;
      namespace: string;
      type: string;
      content: string;
      tags: string[];
      entities: string[];
      metadata: {
        [key: string]: unknown;
      };
      importance: number;
      agent: string;
      created_at: string;
      updated_at: string;
      expires_at: string | null;
      valid_from: string | null;
      valid_to: string | null;
      is_current: boolean;
      access: "private" | "shared" | "public";
      allowed_agents: string[];
      owner: string;
      quarantined: boolean;
      deduplicated?: {
        similarity: number;
        previous_version: number;
      };
    } | {
      memories: {
        id: string;
        version: number;
        namespace: string;
        type: string;
        content: string;
        tags: string[];
        entities: string[];
        metadata: {
          [key: string]: unknown;
        };
        importance: number;
        agent: string;
        created_at: string;
        updated_at: string;
        expires_at: string | null;
        valid_from: string | null;
        valid_to: string | null;
        is_current: boolean;
        access: "private" | "shared" | "public";
        allowed_agents: string[];
        owner: string;
        quarantined: boolean;
        deduplicated?: {
          similarity: number;
          previous_version: number;
        };
      }[];
    };
  };
  /** Live tenant events (Server-Sent Events); resume with Last-Event-ID */
  streamTenantEvents: {
    method: "GET";
    path: "/admin/stream/{tenant_id}";
    params: {
      tenant_id: string;
    };
    query: {
      follow?: "true" | "false";
      last_event_id?: string;
    };
    body: never;
    response: undefined;
  };
  /** Rename a connector or replace its config (omit the secret to keep the stored one) */
  updateConnector: {
    method: "PATCH";
    path: "/v1/tenants/{tenant_id}/connectors/{connector_id}";
    params: {
      tenant_id: string;
      connector_id: string;
    };
    query: never;
    body: {
      name?: string;
      config?: unknown;
    };
    response: {
      id: string;
      tenant_id: string;
      name: string;
      source: string;
      secret_configured: boolean;
      secret_env: string | null;
      replay_window_sec: number | null;
      max_body_bytes: number | null;
      mapping: {
        [key: string]: unknown;
      };
      options: {
        [key: string]: unknown;
      };
      ingest_path: string;
      created_at: string;
      updated_at: string;
    };
  };
  /** Write a new version of a memory */
  updateMemory: {
    method: "PATCH";
    path: "/v1/memories/{id}";
    params: {
      id: string;
    };
    query: never;
    body: {
      content?: string;
      type?: string;
      tags?: string[];
      entities?: string[];
      metadata?: {
        [key: string]: (string | number | boolean | null) | ((string | number | boolean | null)[]);
      };
      importance?: number;
      ttl_seconds?: number;
      expires_at?: string | null;
      valid_from?: string | null;
      valid_to?: string | null;
      access?: "private" | "shared" | "public";
      allowed_agents?: string[] | null;
    };
    response: {
      id: string;
      version: number;
      namespace: string;
      type: string;
      content: string;
      tags: string[];
      entities: string[];
      metadata: {
        [key: string]: unknown;
      };
      importance: number;
      agent: string;
      created_at: string;
      updated_at: string;
      expires_at: string | null;
      valid_from: string | null;
      valid_to: string | null;
      is_current: boolean;
      access: "private" | "shared" | "public";
      allowed_agents: string[];
      owner: string;
      quarantined: boolean;
    };
  };
  /** Change a user's roles, status (disabling ends their sessions) or password */
  updateUser: {
    method: "PATCH";
    path: "/v1/tenants/{tenant_id}/users/{user_id}";
    params: {
      tenant_id: string;
      user_id: string;
    };
    query: never;
    body: {
      roles?: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
      status?: "active" | "disabled";
      password?: string;
    };
    response: {
      id: string;
      tenant_id: string;
      email: string;
      roles: ("ADMIN" | "AUDIT_ADMIN" | "DEVELOPER" | "VIEWER")[];
      status: "active" | "disabled";
      sign_in: "password" | "oidc" | "password+oidc" | "none";
      locked_until: string | null;
      created_at: string;
      updated_at: string;
      last_login_at: string | null;
    };
  };
  /** Verify a chain: HMACs, sequence, retention anchor and signed checkpoints */
  verifyAuditChain: {
    method: "GET";
    path: "/v1/audit/verify";
    params: never;
    query: {
      tenant_id?: string;
    };
    body: never;
    response: {
      chain: string;
      ok: boolean;
      last_seq: number | null;
      count: number | null;
      first_bad_seq: number | null;
      reason: string | null;
      checkpoints: number;
      anchor_seq: number | null;
      anchored_seq: number | null;
    };
  };
}

export type OperationId = keyof Operations;
