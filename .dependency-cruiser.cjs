// Dependency rules of DESIGN §11 and STYLE "Layout that shows the architecture", run by
// `npm run deps:check` (part of `npm run check`). Data flows one way:
//   src/schema (GraphQL types) → src/resolvers (thin glue) → src/services (domain + ports)
//   → src/services/adapters (the only code that imports an outside-system SDK)
// and src/container.ts, the composition root, wires adapters to services.
//
// Parser: swc, not tsc. The project's TypeScript is 7 (the native compiler), which has no JS
// compiler API, and dependency-cruiser's tsc parser supports TypeScript < 7 only. swc parses the
// .ts source as written, so `import type` / `export type` edges stay in the graph (marked
// "type-only"), which is what tsPreCompilationDeps gives with tsc: a type-only cycle is a cycle,
// and a type-only import of an adapter is an import of an adapter.

// Without swc dependency-cruiser parses no .ts file and only warns, so every rule would pass on an
// empty graph: refuse to run instead.
try {
  require.resolve('@swc/core');
} catch {
  throw new Error('deps:check needs @swc/core (a devDependency) to parse the .ts sources: run npm ci');
}

// Only src/ is cruised: tests/ and bench/ may use the SDKs directly.

// Everything that ties code to GraphQL, a transport or an outside system: none of it in services.
const NOT_IN_SERVICES = [
  'graphql',
  'graphql-yoga',
  '@graphql-yoga/[^/]+',
  '@pothos/[^/]+',
  'graphql-ws',
  'ws',
  'graphql-sse',
  'bullmq',
  'ioredis',
  'pg',
  '@mikro-orm/[^/]+',
  'weaviate-client',
  '@aws-sdk/[^/]+',
  'openai',
  '@envelop/[^/]+',
];

// The outside systems' SDKs: only adapters talk to them.
const SDKS = [
  'bullmq',
  'ioredis',
  'pg',
  '@mikro-orm/[^/]+',
  'weaviate-client',
  '@aws-sdk/[^/]+',
  'openai',
  '@graphql-yoga/redis-event-target',
  'rate-limiter-flexible',
  'prom-client',
];

// Matches a package resolved (node_modules/pg/esm/index.mjs, also through a symlinked
// node_modules) or left unresolved (pg, as for a types-only package).
const packages = (names) => `(^|/)node_modules/(${names.join('|')})/|^(${names.join('|')})(/|$)`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles anywhere in src/, type-only imports included: the composition root ' +
        'receives the job registry so jobs and services never import each other in a circle (DESIGN §11).',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'services-no-graphql-transport-or-sdk',
      severity: 'error',
      comment:
        'Services outside adapters/ hold domain logic and ports only: no graphql, yoga, Pothos, ' +
        'envelop, ws/sse transports, BullMQ or outside-system SDKs (STYLE: services never import ' +
        'graphql, yoga or bullmq). Receive a port instead.',
      from: { path: '^src/services/', pathNot: '^src/services/adapters/' },
      to: { path: packages(NOT_IN_SERVICES) },
    },
    {
      name: 'sdk-only-in-adapters',
      severity: 'error',
      comment:
        'Only src/services/adapters/** imports an outside-system SDK (DESIGN §11). src/container.ts ' +
        'wires adapters and imports them, never an SDK directly.',
      from: { path: '^src/', pathNot: '^src/services/adapters/' },
      to: { path: packages(SDKS) },
    },
    {
      name: 'services-not-above-them',
      severity: 'error',
      comment:
        'Services never import what sits above them: jobs, schema, resolvers, the server, the ' +
        'composition root, the GraphQL context or the loaders. Pass what they need in as arguments or ports.',
      from: { path: '^src/services/' },
      to: {
        path: ['^src/(jobs|schema|resolvers)/', '^src/(server|container|context|loaders)\\.ts$'],
      },
    },
    {
      name: 'api-and-jobs-not-adapters',
      severity: 'error',
      comment:
        'Schema, resolvers and jobs use ports, domain services and their types, never an adapter ' +
        '(a type-only import of an adapter type counts too): only src/container.ts knows adapters.',
      from: { path: '^src/(schema|resolvers|jobs)/' },
      to: { path: '^src/services/adapters/' },
    },
    {
      name: 'ports-are-interfaces',
      severity: 'error',
      comment:
        'Ports are interfaces: they import only other ports and src/services/errors.ts, nothing ' +
        'from domain services or adapters.',
      from: { path: '^src/services/ports/' },
      to: {
        path: '^src/services/',
        pathNot: ['^src/services/ports/', '^src/services/errors\\.ts$'],
      },
    },
    {
      name: 'resolvers-not-schema',
      severity: 'error',
      comment:
        'Data flows schema → resolvers → services: a schema file (types and the root fields that ' +
        'return them) imports its resolver, so a resolver never imports src/schema/** (that would ' +
        'point back up, and with the schema importing resolvers, make a cycle).',
      from: { path: '^src/resolvers/' },
      to: { path: '^src/schema/' },
    },
  ],
  options: {
    parser: 'swc',
    moduleSystems: ['es6', 'cjs'],
    // Packages are leaves: the rules need to see that src imports them, not what they import.
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: {
      // Sources import each other with explicit .ts specifiers (Node 24 type stripping).
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main'],
    },
  },
};
