import { textSha } from '../memory/extraction-cache.ts';
import type { DocumentRecord } from '../ports/document.ts';
import type { ChunkAssignment, ClusterRow, EntityRow, MemorySnapshot, TopicRow } from '../ports/memory.ts';
import { type Material, materialOf } from './material.ts';

// A small L1 version for the L2 unit tests: four themes of the person's own first-person notes
// (names and numbers in them), one chat whose assistant turns carry a marker that must never reach
// L2 data, one entity per name, and an offline-shaped bio.

export const TWIN_MARKER = 'ZEBRACORN';

const THEMES: Record<string, string[]> = {
  sailing: [
    'I sail with my friend Anna Kowalski out of Gdansk every summer. We trimmed the sails and crossed the bay in 4 hours.',
    'I love the moment the mainsail fills. Anna Kowalski steers while I trim the jib on our yacht.',
    'I reefed the mainsail when the gusts reached 25 knots. Sailing in a storm scares me a little.',
    'I keep a sailing log of every tack. My favourite harbour is Gdansk at dawn.',
  ],
  baking: [
    'I bake two loaves of sourdough every Sunday. I feed the starter with rye flour the night before.',
    'I think a hot oven matters more than the recipe. My sourdough crust cracks at 250 degrees.',
    'I learned to fold croissant dough from my aunt Maria Chen. I still fold the butter 3 times.',
    'I prefer dense rye bread over white bread. Baking on Sunday mornings calms me down.',
  ],
  astronomy: [
    'I watch Jupiter through my telescope from the garden. I logged 12 comets last year.',
    'I believe dark skies are worth protecting. I drive to the hills to see the Milky Way.',
    'I aligned my telescope on Polaris before sketching Saturn and its rings.',
    'I enjoy astronomy nights alone with a flask of tea. Orion is my favourite constellation.',
  ],
  running: [
    'I run 10 kilometres along the river every Tuesday. Running clears my head before work.',
    'I think interval training is overrated. I prefer long slow runs with my dog Biscuit.',
    'I ran my first marathon in Berlin in 2019. My legs hurt for a week afterwards.',
    'I replace my running shoes every 800 kilometres. Biscuit waits for me at the door.',
  ],
};

const CHAT_TEXT =
  `# Weekend plans\n\nuser: I want to bake rye bread and then go sailing with Anna Kowalski on Saturday.\n\n` +
  `assistant: That sounds lovely, ${TWIN_MARKER} says you should also visit Kraków.\n\n` +
  `user: I will take the sourdough starter along to Gdansk.`;

const NAMES: { title: string; type: EntityRow['type']; theme: string }[] = [
  { title: 'Anna Kowalski', type: 'person', theme: 'sailing' },
  { title: 'Gdansk', type: 'place', theme: 'sailing' },
  { title: 'Maria Chen', type: 'person', theme: 'baking' },
  { title: 'Jupiter', type: 'concept', theme: 'astronomy' },
  { title: 'Saturn', type: 'concept', theme: 'astronomy' },
  { title: 'Biscuit', type: 'concept', theme: 'running' },
  { title: 'Berlin', type: 'place', theme: 'running' },
];

const doc = (
  id: string,
  filename: string,
  kind: DocumentRecord['kind'],
  chunkCount: number,
): DocumentRecord => ({
  id,
  userId: 'u-fixture',
  filename,
  contentType: 'text/plain',
  s3Path: `raw/${id}/${filename}`,
  uploadedAt: new Date('2026-01-01T00:00:00Z'),
  processed: true,
  chunkCount,
  contentHash: id,
  status: 'processed',
  kind,
  bytes: 1,
  ingestJobId: `job-${id}`,
  perspective: 'auto',
});

export interface Fixture {
  snapshot: MemorySnapshot;
  documents: DocumentRecord[];
  /** Chunk texts in snapshot order. */
  texts: (string | null)[];
  material: Material;
}

/** The fixture, optionally with some themes only and some documents deleted since the version. */
export function fixture(options: { themes?: string[]; deleted?: string[] } = {}): Fixture {
  const themes = options.themes ?? Object.keys(THEMES);
  const documents: DocumentRecord[] = [];
  const chunks: ChunkAssignment[] = [];
  const texts: string[] = [];
  const clusters: ClusterRow[] = [];
  const topics: TopicRow[] = [];
  for (const theme of themes) {
    const documentId = `doc-${theme}`;
    documents.push(doc(documentId, `${theme}.txt`, 'document', THEMES[theme]!.length));
    const clusterId = `c-${theme}`;
    THEMES[theme]!.forEach((text, i) => {
      chunks.push({
        chunkId: `${documentId}:${i}`,
        documentId,
        chunkIndex: i,
        textSha: textSha(text),
        perspective: 'subjective',
        createdAt: '2026-01-01T00:00:00.000Z',
        clusterId,
        similarity: 0.9 - i * 0.05,
        isOutlier: false,
      });
      texts.push(text);
    });
    clusters.push({
      clusterId,
      topicId: `t-${theme}`,
      size: THEMES[theme]!.length,
      label: `${theme}, notes`,
      summary: THEMES[theme]![0]!,
      keywords: [theme, 'notes'],
      labelSource: 'keywords',
      representativeChunkIds: [`${documentId}:1`, `${documentId}:0`],
      centroid: [],
      cohesion: 0.8,
      subjectiveShare: 1,
    });
    topics.push({
      topicId: `t-${theme}`,
      parentId: null,
      depth: 0,
      label: theme,
      summary: '',
      keywords: [theme],
      clusterIds: [clusterId],
      size: THEMES[theme]!.length,
    });
  }
  documents.push(doc('doc-chat', 'chat-s1.json', 'chat', 1));
  chunks.push({
    chunkId: 'doc-chat:0',
    documentId: 'doc-chat',
    chunkIndex: 0,
    textSha: textSha(CHAT_TEXT),
    perspective: 'subjective',
    createdAt: '2026-01-02T00:00:00.000Z',
    clusterId: clusters[0]!.clusterId,
    similarity: 0.5,
    isOutlier: false,
  });
  texts.push(CHAT_TEXT);
  clusters[0]!.size++;

  const entities: EntityRow[] = NAMES.filter((n) => themes.includes(n.theme)).map((n, i) => {
    const ids = chunks.filter((_c, j) => texts[j]!.includes(n.title)).map((c) => c.chunkId);
    return {
      id: `e-${i}`,
      title: n.title,
      type: n.type,
      description: '',
      textUnitIds: ids,
      documentIds: [...new Set(ids.map((id) => id.split(':')[0]!))],
      mentionCount: ids.length,
      source: 'compromise',
    };
  });
  const secondPerson =
    `You write most about ${themes.join(', ')}. ` +
    `People who come up often: ${
      entities
        .filter((e) => e.type === 'person')
        .map((e) => e.title)
        .join(' and ') || 'nobody'
    }. ` +
    `In your words: "I bake two loaves of sourdough every Sunday."`;
  const snapshot: MemorySnapshot = {
    manifest: {
      version: 'v-fixture',
      parent: null,
      mode: 'full',
      createdAt: '2026-01-03T00:00:00.000Z',
      params: {},
      seed: 42,
      counts: { documents: 0, chunks: 0, clusters: 0, topics: 0, entities: 0, relations: 0, outliers: 0 },
      models: {
        embedding: 'x',
        projection: 'x',
        labeler: 'keywords',
        extractor: 'compromise',
        bio: 'offline',
      },
    },
    chunks,
    clusters,
    topics,
    entities,
    relations: [],
    bio: {
      version: 'v-fixture',
      generatedBy: 'offline',
      secondPerson,
      thirdPerson: secondPerson.replace(/^You/, 'They'),
      status: `Lately you have written about ${themes[0]}.`,
      topics: [],
      sourceChunkIds: chunks.slice(0, 6).map((c) => c.chunkId),
    },
  };
  const deleted = new Set(options.deleted ?? []);
  const docOf = new Map(documents.map((d) => [d.id, deleted.has(d.id) ? null : d]));
  const readable = texts.map((t, i) => (deleted.has(chunks[i]!.documentId) ? null : t));
  return { snapshot, documents, texts: readable, material: materialOf(snapshot, docOf, readable) };
}
