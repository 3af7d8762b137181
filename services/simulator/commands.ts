import { type Command, InvalidArgumentError, Option } from 'commander';

interface RunFlags {
  via: 'http' | 'kafka';
  catalogue?: string;
  seed: number;
  days: number;
  start?: string;
  members: number;
  uploadsPerDay: number;
  interactionsPerPost: number;
  speed?: number;
  rate?: number;
  truth?: string;
  inventory: boolean;
  photoStrength: number;
}

/** A flag's number, checked: `abc` or `0` would otherwise run a whole scenario unpaced or empty. */
function numberFlag(what: string, check: (n: number) => boolean, integer = false) {
  return (value: string): number => {
    const n = Number(value.trim());
    if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || !check(n))
      throw new InvalidArgumentError(`must be ${what}.`);
    return n;
  };
}
const seedFlag = numberFlag('a whole number', () => true, true);
const positiveFlag = numberFlag('a number above 0', (n) => n > 0);
const countFlag = numberFlag('a whole number above 0', (n) => n > 0, true);
const nonNegativeFlag = numberFlag('a number of 0 or more', (n) => n >= 0);
const strengthFlag = numberFlag('between 0 and 1', (n) => n >= 0 && n <= 1);

/** `trend-radar simulate run | catalogue | photos | scenario`. */
export function register(program: Command): void {
  const simulate = program
    .command('simulate')
    .description(
      'Net Set traffic generator: members, uploads with phone-like photos, interactions, planted trends and decoys.',
    )
    .addHelpText('after', '\nSettings: docs/configuration.md; model and ground truth: docs/simulator.md.');

  simulate
    .command('run', { isDefault: true })
    .description(
      'generate a scenario and send it through the ingest API or straight to Kafka; write the ground truth',
    )
    .addOption(
      new Option('--via <target>', 'http (the ingest API) or kafka (bulk: blob store + topics)')
        .choices(['http', 'kafka'])
        .default('http'),
    )
    .option('--catalogue <dir>', 'catalogue feed folder (luma format), default SIMULATOR_CATALOGUE_DIR')
    .option('--seed <n>', 'scenario seed', seedFlag, 1)
    .option('--days <n>', 'simulated days', positiveFlag, 7)
    .option('--start <iso>', 'first simulated instant (default: <days> before now)')
    .option('--members <n>', 'community size', countFlag, 2000)
    .option('--uploads-per-day <n>', 'organic uploads per day', nonNegativeFlag, 800)
    .option('--interactions-per-post <n>', 'mean interactions per post', nonNegativeFlag, 6)
    .option(
      '--speed <x>',
      'simulated time per wall time, e.g. 2016 plays a week in 5 minutes (default: no pacing)',
      positiveFlag,
    )
    .option('--rate <n>', 'at most n events per second', positiveFlag)
    .option('--truth <file>', 'ground truth output, default SIMULATOR_TRUTH_FILE')
    .option('--no-inventory', 'do not publish the inventory snapshot')
    .option('--photo-strength <0..1>', 'how hard the phone photos are', strengthFlag, 1)
    .action(async (flags: RunFlags) => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { SimulatorEnv, SYNTHETIC_CATALOGUE_DIR } = await import('./config.ts');
      const { runSimulation } = await import('./simulate.ts');
      const { ensureCatalogue } = await import('./catalogue-files.ts');
      const { createKafka } = await import('../../shared/kafka/client.ts');
      const { FilesystemBlobStore } = await import('../../shared/blobstore/blob-store.ts');
      const { default: progress } = await import('cli-progress');
      const config = loadConfig(SimulatorEnv);
      const catalogueDir = flags.catalogue ?? config.SIMULATOR_CATALOGUE_DIR;
      await ensureCatalogue(catalogueDir, catalogueDir === SYNTHETIC_CATALOGUE_DIR, (line) =>
        console.error(line),
      );
      const kafka = createKafka({
        brokers: config.KAFKA_BROKERS,
        clientId: `${config.KAFKA_CLIENT_ID}-simulator`,
      });
      if (flags.via === 'http' && !config.SIMULATOR_API_KEY)
        throw new Error(
          'SIMULATOR_API_KEY is not set (mint one with `trend-radar ingest mint-key --name simulator --file <the INGEST_API_KEYS_FILE of ingest>`)',
        );
      const bar = new progress.SingleBar(
        {
          format:
            'simulate [{bar}] {percentage}% | {value}/{total} events | {uploads} uploads | sim {simulated} | rejected {rejected}',
        },
        progress.Presets.shades_classic,
      );
      let started = false;
      const truthFile = flags.truth ?? config.SIMULATOR_TRUTH_FILE;
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const result = await runSimulation({
        catalogueDir,
        scenario: {
          seed: flags.seed,
          days: flags.days,
          start: flags.start,
          members: flags.members,
          uploadsPerDay: flags.uploadsPerDay,
          interactionsPerPost: flags.interactionsPerPost,
        },
        target:
          flags.via === 'kafka'
            ? {
                kind: 'kafka',
                kafka,
                namespace: config.TOPIC_NAMESPACE,
                blobStore: new FilesystemBlobStore(config.BLOB_STORE_DIR),
              }
            : { kind: 'http', url: config.SIMULATOR_INGEST_URL, apiKey: config.SIMULATOR_API_KEY! },
        speed: flags.speed,
        rate: flags.rate,
        inventory: flags.inventory ? { kafka, namespace: config.TOPIC_NAMESPACE } : undefined,
        photoStrength: flags.photoStrength,
        truthFile,
        signal: abort.signal,
        onProgress: (p) => {
          const payload = {
            uploads: p.uploads,
            simulated: p.simulatedTime.slice(0, 16),
            rejected: p.rejected,
          };
          if (!started) {
            bar.start(p.total, p.sent, payload);
            started = true;
          } else bar.update(p.sent, payload);
        },
      });
      bar.stop();
      console.error(
        `sent ${result.uploads} uploads and ${result.interactions} interactions (${result.rejected} rejected) in ${result.seconds.toFixed(1)} s`,
      );
      for (const trend of result.truth.trends)
        console.error(
          `planted trend: ${trend.sku} from ${trend.onset} in ${trend.regions.join(', ')} (×${trend.growth})`,
        );
      for (const decoy of result.truth.decoys) console.error(`decoy ${decoy.kind}: ${decoy.sku}`);
      console.error(`ground truth: ${truthFile}`);
    });

  simulate
    .command('catalogue')
    .description('render the synthetic catalogue (catalogue.json + images/, luma format) into a folder')
    .requiredOption('--out <dir>', 'output folder')
    .option('--seed <n>', 'catalogue seed', '1')
    .action(async (flags: { out: string; seed: string }) => {
      const { writeSyntheticCatalogue } = await import('./synthetic-catalogue.ts');
      const { default: progress } = await import('cli-progress');
      const bar = new progress.SingleBar(
        { format: 'render [{bar}] {value}/{total} products' },
        progress.Presets.shades_classic,
      );
      let started = false;
      const products = await writeSyntheticCatalogue(flags.out, {
        seed: Number(flags.seed),
        onProgress: (done, total) => {
          if (!started) {
            bar.start(total, done);
            started = true;
          } else bar.update(done);
        },
      });
      bar.stop();
      console.error(`wrote ${products.length} products to ${flags.out}`);
    });

  simulate
    .command('photos')
    .description(
      'write a labelled set of phone-like photos of a catalogue (photos/*.jpg + labels.json) to check a matcher',
    )
    .requiredOption('--out <dir>', 'output folder')
    .option('--catalogue <dir>', 'catalogue feed folder, default SIMULATOR_CATALOGUE_DIR')
    .option('--count <n>', 'number of photos', '200')
    .option('--seed <n>', 'seed', '1')
    .option('--photo-strength <0..1>', 'how hard the photos are', '1')
    .action(
      async (flags: {
        out: string;
        catalogue?: string;
        count: string;
        seed: string;
        photoStrength: string;
      }) => {
        const { loadConfig } = await import('../../shared/config/env.ts');
        const { SimulatorEnv, SYNTHETIC_CATALOGUE_DIR } = await import('./config.ts');
        const { ensureCatalogue } = await import('./catalogue-files.ts');
        const { writePhotoSet } = await import('./photo-set.ts');
        const config = loadConfig(SimulatorEnv);
        const catalogueDir = flags.catalogue ?? config.SIMULATOR_CATALOGUE_DIR;
        await ensureCatalogue(catalogueDir, catalogueDir === SYNTHETIC_CATALOGUE_DIR, (line) =>
          console.error(line),
        );
        const labels = await writePhotoSet({
          catalogueDir,
          out: flags.out,
          count: Number(flags.count),
          seed: Number(flags.seed),
          strength: Number(flags.photoStrength),
        });
        console.error(`wrote ${labels.length} photos and labels.json to ${flags.out}`);
      },
    );

  simulate
    .command('scenario')
    .description('print the scenario summary (or write it all with --out) without sending anything')
    .option('--catalogue <dir>', 'catalogue feed folder, default SIMULATOR_CATALOGUE_DIR')
    .option('--seed <n>', 'scenario seed', '1')
    .option('--days <n>', 'simulated days', '7')
    .option('--start <iso>', 'first simulated instant', '2025-06-02T00:00:00Z')
    .option('--out <file>', 'write the whole scenario (events, inventory, truth) as JSON')
    .action(
      async (flags: { catalogue?: string; seed: string; days: string; start: string; out?: string }) => {
        const { loadConfig } = await import('../../shared/config/env.ts');
        const { SimulatorEnv, SYNTHETIC_CATALOGUE_DIR } = await import('./config.ts');
        const { loadCatalogueFeed } = await import('./simulate.ts');
        const { ensureCatalogue } = await import('./catalogue-files.ts');
        const { generateScenario } = await import('./scenario.ts');
        const config = loadConfig(SimulatorEnv);
        const dir = flags.catalogue ?? config.SIMULATOR_CATALOGUE_DIR;
        await ensureCatalogue(dir, dir === SYNTHETIC_CATALOGUE_DIR, (line) => console.error(line));
        const scenario = generateScenario({
          seed: Number(flags.seed),
          days: Number(flags.days),
          start: flags.start,
          catalogue: await loadCatalogueFeed(dir),
        });
        if (flags.out) {
          const { writeFile } = await import('node:fs/promises');
          await writeFile(flags.out, JSON.stringify(scenario));
        }
        console.log(
          JSON.stringify(
            { stats: scenario.stats, trends: scenario.truth.trends, decoys: scenario.truth.decoys },
            null,
            2,
          ),
        );
      },
    );
}
