import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// `npm run migration:create -- <kebab-name>`: writes the next numbered migration from a template
// and adds it to the explicit list in orm.ts (migrations are listed, not globbed: see orm.ts).

export interface CreatedMigration {
  file: string;
  name: string;
  className: string;
  /** false when orm.ts did not have the expected shape and must be edited by hand */
  listed: boolean;
}

export function createMigration(opts: {
  migrationsDir: string;
  ormFile: string;
  name: string;
}): CreatedMigration {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(opts.name)) {
    throw new Error(`migration name must be kebab-case (like add-user-email), got "${opts.name}"`);
  }
  const numbers = readdirSync(opts.migrationsDir)
    .map((f) => /^(\d{4})-.*\.ts$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
  const name = `${String(Math.max(0, ...numbers) + 1).padStart(4, '0')}-${opts.name}`;
  const className = opts.name.replace(/(^|-)([a-z0-9])/g, (_, _dash, c: string) => c.toUpperCase());
  const file = join(opts.migrationsDir, `${name}.ts`);
  const orm = readFileSync(opts.ormFile, 'utf8');
  if (existsSync(file)) throw new Error(`${file} exists already`);
  if (new RegExp(`\\b${className}\\b`).test(orm)) throw new Error(`orm.ts already imports a ${className}`);

  writeFileSync(file, template(name, className));
  const importPath = `./${relative(join(opts.ormFile, '..'), file).replace(/\\/g, '/')}`;
  const listed = addToOrm(opts.ormFile, orm, { name, className, importPath });
  return { file, name, className, listed };
}

function template(name: string, className: string): string {
  return `import { Migration } from '@mikro-orm/migrations';

// TODO: say in a line or two why the schema changes (what needs the new column, table or index).
export class ${className} extends Migration {
  override name = '${name}';

  override up(): void {
    this.addSql('');
  }

  override down(): void {
    this.addSql('');
  }
}
`;
}

/** Adds the import after the last migration import and the entry at the end of `migrations`. */
function addToOrm(
  ormFile: string,
  orm: string,
  m: { name: string; className: string; importPath: string },
): boolean {
  const imports = [...orm.matchAll(/^import \{ \w+ \} from '\.\/migrations\/[^']+';\n/gm)];
  const list = /^export const migrations = \[\n(?:.*\n)*?\];\n/m.exec(orm);
  const lastImport = imports.at(-1);
  if (!lastImport || !list) return false;
  const importAt = lastImport.index + lastImport[0].length;
  const listEnd = list.index + list[0].length - '];\n'.length;
  writeFileSync(
    ormFile,
    orm.slice(0, importAt) +
      `import { ${m.className} } from '${m.importPath}';\n` +
      orm.slice(importAt, listEnd) +
      `  { name: '${m.name}', class: ${m.className} },\n` +
      orm.slice(listEnd),
  );
  return true;
}

if (import.meta.main) {
  const arg = process.argv[2];
  if (!arg || arg.startsWith('-')) {
    console.error('usage: npm run migration:create -- <kebab-case-name>   (e.g. add-user-email)');
    process.exit(2);
  }
  const here = new URL('.', import.meta.url).pathname;
  try {
    const created = createMigration({
      migrationsDir: join(here, 'migrations'),
      ormFile: join(here, 'orm.ts'),
      name: arg,
    });
    const shown = relative(process.cwd(), created.file);
    console.log(`created ${shown}: write its up() and down() SQL`);
    console.log(
      created.listed
        ? `listed it in ${relative(process.cwd(), join(here, 'orm.ts'))}; the server applies it at start-up (migrateUp)`
        : `add it to \`migrations\` in orm.ts by hand: { name: '${created.name}', class: ${created.className} }`,
    );
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
