import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.ts';
import { TOKEN_DEFAULTS, verifyToken } from '../src/services/auth.service.ts';

// README.md and .env.example say only what the code does: every variable they name is read,
// every command they show exists, and every file a package.json script runs is there.
const root = new URL('..', import.meta.url).pathname;
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const configKeys = new Set(Object.keys(configSchema.shape));
// the project's shell scripts (the server's and modal/'s) and the test runner's config
const scriptsSource = ['scripts', 'modal/scripts']
  .flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith('.sh'))
      .map((f) => read(`${dir}/${f}`)),
  )
  .join('\n');
const vitestConfig = read('vitest.config.ts');
// the SDK's runnable examples read their server and key from the environment
const examplesSource = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => read(`examples/${f}`))
  .join('\n');
const readByScripts = (name: string) =>
  new RegExp(`\\$\\{?${name}\\b`).test(scriptsSource) ||
  new RegExp(`process\\.env\\.${name}\\b`).test(`${vitestConfig}\n${examplesSource}`);
const packageScripts: Record<string, string> = JSON.parse(read('package.json')).scripts;
// npm's own commands, which need no entry in "scripts"
const npmBuiltins = new Set(['ci', 'install', 'i', 'exec', 'run', 'init', 'ls', 'update', 'version']);

const envExampleVars = () =>
  [...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);

/** README text outside fenced code blocks, and the fenced blocks. */
function readmeParts(): { prose: string; fenced: string } {
  const blocks: string[] = [];
  const prose = read('README.md').replace(/^```.*\n([\s\S]*?)^```$/gm, (_, body: string) => {
    blocks.push(body);
    return '';
  });
  return { prose, fenced: blocks.join('\n') };
}

/** What README shows as code: inline spans and fenced blocks. */
function readmeCode(): string[] {
  const { prose, fenced } = readmeParts();
  return [...[...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1]!), ...fenced.split('\n')];
}

/** The npm scripts README tells a person to run (`npm start`, `npm run token -- alice`, …). */
function documentedScripts(): string[] {
  const names = new Set<string>();
  for (const code of readmeCode()) {
    for (const m of code.matchAll(/\bnpm\s+(run(?:-script)?\s+(?:-s\s+)?)?([a-z][\w:-]*)/g)) {
      if (m[1] || !npmBuiltins.has(m[2]!)) names.add(m[2]!);
    }
  }
  return [...names];
}

describe('documentation', () => {
  it('every variable in .env.example is read: a key of the config schema, or used by scripts/*.sh', () => {
    const unread = envExampleVars().filter((v) => !configKeys.has(v) && !readByScripts(v));
    expect(unread, 'documented in .env.example but read by nothing').toEqual([]);
  });

  it('every key of the config schema is documented in .env.example (DESIGN §9)', () => {
    const documented = new Set(envExampleVars());
    expect([...configKeys].filter((k) => !documented.has(k))).toEqual([]);
  });

  it('every variable README names is read by the config schema or by scripts/*.sh', () => {
    // UPPER_SNAKE names that the GraphQL schema defines (error codes, enum values) are no variables
    const schema = read('schema.graphql');
    const named = new Set<string>();
    for (const code of readmeCode()) {
      for (const m of code.matchAll(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g)) {
        if (!new RegExp(`\\b${m[1]}\\b`).test(schema)) named.add(m[1]!);
      }
    }
    expect([...named].filter((v) => !configKeys.has(v) && !readByScripts(v))).toEqual([]);
  });

  it('every npm command README shows exists and provisions Node 24 through scripts/', () => {
    const documented = documentedScripts();
    expect(documented).toEqual(expect.arrayContaining(['start', 'test', 'check', 'token', 'services']));
    expect(documented.filter((s) => !(s in packageScripts))).toEqual([]);
    // the system Node may be older than 24: a documented command runs through scripts/*.sh
    const direct = documented.filter((s) => !/^bash scripts\/[\w-]+\.sh\b/.test(packageScripts[s] ?? ''));
    expect(direct, 'documented scripts that run without scripts/ (so on the system Node)').toEqual([]);
  });

  it('every file a package.json script runs exists', () => {
    const missing: string[] = [];
    for (const [name, command] of Object.entries(packageScripts)) {
      for (const token of command.split(/\s+/)) {
        if (/^[\w./-]+\.(sh|ts|mjs|cjs|js|json)$/.test(token) && !existsSync(join(root, token))) {
          missing.push(`${name}: ${token}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('npm run token prints a bearer token and npm run migration:create explains its usage', async () => {
    const secret = 'docs-test-secret-0123456789';
    const token = execFileSync('npm', ['run', '-s', 'token', '--', 'alice'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, AUTH_SECRET: secret },
    });
    const verifier = { keys: [{ keyId: TOKEN_DEFAULTS.keyId, secret }], audience: TOKEN_DEFAULTS.audience };
    expect((await verifyToken(token.trim(), verifier)).userId).toBe('alice');
    let usage = '';
    try {
      execFileSync('npm', ['run', '-s', 'migration:create'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      usage = String((error as { stderr: string }).stderr);
    }
    expect(usage).toContain('usage: npm run migration:create -- <kebab-case-name>');
  });

  it('migration:create writes the next numbered migration and lists it in orm.ts', async () => {
    // imported here so that the checks above still run where the file is missing
    const { createMigration } = await import('../src/services/adapters/postgres/migration-create.ts');
    const dir = mkdtempSync(join(tmpdir(), 'twin-migrations-'));
    try {
      const postgres = join(root, 'src/services/adapters/postgres');
      cpSync(join(postgres, 'migrations'), join(dir, 'migrations'), { recursive: true });
      cpSync(join(postgres, 'orm.ts'), join(dir, 'orm.ts'));
      const next = readdirSync(join(dir, 'migrations')).filter((f) => /^\d{4}-/.test(f)).length + 1;
      const created = createMigration({
        migrationsDir: join(dir, 'migrations'),
        ormFile: join(dir, 'orm.ts'),
        name: 'add-user-email',
      });
      const name = `${String(next).padStart(4, '0')}-add-user-email`;
      expect(created).toMatchObject({ name, className: 'AddUserEmail', listed: true });
      expect(readFileSync(created.file, 'utf8')).toContain(`override name = '${name}';`);
      const orm = readFileSync(join(dir, 'orm.ts'), 'utf8');
      expect(orm).toContain(`import { AddUserEmail } from './migrations/${name}.ts';`);
      expect(orm).toMatch(new RegExp(`\\{ name: '${name}', class: AddUserEmail \\},\\n\\];`));
      expect(() =>
        createMigration({
          migrationsDir: join(dir, 'migrations'),
          ormFile: join(dir, 'orm.ts'),
          name: 'Bad_Name',
        }),
      ).toThrow(/kebab-case/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
