import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, parseConfig } from './config.ts';

describe('configuration', () => {
  it('documents every variable in .env.example', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const missing = Object.keys(configSchema.shape).filter((key) => !documented.has(key));
    expect(missing).toEqual([]);
  });

  it('reports every invalid variable at once, without echoing secret values', () => {
    let message = '';
    try {
      parseConfig({ PORT: 'not-a-port', AUTH_SECRET: 'short', REDIS_URL: 'nope' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/AUTH_SECRET/);
    expect(message).toMatch(/REDIS_URL/);
    expect(message).not.toMatch(/short/);
  });
});
