/** The embedder as its own process for the crash test: config from the environment, "ready" on stdout. */

import { EmbedderEnv } from '../../../services/embedder/config.ts';
import { startEmbedder } from '../../../services/embedder/service.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { stopOnSignals } from '../../../shared/kafka/consumer-runner.ts';
import { createLogger } from '../../../shared/observability/logger.ts';

const config = loadConfig(EmbedderEnv);
const logger = createLogger('embedder', config.LOG_LEVEL);
const embedder = await startEmbedder(config, { logger });
stopOnSignals(logger, () => embedder.stop());
await embedder.ready();
process.stdout.write('ready\n');
