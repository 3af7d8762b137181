/**
 * What can be checked about the saved objects without a Kibana: every reference resolves inside
 * the file, and every field a data view, saved search, Lens column or map layer uses exists in the
 * index mapping with a type that can do what the object asks of it. Also the translation of each
 * panel into the Elasticsearch request Kibana would send (simplified: same aggregations and
 * filters), which the integration test runs against the real node.
 */
import { FAMILIES, type FamilyId } from '../../shared/elasticsearch/indices.ts';
import type { SavedObject } from './saved-objects.ts';

const NUMERIC = new Set([
  'long',
  'integer',
  'short',
  'byte',
  'double',
  'float',
  'half_float',
  'scaled_float',
]);
const AGGREGATABLE = new Set([...NUMERIC, 'keyword', 'date', 'boolean']);

type Properties = Record<string, { type?: string; properties?: Properties; fields?: Properties }>;

/** The mapped type of a dotted field path (`location.point`, `caption.keyword`), or undefined. */
export function fieldType(family: FamilyId, path: string): string | undefined {
  const mapping = FAMILIES.find((f) => f.id === family)!.mapping as { properties: Properties };
  let properties: Properties | undefined = mapping.properties;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const field: Properties[string] | undefined = properties?.[parts[i]!];
    if (!field) return undefined;
    if (i === parts.length - 1) return field.type ?? 'object';
    properties = field.properties ?? field.fields;
  }
  return undefined;
}

/** `trendradar-mentions` → `mentions`. */
export function familyOfDataView(view: SavedObject): FamilyId {
  const title = String(view.attributes.title);
  const family = FAMILIES.find((f) => title === `trendradar-${f.id}`);
  if (!family) throw new Error(`data view ${view.id} (${title}) is not over a Trend Radar alias`);
  return family.id;
}

export interface FieldUse {
  object: string;
  field: string;
  needs: 'exists' | 'aggregatable' | 'numeric' | 'date' | 'geo_point';
}

export interface LensLayer {
  columns: Record<string, LensColumn>;
  columnOrder: string[];
}

export interface LensColumn {
  operationType: string;
  sourceField: string;
  isBucketed: boolean;
  /** `date` for the maximum of a date field. */
  dataType?: string;
  params?: {
    size?: number;
    orderBy?: { type: string; columnId?: string };
    orderDirection?: string;
    /** last_value: the date field that decides which document is the last. */
    sortField?: string;
  };
}

export function lensLayers(lens: SavedObject): Array<[string, LensLayer]> {
  const state = lens.attributes.state as {
    datasourceStates: { formBased: { layers: Record<string, LensLayer> } };
  };
  return Object.entries(state.datasourceStates.formBased.layers);
}

export type KqlRange = '>=' | '>' | '<=' | '<';
/**
 * One KQL clause: `field : value`, `not field : value` (then `'not'`), `field >= 2` (a range), or
 * `field : *` (the field exists: value `'*'`).
 */
export type KqlTerm =
  | [field: string, value: string | boolean]
  | [field: string, value: string | boolean, 'not']
  | [field: string, value: number, KqlRange];

/**
 * `field : value and not field : "value" and field >= 2 and field : *` (the only KQL the objects
 * use) → field/value pairs, a third element `'not'` on a negated clause or the operator of a range.
 */
export function kqlTerms(query: string): KqlTerm[] {
  if (query.trim() === '') return [];
  return query.split(/\s+and\s+/i).map((clause): KqlTerm => {
    const range = /^\s*([\w.@]+)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(clause);
    if (range) return [range[1]!, Number(range[3]), range[2] as KqlRange];
    const match = /^\s*(not\s+)?([\w.@]+)\s*:\s*(?:"([^"]*)"|(\S+))\s*$/i.exec(clause);
    if (!match) throw new Error(`unsupported KQL clause ${JSON.stringify(clause)}`);
    const raw = match[3] ?? match[4]!;
    const value = raw === 'true' ? true : raw === 'false' ? false : raw;
    return match[1] ? [match[2]!, value, 'not'] : [match[2]!, value];
  });
}

/** Every reference that does not name an object of the right type in the file. */
export function unresolvedReferences(objects: SavedObject[]): string[] {
  const known = new Set(objects.map((o) => `${o.type}:${o.id}`));
  const problems: string[] = [];
  for (const o of objects) {
    for (const ref of o.references) {
      if (!known.has(`${ref.type}:${ref.id}`))
        problems.push(`${o.type} ${o.id} → ${ref.type} ${ref.id} (${ref.name})`);
    }
  }
  return problems;
}

/** Reference names an object's body points at that its `references` do not provide. */
export function danglingRefNames(objects: SavedObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const names = new Set(o.references.map((r) => r.name));
    const wanted: string[] = [];
    if (o.type === 'dashboard') {
      const panels = JSON.parse(String(o.attributes.panelsJSON)) as Array<{
        panelIndex: string;
        panelRefName: string;
      }>;
      wanted.push(...panels.map((p) => `${p.panelIndex}:${p.panelRefName}`));
    } else if (o.type === 'lens') {
      wanted.push(...lensLayers(o).map(([id]) => `indexpattern-datasource-layer-${id}`));
    } else if (o.type === 'map') {
      const layers = JSON.parse(String(o.attributes.layerListJSON)) as Array<{
        sourceDescriptor: { indexPatternRefName?: string };
      }>;
      wanted.push(
        ...layers.flatMap((l) =>
          l.sourceDescriptor.indexPatternRefName ? [l.sourceDescriptor.indexPatternRefName] : [],
        ),
      );
    } else if (o.type === 'search') {
      const source = JSON.parse(
        String((o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON),
      ) as {
        indexRefName?: string;
      };
      if (source.indexRefName) wanted.push(source.indexRefName);
    }
    for (const name of wanted)
      if (!names.has(name)) problems.push(`${o.type} ${o.id} needs reference ${name}`);
  }
  return problems;
}

/** The data view an object reads, resolved through its references. */
export function dataViewOf(object: SavedObject, objects: SavedObject[]): SavedObject {
  const ref = object.references.find((r) => r.type === 'index-pattern');
  const view = objects.find((o) => o.type === 'index-pattern' && o.id === ref?.id);
  if (!view) throw new Error(`${object.type} ${object.id} has no data view`);
  return view;
}

/** A KQL clause needs its field mapped; a range clause needs it numeric. */
function kqlUse([field, , op]: KqlTerm): Pick<FieldUse, 'field' | 'needs'> {
  return { field, needs: op && op !== 'not' ? 'numeric' : 'exists' };
}

/** Every field use of every object, with what the use requires of the field's type. */
export function fieldUses(objects: SavedObject[]): Array<FieldUse & { family: FamilyId }> {
  const uses: Array<FieldUse & { family: FamilyId }> = [];
  for (const o of objects) {
    if (o.type === 'index-pattern') {
      const family = familyOfDataView(o);
      uses.push({ object: o.id, family, field: String(o.attributes.timeFieldName), needs: 'date' });
      for (const field of Object.keys(JSON.parse(String(o.attributes.fieldFormatMap)) as object))
        uses.push({ object: o.id, family, field, needs: 'exists' });
    } else if (o.type === 'search') {
      const family = familyOfDataView(dataViewOf(o, objects));
      for (const field of o.attributes.columns as string[])
        uses.push({ object: o.id, family, field, needs: 'exists' });
      for (const [field] of o.attributes.sort as Array<[string, string]>)
        uses.push({ object: o.id, family, field, needs: 'aggregatable' });
      const source = JSON.parse(
        String((o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON),
      ) as {
        query: { query: string };
      };
      for (const term of kqlTerms(source.query.query)) uses.push({ object: o.id, family, ...kqlUse(term) });
    } else if (o.type === 'lens') {
      const family = familyOfDataView(dataViewOf(o, objects));
      for (const [, layer] of lensLayers(o)) {
        for (const column of Object.values(layer.columns)) {
          if (column.sourceField === '___records___') continue;
          const needs =
            column.operationType === 'date_histogram' ||
            (['max', 'min'].includes(column.operationType) && column.dataType === 'date')
              ? 'date'
              : ['sum', 'average', 'max', 'min', 'median'].includes(column.operationType)
                ? 'numeric'
                : 'aggregatable';
          uses.push({ object: o.id, family, field: column.sourceField, needs });
          if (column.params?.sortField)
            uses.push({ object: o.id, family, field: column.params.sortField, needs: 'date' });
        }
      }
      const query = (o.attributes.state as { query: { query: string } }).query.query;
      for (const term of kqlTerms(query)) uses.push({ object: o.id, family, ...kqlUse(term) });
    } else if (o.type === 'map') {
      const family = familyOfDataView(dataViewOf(o, objects));
      const layers = JSON.parse(String(o.attributes.layerListJSON)) as Array<{
        sourceDescriptor: { geoField?: string };
      }>;
      for (const layer of layers)
        if (layer.sourceDescriptor.geoField)
          uses.push({ object: o.id, family, field: layer.sourceDescriptor.geoField, needs: 'geo_point' });
      const state = JSON.parse(String(o.attributes.mapStateJSON)) as { query: { query: string } };
      for (const term of kqlTerms(state.query.query)) uses.push({ object: o.id, family, ...kqlUse(term) });
    }
  }
  return uses;
}

/** Field uses the mapping cannot satisfy, described. */
export function fieldProblems(objects: SavedObject[]): string[] {
  const problems: string[] = [];
  for (const use of fieldUses(objects)) {
    const type = fieldType(use.family, use.field);
    const ok =
      type !== undefined &&
      (use.needs === 'exists' ||
        (use.needs === 'aggregatable' && AGGREGATABLE.has(type)) ||
        (use.needs === 'numeric' && NUMERIC.has(type)) ||
        (use.needs === 'date' && type === 'date') ||
        (use.needs === 'geo_point' && type === 'geo_point'));
    if (!ok)
      problems.push(
        `${use.object}: ${use.family}.${use.field} is ${type ?? 'not mapped'}, needs ${use.needs}`,
      );
  }
  return problems;
}

// ------------------------------------------------------------------------------------ panel requests

const METRIC_AGG: Record<string, string> = {
  max: 'max',
  min: 'min',
  sum: 'sum',
  average: 'avg',
  unique_count: 'cardinality',
};

/**
 * The search a Lens layer stands for: its KQL as term filters, its bucket columns nested in column
 * order, its metric columns at every level (so a terms column can be ordered by a metric, as Lens
 * does). `interval` replaces Lens's `auto` date interval.
 */
export function lensRequest(
  lens: SavedObject,
  interval = '1h',
): { query: unknown; aggs: Record<string, unknown> } {
  const [[, layer]] = lensLayers(lens) as [[string, LensLayer]];
  const metrics: Record<string, unknown> = {};
  for (const id of layer.columnOrder) {
    const column = layer.columns[id]!;
    if (column.isBucketed || column.operationType === 'count') continue;
    if (column.operationType === 'last_value') {
      metrics[id] = lastValueAgg(column);
      continue;
    }
    const agg = METRIC_AGG[column.operationType];
    if (!agg) throw new Error(`no translation for ${column.operationType}`);
    metrics[id] = { [agg]: { field: column.sourceField } };
  }
  const buckets = layer.columnOrder.filter((id) => layer.columns[id]!.isBucketed);
  let aggs: Record<string, unknown> = metrics;
  for (const id of [...buckets].reverse()) {
    const column = layer.columns[id]!;
    const inner = { ...metrics, ...aggs };
    const body =
      column.operationType === 'date_histogram'
        ? { date_histogram: { field: column.sourceField, fixed_interval: interval } }
        : {
            terms: {
              field: column.sourceField,
              size: column.params?.size ?? 10,
              order: termsOrder(layer, column),
            },
          };
    aggs = { [id]: Object.keys(inner).length > 0 ? { ...body, aggs: inner } : body };
  }
  const query = (lens.attributes.state as { query: { query: string } }).query.query;
  return { query: termsQuery(kqlTerms(query)), aggs };
}

/**
 * Lens's last value with array values shown: the newest document (by the sort field) among those
 * that have the field (its KQL `field: *` filter), read with top_hits. The value is
 * `<id>.value.hits.hits[0].fields[<field>]`, no hit when no document of the bucket has one.
 */
function lastValueAgg(column: LensColumn): Record<string, unknown> {
  return {
    filter: { exists: { field: column.sourceField } },
    aggs: {
      value: {
        top_hits: {
          size: 1,
          sort: [{ [column.params?.sortField ?? '@timestamp']: { order: 'desc' } }],
          _source: false,
          docvalue_fields: [column.sourceField],
        },
      },
    },
  };
}

/** Lens orders terms by a metric column (a count column is the bucket's doc count) or alphabetically. */
function termsOrder(layer: LensLayer, column: LensColumn): Record<string, string> {
  const by = column.params?.orderBy;
  if (by?.type !== 'column' || !by.columnId) return { _key: 'asc' };
  const key = layer.columns[by.columnId]?.operationType === 'count' ? '_count' : by.columnId;
  return { [key]: column.params?.orderDirection ?? 'desc' };
}

const RANGE_OP: Record<KqlRange, string> = { '>=': 'gte', '>': 'gt', '<=': 'lte', '<': 'lt' };

export function termsQuery(terms: KqlTerm[]): unknown {
  const term = ([field, value, op]: KqlTerm) =>
    op && op !== 'not'
      ? { range: { [field]: { [RANGE_OP[op]]: value } } }
      : value === '*'
        ? { exists: { field } }
        : { term: { [field]: value } };
  const mustNot = terms.filter((t) => t[2] === 'not');
  return {
    bool: {
      filter: terms.filter((t) => t[2] !== 'not').map(term),
      ...(mustNot.length > 0 ? { must_not: mustNot.map(term) } : {}),
    },
  };
}
