/** Settings of `trend-radar simulate` (environment variables; scenario knobs are command flags). */
import { z } from 'zod';
import { BaseEnv } from '../../shared/config/env.ts';

/** Where the synthetic catalogue is rendered when no catalogue is named (only there: a mistyped path is an error). */
export const SYNTHETIC_CATALOGUE_DIR = '.trend-radar/synthetic-catalogue';

export const SimulatorEnv = BaseEnv.extend({
  /** Where `simulate run --via http` sends (must be an ingest service). */
  SIMULATOR_INGEST_URL: z.url().default('http://127.0.0.1:8080'),
  /** API key for the ingest service (mint one with `trend-radar ingest mint-key --name simulator`). */
  SIMULATOR_API_KEY: z.string().min(1).optional(),
  /** Catalogue feed folder (luma format); the synthetic one is rendered there if missing. */
  SIMULATOR_CATALOGUE_DIR: z.string().min(1).default(SYNTHETIC_CATALOGUE_DIR),
  /** Where the ground truth of the last run is written. */
  SIMULATOR_TRUTH_FILE: z.string().min(1).default('.trend-radar/simulation-truth.json'),
});
export type SimulatorConfig = z.infer<typeof SimulatorEnv>;
