// What GraphiQL opens with (issue 15): one tab of example operations per area, used only while
// the browser has no tabs of its own stored, and where the bearer token goes in the header editor.

export interface GraphiQLTab {
  query: string;
  variables?: string;
  headers?: string;
}

const TOKEN_HINT = JSON.stringify({ Authorization: 'Bearer <token>' }, null, 2);

const auth = (anonymous: boolean) =>
  anonymous
    ? '# Headers: {"Authorization": "Bearer <token>"}, a token from `npm run -s token -- <userId>` or an\n' +
      '# API key (the "API keys" tab). Without one, in development, you act as user "1".'
    : '# Headers: replace <token> with a token (`npm run -s token -- <userId>`) or an API key.';

const documents = `# Documents. GraphiQL cannot attach files: upload with curl (a GraphQL multipart request),
#   curl -s localhost:4000/graphql -H 'GraphQL-Require-Preflight: 1' -H 'Authorization: Bearer <token>' \\
#     -F operations='{"query":"mutation($f: File!){ uploadDocument(file: $f){ __typename ... on Document { id status } ... on Error { code message } } }","variables":{"f":null}}' \\
#     -F map='{"0":["variables.f"]}' -F 0=@notes.md
# then watch it being ingested and list what is stored.

subscription IngestProgress {
  ingestProgress(afterSeq: 0) { documentId stage done total error seq }
}

query Documents {
  documents(first: 20) {
    __typename
    ... on QueryDocumentsConnection {
      edges { node { id filename status chunkCount perspective error uploadedAt } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Error { code message }
  }
}

mutation DeleteDocument($id: ID!) {
  deleteDocument(id: $id) { __typename ... on Error { code message } }
}
`;

const search = `# Hybrid search (semantic + full text) over your processed documents.

query Search($query: String!) {
  search(query: $query, limit: 5) {
    __typename
    ... on SearchResults {
      data { score matchedBy text charStart charEnd page document { id filename } }
    }
    ... on Error { code message }
  }
}
`;

const chat = `# Chat with your twin: StartChat, then SendMessage with its id, then TwinReply with the
# assistantMessageId (tokens stream as they are generated; pass afterSeq to resume).

mutation StartChat {
  startChat(title: "hello") { id title }
}

mutation SendMessage($sessionId: ID!, $content: String!) {
  sendMessage(sessionId: $sessionId, content: $content) {
    __typename
    ... on SendMessagePayload { assistantMessageId }
    ... on Error { code message }
  }
}

subscription TwinReply($messageId: ID!) {
  twinReply(messageId: $messageId) {
    __typename
    ... on ReplyToken { text index }
    ... on ReplyCitations { sources { documentId chunkIndex charStart charEnd page score text } }
    ... on ReplyDone { model finishReason }
    ... on ReplyFailed { error }
  }
}

mutation CancelReply($messageId: ID!) {
  cancelReply(messageId: $messageId) { __typename }
}

mutation EndChat($sessionId: ID!) {
  endChat(sessionId: $sessionId) { __typename ... on ChatSession { id title summary } ... on Error { code message } }
}
`;

const memory = `# Your L1 memory: topics, entities and the biography, rebuilt after uploads.

query Memory {
  memory {
    version
    status
    bio { secondPerson status generatedBy }
    topics(depth: 0) { id label size children { label } }
    entities(first: 10) {
      ... on MemoryEntitiesConnection { edges { node { name type mentionCount } } }
    }
  }
}

mutation RebuildMemory {
  rebuildMemory(full: false) {
    __typename
    ... on MemoryVersion { version status }
    ... on MemoryBuildRunning { stage }
  }
}

subscription MemoryProgress {
  memoryProgress(afterSeq: 0) { __typename ... on MemoryProgress { version stage done total error seq } }
}
`;

const training = `# Training your twin: StartTraining, follow it with TrainingStatus, then promote it.

mutation StartTraining {
  startTraining {
    __typename
    ... on TrainingRun { id status stage }
    ... on Error { code message }
  }
}

subscription TrainingStatus($runId: ID!) {
  trainingStatus(runId: $runId, afterSeq: 0) {
    __typename
    ... on TrainingStatus { status stage step totalSteps loss error seq }
    ... on Error { code message }
  }
}

query TrainingRuns {
  trainingRuns(first: 10) {
    __typename
    ... on QueryTrainingRunsConnection {
      edges { node { id status stage loss evaluation { promote reason } promoted } }
    }
  }
  currentModel { model trained }
}

mutation PromoteTrainingRun($id: ID!) {
  promoteTrainingRun(id: $id) {
    __typename
    ... on TrainingRun { id promoted }
    ... on Error { code message }
  }
}
`;

const apiKeys = `# API keys for programs: the secret is shown once. Use it as the bearer token here, with the
# twin CLI and SDK, or as the api key of any OpenAI client with base URL http://localhost:4000/v1.

query ApiKeys {
  apiKeys { id name prefix createdAt lastUsedAt revokedAt }
}

mutation CreateApiKey {
  createApiKey(name: "my laptop") {
    __typename
    ... on CreatedApiKey { secret apiKey { id prefix } }
    ... on Error { code message }
  }
}

mutation RevokeApiKey($id: ID!) {
  revokeApiKey(id: $id) { __typename ... on ApiKey { revokedAt } ... on Error { code message } }
}
`;

const AREAS: [string, string, Record<string, unknown>][] = [
  ['documents', documents, { id: '' }],
  ['search', search, { query: 'what did I write about sailing?' }],
  ['chat', chat, { sessionId: '', content: 'What do I think about sailing?', messageId: '' }],
  ['memory', memory, {}],
  ['training', training, { runId: '', id: '' }],
  ['api keys', apiKeys, { id: '' }],
];

/** GraphiQL's default tabs and header editor; `anonymous`: requests without a token are accepted. */
export function graphiqlExamples(options: { anonymous: boolean }) {
  // a placeholder token would refuse every example where no token is needed, so there it is a comment
  const headers = options.anonymous ? '{}' : TOKEN_HINT;
  const defaultTabs: GraphiQLTab[] = AREAS.map(([, query, variables]) => ({
    query: `${auth(options.anonymous)}\n${query}`,
    variables: JSON.stringify(variables, null, 2),
    headers,
  }));
  return { defaultTabs, defaultHeaders: headers };
}

/** Each example tab's operations, for checking them against the schema. */
export const exampleAreas = AREAS.map(([area, query]) => ({ area, query }));
