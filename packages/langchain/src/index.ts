/**
 * Hypha memory for LangChain.js: a retriever whose documents carry the memory id, score and metadata,
 * and a chat message history stored as memories.
 *
 * @example
 * ```ts
 * import { createHyphaClient } from "@hypha/client";
 * import { HyphaChatMessageHistory, HyphaRetriever } from "@hypha/langchain";
 * const client = createHyphaClient({ url, key });
 * const docs = await new HyphaRetriever({ client, k: 4 }).invoke("where is the offsite?");
 * const history = new HyphaChatMessageHistory({ client, sessionId: "user-42" });
 * ```
 */
import type { HyphaClient, Memory, RecallRequest } from "@hypha/client";
import { listAllMemories } from "@hypha/client";
import { BaseListChatMessageHistory } from "@langchain/core/chat_history";
import { Document } from "@langchain/core/documents";
import {
  type BaseMessage,
  mapChatMessagesToStoredMessages,
  mapStoredMessagesToChatMessages,
  type StoredMessage,
} from "@langchain/core/messages";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";

export type HyphaDocumentMetadata = {
  id: string;
  score: number;
  namespace: string;
  type: string;
  tags: string[];
  entities: string[];
  created_at: string;
  /** The memory's own metadata. */
  metadata: Memory["metadata"];
};

export type HyphaRetrieverInput = BaseRetrieverInput & {
  client: HyphaClient;
  /** How many memories (default 4). */
  k?: number;
  /** Extra recall filters (namespaces, tags, entities, …). */
  filter?: Omit<RecallRequest, "query" | "k">;
};

/** Recalls memories for a query; each document's metadata names the memory id and its score. */
export class HyphaRetriever extends BaseRetriever<HyphaDocumentMetadata> {
  static lc_name() {
    return "HyphaRetriever";
  }
  lc_namespace = ["hypha", "retrievers"];
  private readonly client: HyphaClient;
  private readonly k: number;
  private readonly filter: Omit<RecallRequest, "query" | "k">;

  constructor(fields: HyphaRetrieverInput) {
    super(fields);
    this.client = fields.client;
    this.k = fields.k ?? 4;
    this.filter = fields.filter ?? {};
  }

  async _getRelevantDocuments(query: string): Promise<Document<HyphaDocumentMetadata>[]> {
    const recalled = await this.client.recallMemories({ ...this.filter, query, k: this.k });
    return recalled.results.map(
      ({ memory: m, score }) =>
        new Document<HyphaDocumentMetadata>({
          id: m.id,
          pageContent: m.content,
          metadata: {
            id: m.id,
            score,
            namespace: m.namespace,
            type: m.type,
            tags: m.tags,
            entities: m.entities,
            created_at: m.created_at,
            metadata: m.metadata,
          },
        }),
    );
  }
}

export type HyphaChatMessageHistoryInput = {
  client: HyphaClient;
  /** One conversation; its messages are memories tagged with this session. */
  sessionId: string;
  /** Where the messages are filed (default "chat"). */
  namespace?: string;
};

/**
 * A conversation kept in Hypha: each message is a memory of type `chat_message` carrying the message
 * as LangChain stores it, so a later process (or another replica) reads the same history.
 */
export class HyphaChatMessageHistory extends BaseListChatMessageHistory {
  lc_namespace = ["hypha", "chat_history"];
  private readonly client: HyphaClient;
  private readonly entity: string;
  private readonly namespace: string;

  constructor(fields: HyphaChatMessageHistoryInput) {
    super(fields);
    this.client = fields.client;
    this.entity = `session:${fields.sessionId}`;
    this.namespace = fields.namespace ?? "chat";
  }

  async getMessages(): Promise<BaseMessage[]> {
    const stored: Memory[] = [];
    for await (const m of listAllMemories(this.client, {
      namespace: this.namespace,
      entity: this.entity,
      type: "chat_message",
      limit: 200,
    }))
      stored.push(m);
    const seq = (m: Memory) => Number(m.metadata.seq ?? 0);
    stored.sort((a, b) => seq(a) - seq(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return mapStoredMessagesToChatMessages(
      stored.map((m) => {
        const shell = JSON.parse(String(m.metadata.lc_message)) as StoredMessage;
        // The text lives in the memory's content (metadata values are short); the rest in the shell.
        return { ...shell, data: { ...shell.data, content: m.content } };
      }),
    );
  }

  async addMessage(message: BaseMessage): Promise<void> {
    await this.addMessages([message]);
  }

  async addMessages(messages: BaseMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const stored = mapChatMessagesToStoredMessages(messages);
    // Ids of one batch share a millisecond and need not sort in order: the sequence keeps it.
    const base = Date.now() * 1000;
    await this.client.storeMemory({
      memories: stored.map((s, i) => ({
        namespace: this.namespace,
        type: "chat_message",
        content: s.data.content,
        entities: [this.entity],
        metadata: {
          role: s.type,
          seq: base + i,
          lc_message: JSON.stringify({ ...s, data: { ...s.data, content: "" } }),
        },
      })),
    });
  }

  async clear(): Promise<void> {
    await this.client.bulkDeleteMemories({ entity: this.entity });
  }
}
