/** What the hybrid recall tests read from the routes, and the paraphrase they recall. */

export type RecallResult = {
  memory: { id: string; content: string };
  why: {
    bm25: number;
    relevance: number;
    fusion?: {
      rrf: number;
      lexical_rank: number | null;
      vector_rank: number | null;
      similarity: number | null;
    };
  };
};
export type Status = { embedder: string | null; enabled: boolean; embedded: number; pending: number };

export const OFFSITE = "The quarterly offsite will be held in Lisbon this year";
export const OTHERS = [
  "Deploys to production happen on Tuesdays after the standup",
  "The cafeteria serves vegetarian lunch at noon",
];
export const QUESTION = "Where is the team retreat?";
