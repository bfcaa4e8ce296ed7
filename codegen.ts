import type { CodegenConfig } from '@graphql-codegen/cli';

// The typed SDK: every operation in src/sdk/operations becomes a TypedDocumentNode whose result
// and variables types come from schema.graphql. Tests and programs use it through src/sdk/client.ts.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/sdk/operations/**/*.graphql'],
  generates: {
    'src/sdk/generated/graphql.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string', Upload: 'File', File: 'File' },
        strictScalars: true,
        skipTypename: false,
      },
    },
  },
};

export default config;
