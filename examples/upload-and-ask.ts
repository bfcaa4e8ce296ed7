// Uploads files, waits until each is processed or failed, then asks the twin a question and prints
// the reply as it streams, with its sources.
//   TWIN_URL=http://localhost:4000/graphql TWIN_API_KEY=dt_… node examples/upload-and-ask.ts \
//     examples/notes.md "When do I go sailing?"
import { createTwinClient, StartChatDocument } from 'digital-twin-server/sdk/node';

const args = process.argv.slice(2);
const question = args.pop() ?? 'What do I write about?';
const files = args.length > 0 ? args : [new URL('notes.md', import.meta.url).pathname];

const twin = createTwinClient({
  url: process.env.TWIN_URL ?? 'http://localhost:4000/graphql',
  apiKey: process.env.TWIN_API_KEY,
});

try {
  const results = await twin.uploadFiles(files, {
    onProgress: (p) => console.log(`  ${p.filename}: ${p.stage} ${p.done}/${p.total}`),
  });
  const names = new Map<string, string>();
  for (const r of results) {
    if (r.document) names.set(r.document.id, r.filename);
    if (r.status === 'PROCESSED') console.log(`✓ ${r.filename}: ${r.document?.chunkCount} chunks`);
    else console.log(`✗ ${r.filename}: ${r.status} (${r.reason})`);
  }

  const { startChat } = await twin.request(StartChatDocument, { title: 'SDK example' });
  console.log(`\n> ${question}`);
  for await (const event of twin.ask(startChat.id, question)) {
    if (event.type === 'refused') throw new Error(`${event.result.__typename}: ${event.result.message}`);
    if (event.type === 'delta') process.stdout.write(event.text);
    if (event.type === 'failed') throw new Error(`the reply failed: ${event.error}`);
    if (event.type === 'citations')
      for (const [i, c] of event.citations.entries())
        console.log(
          `${i === 0 ? '\n\nSources:\n' : ''}[${i + 1}] ${names.get(c.documentId) ?? c.documentId} #${c.chunkIndex}`,
        );
    if (event.type === 'done')
      console.log(`\n(${event.finishReason}, ${event.message.content.length} characters)`);
  }
} finally {
  await twin.close();
}
