/** Builds the image describer from a manifest path (the one place services load a model). */
import type { DecodeOptions } from './decode.ts';
import { DEFAULT_DECODE } from './decode.ts';
import { ImageDescriber } from './describer.ts';
import { ImageEncoder } from './encoder.ts';
import { loadManifest } from './manifest.ts';

export interface DescriberConfig {
  manifestPath: string;
  /** Replaces the manifest's `file` (e.g. a model installed by `trend-radar models pull`). */
  modelFile?: string;
  threads?: number;
  decode?: Partial<DecodeOptions>;
}

export async function loadDescriber(config: DescriberConfig): Promise<ImageDescriber> {
  const loaded = await loadManifest(config.manifestPath, config.modelFile);
  const encoder = await ImageEncoder.load(loaded, { threads: config.threads });
  return new ImageDescriber(encoder, { ...DEFAULT_DECODE, ...config.decode });
}
