#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { TwinRequestError } from '../../sdk/node.ts';
import { chat } from './commands/chat.ts';
import { docs } from './commands/docs.ts';
import { keys, keysCreate, keysRevoke } from './commands/keys.ts';
import { login } from './commands/login.ts';
import { memory } from './commands/memory.ts';
import { search } from './commands/search.ts';
import { train } from './commands/train.ts';
import { upload } from './commands/upload.ts';
import { CliError } from './output.ts';

// `twin`: the digital twin from a terminal (README "CLI"). Every command takes --json; a failure
// is one line on stderr (`twin: …`) and a non-zero exit.

const program = new Command('twin')
  .description('Your digital twin from the terminal: upload, search, chat, memory, training, keys.')
  .addOption(new Option('--json', 'machine-readable output (no colour, no bars)'))
  .showSuggestionAfterError()
  .exitOverride()
  .configureOutput({
    outputError: (text, write) => write(`twin: ${text.replace(/^error: /, '').trim()}\n`),
  });

// --json is accepted before or after the command's name
const globals = (command: Command) => command.optsWithGlobals() as { json?: boolean };
const json = () => new Option('--json', 'machine-readable output (no colour, no bars)');

program
  .command('login')
  .description('store the server URL and an API key (in $XDG_CONFIG_HOME/twin/config.json, mode 0600)')
  .option('--url <url>', 'the server, e.g. http://localhost:4000')
  .option('--api-key <key>', 'an API key (twin keys create, or the dashboard)')
  .addOption(json())
  .action((_opts, command: Command) => login(globals(command)));

program
  .command('upload')
  .description('upload files and folders (recursively) and follow their ingest')
  .argument('<paths...>', 'files or folders')
  .addOption(json())
  .action((paths: string[], _opts, command: Command) => upload(paths, globals(command)));

program
  .command('docs')
  .description('list your documents with their status')
  .addOption(json())
  .action((_opts, command: Command) => docs(globals(command)));

program
  .command('search')
  .description('search your documents')
  .argument('<query...>', 'what to look for')
  .option('-n, --limit <n>', 'how many passages', '10')
  .addOption(json())
  .action((words: string[], _opts, command: Command) => search(words.join(' '), globals(command)));

program
  .command('chat')
  .description('chat with your twin (Ctrl-C stops a reply; Ctrl-C or Ctrl-D at the prompt exits)')
  .option('--session <id>', 'continue a chat session')
  .addOption(json())
  .action((_opts, command: Command) => chat(globals(command)));

program
  .command('memory')
  .description('your memory: the topic tree and the top entities')
  .option('-n, --entities <n>', 'how many entities', '10')
  .addOption(json())
  .action((_opts, command: Command) => memory(globals(command)));

program
  .command('train')
  .description('start training your model (--follow: stage, steps, loss and the evaluation)')
  .option('-f, --follow', 'follow the run to its end')
  .addOption(json())
  .action((_opts, command: Command) => train(globals(command)));

const keysCommand = program
  .command('keys')
  .description('list your API keys')
  .addOption(json())
  .action((_opts, command: Command) => keys(globals(command)));
keysCommand
  .command('create')
  .description('create an API key (its secret is shown once)')
  .argument('<name>', 'what the key is for')
  .addOption(json())
  .action((name: string, _opts, command: Command) => keysCreate(name, globals(command)));
keysCommand
  .command('revoke')
  .description('revoke an API key')
  .argument('<id>', 'the key id (twin keys)')
  .addOption(json())
  .action((id: string, _opts, command: Command) => keysRevoke(id, globals(command)));

function failureLine(error: unknown): { line: string; code: number } {
  if (error instanceof CliError) return { line: error.message, code: error.exitCode };
  if (error instanceof TwinRequestError) {
    if (error.code === 'UNAUTHENTICATED')
      return { line: `the server refused the API key (${error.message}): run \`twin login\``, code: 1 };
    if (error.code === 'NETWORK') {
      // fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND) is its cause's code
      const cause = (error.cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
      const reason = cause?.code ?? cause?.message;
      return { line: reason ? error.message.replace(/: [^:]*$/, `: ${reason}`) : error.message, code: 1 };
    }
    return { line: error.message, code: 1 };
  }
  return { line: error instanceof Error ? error.message : String(error), code: 1 };
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // help and version are exits with code 0; commander already printed its one line
    process.exitCode = error.exitCode;
  } else {
    const { line, code } = failureLine(error);
    process.stderr.write(`twin: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = code;
  }
}
