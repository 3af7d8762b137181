/**
 * `trend-radar` — one command for every service and tool. Each area registers its own
 * subcommands from a small `commands.ts` that imports the heavy code only when the command runs.
 */
import { Command } from 'commander';
import { register as aggregator } from '../../services/aggregator/commands.ts';
import { register as catalogue } from '../../services/catalogue/commands.ts';
import { register as demo } from '../../services/demo/commands.ts';
import { register as embedder } from '../../services/embedder/commands.ts';
import { register as indexer } from '../../services/indexer/commands.ts';
import { register as ingest } from '../../services/ingest/commands.ts';
import { register as notifier } from '../../services/notifier/commands.ts';
import { register as replay } from '../../services/replay/commands.ts';
import { register as simulator } from '../../services/simulator/commands.ts';
import { explainError } from './errors.ts';
import { register as platform } from './platform-commands.ts';

const program = new Command('trend-radar')
  .description('Social listening for fashion: member photos and interactions in, reorder alerts out.')
  .showHelpAfterError()
  .addHelpText(
    'after',
    '\nEvery setting is an environment variable (see docs/configuration.md), e.g.\n' +
      '  KAFKA_BROKERS=127.0.0.1:9092 ELASTICSEARCH_URL=http://127.0.0.1:9200 trend-radar topics apply',
  );

for (const registerCommands of [
  platform,
  ingest,
  simulator,
  catalogue,
  embedder,
  aggregator,
  indexer,
  notifier,
  replay,
  demo,
]) {
  registerCommands(program);
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`trend-radar: ${explainError(error)}\n`);
  process.exit(1);
});
