import type { Command } from 'commander';

/** `trend-radar match …` (check photos against a feed by hand) and `trend-radar models pull`. */
export function registerMatchAndModels(program: Command): void {
  program
    .command('match')
    .description(
      'index a catalogue feed in memory and print one JSON line per image: decision and top matches',
    )
    .requiredOption('--catalogue <feed>', 'catalogue feed, JSON or CSV')
    .option('--top <k>', 'matches printed per image', '5')
    .option('--threshold <score>', 'minimum score (default: EMBEDDER_MATCH_THRESHOLD)')
    .option('--margin <score>', 'minimum lead over the runner-up (default: EMBEDDER_MATCH_MARGIN)')
    .argument('<image...>', 'image files or https URLs')
    .action(
      async (
        images: string[],
        options: { catalogue: string; top: string; threshold?: string; margin?: string },
      ) => {
        const { loadConfig } = await import('../../shared/config/env.ts');
        const { EmbedderEnv } = await import('../embedder/config.ts');
        const { createImageFetcher, loadModel } = await import('./vision-deps.ts');
        const { indexFeed, matchImages } = await import('./match.ts');
        const config = loadConfig(EmbedderEnv);
        const top = Number(options.top);
        if (!Number.isInteger(top) || top < 1 || top > 100)
          throw new Error('--top must be an integer from 1 to 100');
        const policy = {
          threshold:
            options.threshold === undefined ? config.EMBEDDER_MATCH_THRESHOLD : Number(options.threshold),
          margin: options.margin === undefined ? config.EMBEDDER_MATCH_MARGIN : Number(options.margin),
        };
        if (!Number.isFinite(policy.threshold) || !Number.isFinite(policy.margin))
          throw new Error('--threshold and --margin must be numbers');
        const describer = await loadModel(config);
        const fetcher = createImageFetcher(config);
        try {
          const catalogue = await indexFeed(options.catalogue, describer, fetcher);
          for (const problem of [...catalogue.feedProblems, ...catalogue.imageProblems]) {
            process.stderr.write(`catalogue: skipped ${JSON.stringify(problem)}\n`);
          }
          if (catalogue.index.productCount === 0)
            throw new Error(`no usable product in ${options.catalogue}`);
          const lines = await matchImages(images, catalogue.index, { describer, fetcher, top, policy });
          for (const line of lines) process.stdout.write(`${JSON.stringify(line)}\n`);
          if (lines.some((l) => l.decision === 'error')) process.exitCode = 1;
        } finally {
          await fetcher.close();
          await describer.encoder.close();
        }
      },
    );

  program
    .command('models')
    .description('image encoder models')
    .command('pull')
    .description("install the manifest's model into a local folder, verifying its sha256")
    .option('--manifest <file>', 'model manifest (default: MODEL_MANIFEST)')
    .option(
      '--from <dir|url>',
      "directory holding the file, or an https URL (default: the manifest's sourceUrl or file)",
    )
    .option('--into <dir>', 'install folder', 'models/installed')
    .action(async (options: { manifest?: string; from?: string; into: string }) => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { ModelEnv } = await import('./config.ts');
      const { loadManifest } = await import('../../shared/vision/manifest.ts');
      const { pullModel } = await import('../../shared/vision/model-install.ts');
      const config = loadConfig(ModelEnv);
      const loaded = await loadManifest(options.manifest ?? config.MODEL_MANIFEST);
      const result = await pullModel(loaded, {
        into: options.into,
        ...(options.from ? { from: options.from } : {}),
      });
      process.stdout.write(`${JSON.stringify({ model: loaded.manifest.id, ...result })}\n`);
      process.stderr.write(`use it with MODEL_FILE=${result.path}\n`);
    });
}
