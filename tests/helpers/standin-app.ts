import { startTestApp, type TestApp } from './harness.ts';
import { type OpenAIStandin, type StandinScript, startOpenAIStandin } from './openai-standin.ts';

/**
 * An OpenAI stand-in model and an app with in-process workers whose replies stream from it (chats
 * never go idle mid-test); `env` adds to or overrides that. Close the app, then the model.
 */
export async function startStandinChatApp(
  script: StandinScript = {},
  env: Record<string, string> = {},
): Promise<{ model: OpenAIStandin; app: TestApp }> {
  const model = await startOpenAIStandin(script);
  try {
    const app = await startTestApp({
      withWorkers: true,
      env: { CHAT_BASE_URL: model.url, CHAT_MODEL: 'standin-model', CHAT_IDLE_MS: '600000', ...env },
    });
    return { model, app };
  } catch (error) {
    await model.close();
    throw error;
  }
}
