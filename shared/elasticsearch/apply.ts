/**
 * Makes Elasticsearch match infra/elasticsearch: one index template per family (mapping, settings,
 * alias), the current month's index of every time-based family and the catalogue index (so every
 * alias exists before the first document and Kibana data views resolve), and the mapping of
 * existing indices extended with fields added since (additive only; a changed field is reported,
 * never forced). Idempotent: a second run reports everything unchanged.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@elastic/elasticsearch';
import { commonSettings } from '../../infra/elasticsearch/mappings.ts';
import {
  aliasName,
  catalogueIndex,
  FAMILIES,
  type FamilyId,
  type IndexFamily,
  indexPattern,
  monthlyIndex,
} from './indices.ts';

export interface EsChange {
  target: string;
  action: 'created' | 'updated' | 'unchanged' | 'fields-added' | 'drift' | 'ilm-policy';
  detail?: string;
}

export interface ApplyEsOptions {
  prefix: string;
  retentionDays: number;
  now?: Date;
  /** Only these families (defaults to all). */
  families?: readonly FamilyId[];
}

type Properties = Record<string, Record<string, unknown>>;

/**
 * The properties of `wanted` that `existing` lacks, recursing into objects, so an existing index
 * can be extended without re-sending (and conflicting on) fields it already has, such as the
 * dimension a dense_vector took from its first document.
 */
export function missingProperties(wanted: Properties, existing: Properties | undefined): Properties {
  const missing: Properties = {};
  for (const [name, field] of Object.entries(wanted)) {
    const current = existing?.[name];
    if (!current) {
      missing[name] = field;
      continue;
    }
    const wantedChildren = field.properties as Properties | undefined;
    if (wantedChildren) {
      const inner = missingProperties(wantedChildren, current.properties as Properties | undefined);
      if (Object.keys(inner).length > 0) {
        const { properties: _ignored, ...rest } = field;
        missing[name] = { ...rest, properties: inner };
      }
    }
  }
  return missing;
}

/** Fields present on both sides whose type differs: the index must be rebuilt (`trend-radar reindex`). */
export function conflictingTypes(wanted: Properties, existing: Properties | undefined, path = ''): string[] {
  const conflicts: string[] = [];
  for (const [name, field] of Object.entries(wanted)) {
    const current = existing?.[name];
    if (!current) continue;
    const wantedType = field.type ?? 'object';
    const currentType = current.type ?? 'object';
    if (wantedType !== currentType)
      conflicts.push(`${path}${name}: ${String(currentType)} → ${String(wantedType)}`);
    else if (field.properties)
      conflicts.push(
        ...conflictingTypes(
          field.properties as Properties,
          current.properties as Properties | undefined,
          `${path}${name}.`,
        ),
      );
  }
  return conflicts;
}

export function ilmPolicy(retentionDays: number): Record<string, unknown> {
  const file = JSON.parse(
    readFileSync(new URL('../../infra/elasticsearch/ilm-policy.json', import.meta.url), 'utf8'),
  ) as { _meta: Record<string, unknown>; phases: Record<string, { min_age: string }> };
  // An index is created at the start of its month at the earliest, so month length + retention.
  file.phases.delete!.min_age = `${retentionDays + 31}d`;
  return { _meta: file._meta, phases: file.phases };
}

export function retentionPolicyName(prefix: string): string {
  return `${prefix}-retention`;
}

async function ilmAvailable(client: Client): Promise<boolean> {
  try {
    await client.transport.request({ method: 'GET', path: '/_ilm/status' });
    return true;
  } catch {
    return false;
  }
}

export function indexTemplate(prefix: string, fam: IndexFamily, lifecyclePolicy?: string) {
  return {
    index_patterns: [indexPattern(prefix, fam.id)],
    // Above the built-in templates of a full distribution (100), so ours always wins for our names.
    priority: 200,
    _meta: { managed_by: 'trend-radar', description: fam.description },
    template: {
      settings: {
        ...commonSettings,
        ...(lifecyclePolicy && fam.timeBased ? { 'index.lifecycle.name': lifecyclePolicy } : {}),
      },
      mappings: fam.mapping,
      aliases: { [aliasName(prefix, fam.id)]: {} },
    },
  };
}

export async function applyIndices(client: Client, options: ApplyEsOptions): Promise<EsChange[]> {
  const { prefix, retentionDays, now = new Date() } = options;
  const wanted = FAMILIES.filter((f) => !options.families || options.families.includes(f.id));
  const changes: EsChange[] = [];

  let lifecyclePolicy: string | undefined;
  if (await ilmAvailable(client)) {
    lifecyclePolicy = retentionPolicyName(prefix);
    await client.transport.request({
      method: 'PUT',
      path: `/_ilm/policy/${encodeURIComponent(lifecyclePolicy)}`,
      body: { policy: ilmPolicy(retentionDays) },
    });
    changes.push({
      target: lifecyclePolicy,
      action: 'ilm-policy',
      detail: `delete after ${retentionDays + 31}d`,
    });
  }

  for (const fam of wanted) {
    const name = aliasName(prefix, fam.id);
    const body = indexTemplate(prefix, fam, lifecyclePolicy);
    const existing = await client.indices
      .getIndexTemplate({ name })
      .then((r) => r.index_templates[0]?.index_template)
      .catch((error: { meta?: { statusCode?: number } }) => {
        if (error.meta?.statusCode === 404) return undefined;
        throw error;
      });
    const same =
      existing && JSON.stringify(normalise(existing.template)) === JSON.stringify(normalise(body.template));
    if (!same) await client.indices.putIndexTemplate({ name, ...body } as never);
    changes.push({
      target: `template ${name}`,
      action: same ? 'unchanged' : existing ? 'updated' : 'created',
    });

    const bootstrap = fam.timeBased ? monthlyIndex(prefix, fam.id, now) : catalogueIndex(prefix);
    const exists = await client.indices.exists({ index: bootstrap });
    if (!exists) {
      await client.indices.create({ index: bootstrap }).catch((error: { meta?: { body?: unknown } }) => {
        if (!JSON.stringify(error.meta?.body ?? '').includes('resource_already_exists_exception'))
          throw error;
      });
      changes.push({ target: `index ${bootstrap}`, action: 'created' });
    }

    const mappings = await client.indices.getMapping({
      index: indexPattern(prefix, fam.id),
      allow_no_indices: true,
    });
    const wantedProperties = fam.mapping.properties as Properties;
    const wantedTemplates = fam.mapping.dynamic_templates as unknown[] | undefined;
    for (const [index, { mappings: current }] of Object.entries(mappings)) {
      const currentProperties = current.properties as Properties | undefined;
      const conflicts = conflictingTypes(wantedProperties, currentProperties);
      if (conflicts.length > 0) {
        changes.push({
          target: `index ${index}`,
          action: 'drift',
          detail: `rebuild needed: ${conflicts.join(', ')}`,
        });
        continue;
      }
      const missing = missingProperties(wantedProperties, currentProperties);
      // An index made before a dynamic template existed must get it with the fields it types.
      const templatesDiffer =
        wantedTemplates !== undefined &&
        JSON.stringify(canonical(current.dynamic_templates ?? [])) !==
          JSON.stringify(canonical(wantedTemplates));
      if (Object.keys(missing).length > 0 || templatesDiffer) {
        await client.indices.putMapping({
          index,
          properties: missing as never,
          ...(templatesDiffer ? { dynamic_templates: wantedTemplates as never } : {}),
        });
        changes.push({
          target: `index ${index}`,
          action: 'fields-added',
          detail: [...Object.keys(missing), ...(templatesDiffer ? ['dynamic templates'] : [])].join(', '),
        });
      }
    }
  }
  return changes;
}

/** Elasticsearch echoes settings as strings and nests them under `index`; compare like with like. */
function normalise(template: unknown): unknown {
  const t = template as { settings?: Record<string, unknown>; mappings?: unknown; aliases?: unknown };
  return canonical({
    settings: flattenSettings(t.settings ?? {}),
    mappings: t.mappings,
    aliases: t.aliases ?? {},
  });
}

/** Same value with object keys sorted, so key order never reads as a change. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, canonical(v)]),
    );
  return value;
}

function flattenSettings(settings: Record<string, unknown>, path = ''): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) {
    const full = path ? `${path}.${key}` : key;
    if (value && typeof value === 'object' && !Array.isArray(value))
      Object.assign(flat, flattenSettings(value as Record<string, unknown>, full));
    else flat[full.replace(/^index\./, '')] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return flat;
}
