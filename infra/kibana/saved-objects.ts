/**
 * The Kibana saved objects of Trend Radar, as code: data views over the index aliases, saved
 * searches, Lens panels, a map, and two dashboards ("Micro-trends" for merchandisers, "Alerts"
 * for buyers' managers). `trend-radar kibana generate` writes them to trend-radar.ndjson, the file
 * `trend-radar kibana import` loads; a unit test fails when the committed file is stale.
 *
 * Written for Kibana 8.19.x (matching the Elasticsearch 8.19 server): Lens `formBased` datasource,
 * dashboard panels with `panelRefName` references, `typeMigrationVersion` per type so Kibana runs
 * only the migrations newer than the format used here. Data views name the default prefix
 * (`trendradar-…`); the import command rewrites them for another ES_INDEX_PREFIX.
 */
import type { FamilyId } from '../../shared/elasticsearch/indices.ts';

const PREFIX = 'trendradar';
/**
 * The size of the aggregator's hopping windows (AGGREGATOR_WINDOW_SIZE_MS, default one hour): the
 * trend panels read only these, not the daily windows. Change it here if that setting changes.
 */
export const HOURLY_WINDOW_MS = 3_600_000;
export const HOURLY_WINDOWS_KQL = `sizeMs : ${HOURLY_WINDOW_MS}`;
/**
 * "Rising": an hourly window the aggregator found rising (`rising`): its statistical verdict (the
 * SKU's share of everybody's activity and its own level significantly up, or its sequential test),
 * on enough distinct members and authors with none dominating. The verdict that raises alerts and
 * that `search rising` lists (docs/kibana.md says why not `uplift >= 2`, even with minimum members
 * and signals: the demo's steady best-seller passes that at ×4.4 on 16 members).
 */
export const RISING_WINDOWS_KQL = `${HOURLY_WINDOWS_KQL} and rising : true`;
/** The rising windows of one country (`country:XX` scopes; global windows have no `country`). */
export const RISING_COUNTRY_WINDOWS_KQL = `${RISING_WINDOWS_KQL} and country : *`;
/** The field every data view has for "which country": one dashboard filter (`country : FR`) for all panels. */
export const COUNTRY_FIELD = 'country';

/**
 * What the Alerts panels count: an alert is raised (`new`) and may be escalated (`escalated`, a
 * higher priority, same episodeId) and later cooled (`cooled`, same episodeId: the trend is over,
 * nothing was raised). Cooled records are left out, and the panels count distinct episodes, so an
 * escalation does not count as a second alert for the SKU.
 */
export const RAISED_ALERTS_KQL = 'not status : "cooled"';

export interface SavedObject {
  id: string;
  type: 'index-pattern' | 'search' | 'lens' | 'map' | 'dashboard';
  attributes: Record<string, unknown>;
  references: Array<{ id: string; name: string; type: string }>;
  coreMigrationVersion: string;
  typeMigrationVersion: string;
  managed: false;
}

const MIGRATION: Record<SavedObject['type'], string> = {
  'index-pattern': '8.0.0',
  search: '8.0.0',
  lens: '8.9.0',
  map: '8.4.0',
  dashboard: '8.9.0',
};

function object(
  type: SavedObject['type'],
  id: string,
  attributes: Record<string, unknown>,
  references: SavedObject['references'] = [],
): SavedObject {
  return {
    id,
    type,
    attributes,
    references,
    coreMigrationVersion: '8.8.0',
    typeMigrationVersion: MIGRATION[type],
    managed: false,
  };
}

// ------------------------------------------------------------------------------------ data views

export const dataViewId = (family: FamilyId) => `trend-radar-${family}`;

/**
 * Stored photo addresses render as links (an https URL opens the photo; a `blob:sha256:…` address
 * does not). No `urlTemplate`: Kibana URL-encodes `{{value}}` in a template, which would break a
 * whole URL; without one the value is the link.
 */
const link = (label: string) => ({ id: 'url', params: { type: 'a', labelTemplate: label } });
/** The indexer's browsable photo links (`photoLink(s)`, `firstPhotoLink`) render as the image itself. */
const image = { id: 'url', params: { type: 'img', width: 160, height: 160 } };

function dataView(family: FamilyId, name: string, fieldFormats: Record<string, unknown> = {}): SavedObject {
  return object('index-pattern', dataViewId(family), {
    title: `${PREFIX}-${family}`,
    name,
    timeFieldName: '@timestamp',
    fieldFormatMap: JSON.stringify(fieldFormats),
    fields: '[]',
    runtimeFieldMap: '{}',
    typeMeta: '{}',
    allowNoIndex: true,
  });
}

// ------------------------------------------------------------------------------------ saved searches

const searchSource = (query = '') =>
  JSON.stringify({
    query: { query, language: 'kuery' },
    filter: [],
    indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index',
  });

function savedSearch(
  id: string,
  title: string,
  family: FamilyId,
  columns: string[],
  query = '',
): SavedObject {
  return object(
    'search',
    id,
    {
      title,
      description: '',
      columns,
      sort: [['@timestamp', 'desc']],
      grid: {},
      hideChart: false,
      kibanaSavedObjectMeta: { searchSourceJSON: searchSource(query) },
    },
    [{ id: dataViewId(family), name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern' }],
  );
}

// ------------------------------------------------------------------------------------ Lens

type Column =
  | { id: string; op: 'terms'; field: string; label: string; size: number; orderBy?: string }
  | { id: string; op: 'date_histogram'; field: string; label: string }
  | { id: string; op: 'count'; label: string }
  /** `date`: the maximum of a date field (Lens shows a date), e.g. the start of the row's window. */
  | { id: string; op: 'max'; field: string; label: string; date?: boolean }
  | { id: string; op: 'sum' | 'average' | 'unique_count'; field: string; label: string }
  /**
   * The field's value in the newest document of the row that has one (by `@timestamp`): a label
   * beside a bucket (a SKU's product name), without splitting the row or dropping documents
   * that lack the field, as a second terms column would; or the latest of a figure (`number`).
   */
  | { id: string; op: 'last_value'; field: string; label: string; number?: boolean };

function lensColumn(column: Column): Record<string, unknown> {
  switch (column.op) {
    case 'terms':
      return {
        label: column.label,
        customLabel: true,
        dataType: 'string',
        operationType: 'terms',
        sourceField: column.field,
        isBucketed: true,
        scale: 'ordinal',
        params: {
          size: column.size,
          orderBy: column.orderBy ? { type: 'column', columnId: column.orderBy } : { type: 'alphabetical' },
          orderDirection: column.orderBy ? 'desc' : 'asc',
          otherBucket: false,
          missingBucket: false,
        },
      };
    case 'date_histogram':
      return {
        label: column.label,
        customLabel: true,
        dataType: 'date',
        operationType: 'date_histogram',
        sourceField: column.field,
        isBucketed: true,
        scale: 'interval',
        params: { interval: 'auto', includeEmptyRows: true, dropPartials: false },
      };
    case 'last_value':
      return {
        label: column.label,
        customLabel: true,
        dataType: column.number ? 'number' : 'string',
        operationType: 'last_value',
        sourceField: column.field,
        isBucketed: false,
        scale: column.number ? 'ratio' : 'ordinal',
        // What Lens itself sets: the newest document that has the field, not the newest document.
        filter: { query: `${column.field}: *`, language: 'kuery' },
        // Array values: Lens reads the value with top_hits, in every distribution, rather than
        // top_metrics, which needs the analytics module (the search-only node lacks it).
        params: { sortField: '@timestamp', showArrayValues: true },
      };
    case 'count':
      return {
        label: column.label,
        customLabel: true,
        dataType: 'number',
        operationType: 'count',
        sourceField: '___records___',
        isBucketed: false,
        scale: 'ratio',
        params: { emptyAsNull: true },
      };
    default:
      return {
        label: column.label,
        customLabel: true,
        dataType: column.op === 'max' && column.date ? 'date' : 'number',
        operationType: column.op,
        sourceField: column.field,
        isBucketed: false,
        scale: 'ratio',
        params: { emptyAsNull: true },
      };
  }
}

type LensVisual =
  /**
   * `columns`: the table's column order, when it is not the layer's (buckets, then metrics);
   * `hidden`: columns that shape the rows but are not shown (Lens's "hide column").
   */
  | { kind: 'table'; columns?: string[]; hidden?: string[] }
  | { kind: 'line' | 'bar_stacked' | 'bar_horizontal'; x: string; split?: string; y: string[] };

function lens(
  id: string,
  title: string,
  family: FamilyId,
  columns: Column[],
  visual: LensVisual,
  query = '',
): SavedObject {
  const layerId = 'layer1';
  const visualization =
    visual.kind === 'table'
      ? {
          layerId,
          layerType: 'data',
          columns: [
            ...(visual.columns ?? columns.map((c) => c.id).filter((c) => !visual.hidden?.includes(c))),
            ...(visual.hidden ?? []),
          ].map((columnId) =>
            visual.hidden?.includes(columnId) ? { columnId, hidden: true } : { columnId },
          ),
        }
      : {
          preferredSeriesType: visual.kind,
          legend: { isVisible: true, position: 'right' },
          valueLabels: 'hide',
          layers: [
            {
              layerId,
              layerType: 'data',
              seriesType: visual.kind,
              xAccessor: visual.x,
              ...(visual.split ? { splitAccessor: visual.split } : {}),
              accessors: visual.y,
            },
          ],
        };
  return object(
    'lens',
    id,
    {
      title,
      description: '',
      visualizationType: visual.kind === 'table' ? 'lnsDatatable' : 'lnsXY',
      state: {
        datasourceStates: {
          formBased: {
            layers: {
              [layerId]: {
                columns: Object.fromEntries(columns.map((c) => [c.id, lensColumn(c)])),
                columnOrder: columns.map((c) => c.id),
                incompleteColumns: {},
              },
            },
          },
        },
        visualization,
        query: { query, language: 'kuery' },
        filters: [],
        internalReferences: [],
        adHocDataViews: {},
      },
    },
    [{ id: dataViewId(family), name: `indexpattern-datasource-layer-${layerId}`, type: 'index-pattern' }],
  );
}

// ------------------------------------------------------------------------------------ map

function mentionsMap(id: string, title: string): SavedObject {
  const layers = [
    {
      id: 'basemap',
      type: 'EMS_VECTOR_TILE',
      sourceDescriptor: { type: 'EMS_TMS', isAutoSelect: true, lightModeDefault: 'road_map_desaturated' },
      visible: true,
      alpha: 1,
      minZoom: 0,
      maxZoom: 24,
      style: { type: 'EMS_VECTOR_TILE' },
      includeInFitToBounds: true,
    },
    {
      id: 'mentions-grid',
      label: 'Mentions',
      type: 'GEOJSON_VECTOR',
      sourceDescriptor: {
        type: 'ES_GEO_GRID',
        id: 'mentions-grid-source',
        geoField: 'location.point',
        requestType: 'point',
        resolution: 'COARSE',
        metrics: [{ type: 'count', label: 'mentions' }],
        indexPatternRefName: 'layer_1_source_index_pattern',
        applyGlobalQuery: true,
        applyGlobalTime: true,
        applyForceRefresh: true,
      },
      visible: true,
      alpha: 0.75,
      minZoom: 0,
      maxZoom: 24,
      style: {
        type: 'VECTOR',
        properties: {
          fillColor: {
            type: 'DYNAMIC',
            options: {
              color: 'Blues',
              field: { name: 'doc_count', origin: 'source' },
              fieldMetaOptions: { isEnabled: true, sigma: 3 },
            },
          },
          iconSize: {
            type: 'DYNAMIC',
            options: {
              minSize: 6,
              maxSize: 32,
              field: { name: 'doc_count', origin: 'source' },
              fieldMetaOptions: { isEnabled: true, sigma: 3 },
            },
          },
        },
        isTimeAware: true,
      },
      includeInFitToBounds: true,
    },
  ];
  return object(
    'map',
    id,
    {
      title,
      description:
        'Photos matched to catalogue SKUs, by where they were taken (members who shared coordinates).',
      layerListJSON: JSON.stringify(layers),
      mapStateJSON: JSON.stringify({
        zoom: 3,
        center: { lon: 5, lat: 48 },
        timeFilters: { from: 'now-24h', to: 'now' },
        refreshConfig: { isPaused: false, interval: 60_000 },
        query: { query: 'kind : "mention"', language: 'kuery' },
        filters: [],
        settings: { autoFitToDataBounds: false },
      }),
      uiStateJSON: JSON.stringify({ isLayerTOCOpen: true, openTOCDetails: [] }),
    },
    [{ id: dataViewId('mentions'), name: 'layer_1_source_index_pattern', type: 'index-pattern' }],
  );
}

// ------------------------------------------------------------------------------------ dashboards

interface Panel {
  ref: SavedObject;
  x: number;
  y: number;
  w: number;
  h: number;
  title?: string;
}

function dashboard(
  id: string,
  title: string,
  description: string,
  panels: Panel[],
  timeFrom: string,
): SavedObject {
  const panelsJson = panels.map((p, i) => ({
    type: p.ref.type,
    gridData: { x: p.x, y: p.y, w: p.w, h: p.h, i: `p${i + 1}` },
    panelIndex: `p${i + 1}`,
    embeddableConfig: { enhancements: {}, ...(p.title ? { title: p.title } : {}) },
    panelRefName: `panel_p${i + 1}`,
  }));
  return object(
    'dashboard',
    id,
    {
      title,
      description,
      panelsJSON: JSON.stringify(panelsJson),
      optionsJSON: JSON.stringify({
        useMargins: true,
        syncColors: false,
        syncCursor: true,
        syncTooltips: false,
        hidePanelTitles: false,
      }),
      timeRestore: true,
      timeFrom,
      timeTo: 'now',
      refreshInterval: { pause: false, value: 60_000 },
      version: 1,
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }),
      },
    },
    panels.map((p, i) => ({ id: p.ref.id, name: `p${i + 1}:panel_p${i + 1}`, type: p.ref.type })),
  );
}

// ------------------------------------------------------------------------------------ the objects

export function savedObjects(): SavedObject[] {
  const views = [
    dataView('posts', 'Trend Radar: posts', { imageUrls: link('photo'), photoLinks: image }),
    dataView('mentions', 'Trend Radar: mentions', { imageUrl: link('photo'), photoLink: image }),
    dataView('trend-windows', 'Trend Radar: trend windows'),
    dataView('reorder-alerts', 'Trend Radar: reorder alerts', {
      firstPhotoUrl: link('photo'),
      photoUrls: link('photo'),
      firstPhotoLink: image,
      photoLinks: image,
    }),
    dataView('alert-actions', 'Trend Radar: alert actions'),
  ];

  const alertsList = savedSearch(
    'trend-radar-search-alerts',
    'Reorder alerts (with photos)',
    'reorder-alerts',
    [
      'sku',
      'product.name',
      'status',
      'priority',
      'score',
      'uplift',
      'distinctMembers',
      'suggestedReorderQty',
      'country',
      'firstPhotoLink',
      'firstPhotoUrl',
    ],
  );
  const mentionsList = savedSearch(
    'trend-radar-search-mentions',
    'Mentions (photos matched to SKUs)',
    'mentions',
    // The margin over the runner-up SKU tells a sure match from a photo between two products
    // (`margin < 0.05`): the score alone does not.
    ['photoLink', 'sku', 'product.name', 'score', 'margin', 'rank', 'country', 'location.city', 'imageUrl'],
    'kind : "mention"',
  );
  const actionsList = savedSearch(
    'trend-radar-search-alert-actions',
    'What buyers did with alerts',
    'alert-actions',
    ['buyer', 'action', 'sku', 'quantity', 'alertId'],
  );
  // Merchandisers look a product up by its name or brand as well as its SKU: `product.name :
  // "wild thing"` (the same query finds its alerts and photos), `product.brand : "Aquazzura"`, or
  // in any case and without accents `product.nameFolded : paquerette`, `product.brandFolded :
  // chloe`. Every window, hourly and daily (`sizeMs`), each scope.
  const windowsList = savedSearch(
    'trend-radar-search-trend-windows',
    'Trend windows (find a product by SKU, name or brand)',
    'trend-windows',
    [
      'sku',
      'product.name',
      'product.brand',
      'category',
      'scope',
      'sizeMs',
      'weightedCount',
      'uplift',
      'distinctMembers',
      'rising',
    ],
  );

  // The aggregator closes a one-hour window every five minutes (hopping windows) and a daily
  // window per UTC day, all in the same index, for the world (`scope: global`) and for each
  // country (`scope: country:FR`, `country: FR`): each signal is in about twelve hourly windows of
  // its SKU's global scope and twelve of its country's. The trend panels read the hourly windows
  // only and take the best window (max), never a sum, so each figure reads "in the busiest hour"
  // whatever the time range and bucket size. They do not pick a scope: a global window holds every
  // signal of its SKU, so it is the max of its hour unless a `country : FR` filter leaves only
  // France's windows, and then the same panels answer for France (docs/kibana.md).
  //
  // They rank by activity (weighted signals), not by score: the score measures surprise against
  // the SKU's own baseline, which adapts while a trend lasts, so the hottest product of the day can
  // score below products that never rose (an audit: 391 of 551 photos in a day, busiest hour 535.5
  // weighted signals against 31 for the next SKU, and absent from both panels).
  //
  // The tables name each SKU's product and brand beside it (its row's window's, from the
  // catalogue): a label, not a bucket, so a SKU without a name (not in the catalogue, or windows
  // from before the aggregator wrote names) keeps its row.
  const productColumns: Column[] = [
    { id: 'name', op: 'last_value', field: 'product.name.keyword', label: 'Product' },
    { id: 'brand', op: 'last_value', field: 'product.brand', label: 'Brand' },
  ];
  // One row per SKU, its figures from ONE window, its busiest hour: a hidden "top 1 window"
  // bucket (by weighted signals) under the SKU, then the maxima inside it are that window's. A
  // maximum per column would take signals and members from other hours (an audit: 316 signals and
  // 284 members shown where the busiest hour had 306 and 277). Lens's last value cannot pick the
  // document by a number (its sort field must be a date), so the bucket does it.
  const busiestWindow = (label: string): Column => ({
    id: 'window',
    op: 'terms',
    field: 'windowId',
    label,
    size: 1,
    orderBy: 'weighted',
  });
  const hotProducts = lens(
    'trend-radar-lens-hot-products',
    'Hot products (weighted signals in the busiest hour)',
    'trend-windows',
    [
      { id: 'sku', op: 'terms', field: 'sku', label: 'SKU', size: 20, orderBy: 'weighted' },
      busiestWindow('Busiest hourly window'),
      ...productColumns,
      { id: 'hour', op: 'max', field: 'windowStart', label: 'Busiest hour (start)', date: true },
      { id: 'weighted', op: 'max', field: 'weightedCount', label: 'Weighted signals (busiest hour)' },
      { id: 'signals', op: 'max', field: 'signals', label: 'Signals (that hour)' },
      { id: 'members', op: 'max', field: 'distinctMembers', label: 'Members (that hour)' },
    ],
    {
      kind: 'table',
      columns: ['sku', 'name', 'brand', 'hour', 'weighted', 'signals', 'members'],
      hidden: ['window'],
    },
    HOURLY_WINDOWS_KQL,
  );
  // Rising: the windows the aggregator found rising, in each country (RISING_COUNTRY_WINDOWS_KQL),
  // a row per SKU and country where it rose (its top three countries), ranked by how big its
  // busiest rising hour there was, with that hour's figures (one window, as in Hot products). Not
  // by the ratio: the baseline has a floor of about one weighted signal an hour, so three photos
  // of a quiet SKU make ×5. A SKU rising worldwide but in no single country has no row here.
  const risingTable = lens(
    'trend-radar-lens-rising-products',
    'Rising products (where the aggregator found them rising)',
    'trend-windows',
    [
      { id: 'sku', op: 'terms', field: 'sku', label: 'SKU', size: 20, orderBy: 'weighted' },
      { id: 'country', op: 'terms', field: 'country', label: 'Rising in', size: 3, orderBy: 'weighted' },
      busiestWindow('Busiest rising window there'),
      ...productColumns,
      { id: 'hour', op: 'max', field: 'windowStart', label: 'Busiest rising hour there (start)', date: true },
      { id: 'weighted', op: 'max', field: 'weightedCount', label: 'Weighted signals (that hour)' },
      { id: 'uplift', op: 'max', field: 'uplift', label: 'Uplift (that hour, × usual)' },
      { id: 'members', op: 'max', field: 'distinctMembers', label: 'Members (that hour)' },
    ],
    {
      kind: 'table',
      columns: ['sku', 'name', 'brand', 'country', 'hour', 'weighted', 'uplift', 'members'],
      hidden: ['window'],
    },
    RISING_COUNTRY_WINDOWS_KQL,
  );
  // Top 5 SKUs by their busiest hour over the whole time range (terms outside), then each one's
  // line over time (date histogram inside): the same five SKUs from left to right.
  const trendLines = lens(
    'trend-radar-lens-top-sku-trends',
    'Top SKUs over time (weighted signals per hour)',
    'trend-windows',
    [
      { id: 'sku', op: 'terms', field: 'sku', label: 'SKU', size: 5, orderBy: 'weighted' },
      { id: 'time', op: 'date_histogram', field: '@timestamp', label: 'Window start' },
      { id: 'weighted', op: 'max', field: 'weightedCount', label: 'Weighted signals (busiest hour)' },
    ],
    { kind: 'line', x: 'time', split: 'sku', y: ['weighted'] },
    HOURLY_WINDOWS_KQL,
  );
  // Only country windows have `country`; hourly ones only (a daily window is rising on another
  // scale and would list every country with a day of activity).
  const risingByRegion = lens(
    'trend-radar-lens-rising-by-region',
    'Rising SKUs by region',
    'trend-windows',
    [
      { id: 'country', op: 'terms', field: 'country', label: 'Country', size: 15, orderBy: 'skus' },
      { id: 'skus', op: 'unique_count', field: 'sku', label: 'Rising SKUs' },
    ],
    { kind: 'bar_horizontal', x: 'country', y: ['skus'] },
    RISING_WINDOWS_KQL,
  );
  const risingCategories = lens(
    'trend-radar-lens-rising-categories',
    'Rising categories',
    'trend-windows',
    [
      { id: 'category', op: 'terms', field: 'category', label: 'Category', size: 10, orderBy: 'skus' },
      { id: 'skus', op: 'unique_count', field: 'sku', label: 'Rising SKUs' },
      { id: 'weighted', op: 'max', field: 'weightedCount', label: 'Weighted signals (busiest rising hour)' },
    ],
    { kind: 'bar_horizontal', x: 'category', y: ['skus'] },
    RISING_WINDOWS_KQL,
  );
  const topHashtags = lens(
    'trend-radar-lens-top-hashtags',
    'Top hashtags',
    'posts',
    [
      { id: 'tag', op: 'terms', field: 'hashtags', label: 'Hashtag', size: 15, orderBy: 'posts' },
      { id: 'posts', op: 'count', label: 'Posts' },
    ],
    { kind: 'bar_horizontal', x: 'tag', y: ['posts'] },
  );
  const map = mentionsMap('trend-radar-map-mentions', 'Mentions by location');

  const alertsOverTime = lens(
    'trend-radar-lens-alerts-by-priority',
    'Alerts by priority over time',
    'reorder-alerts',
    [
      { id: 'time', op: 'date_histogram', field: '@timestamp', label: 'Time' },
      { id: 'priority', op: 'terms', field: 'priority', label: 'Priority', size: 3 },
      { id: 'alerts', op: 'unique_count', field: 'episodeId', label: 'Alerts raised or escalated' },
    ],
    { kind: 'bar_stacked', x: 'time', split: 'priority', y: ['alerts'] },
    RAISED_ALERTS_KQL,
  );
  const alertsBySku = lens(
    'trend-radar-lens-alerts-by-sku',
    'Alerted SKUs',
    'reorder-alerts',
    [
      { id: 'sku', op: 'terms', field: 'sku', label: 'SKU', size: 20, orderBy: 'uplift' },
      { id: 'uplift', op: 'max', field: 'uplift', label: 'Best uplift' },
      { id: 'alerts', op: 'unique_count', field: 'episodeId', label: 'Alerts (episodes)' },
      { id: 'qty', op: 'max', field: 'suggestedReorderQty', label: 'Suggested reorder' },
      // The latest alert's (an escalation's cover is shorter: averaging the episode's records
      // showed 5.6 days where the current figure was 3.3).
      {
        id: 'cover',
        op: 'last_value',
        field: 'stock.daysOfCover',
        label: 'Days of cover (latest alert)',
        number: true,
      },
    ],
    { kind: 'table' },
    RAISED_ALERTS_KQL,
  );
  const actionsByBuyer = lens(
    'trend-radar-lens-actions-by-buyer',
    'Buyer responses',
    'alert-actions',
    [
      { id: 'buyer', op: 'terms', field: 'buyer', label: 'Buyer', size: 20, orderBy: 'actions' },
      { id: 'action', op: 'terms', field: 'action', label: 'Action', size: 3, orderBy: 'actions' },
      { id: 'actions', op: 'count', label: 'Actions' },
      { id: 'ordered', op: 'sum', field: 'quantity', label: 'Units ordered' },
    ],
    { kind: 'table' },
  );

  const microTrends = dashboard(
    'trend-radar-dashboard-micro-trends',
    'Micro-trends',
    'What is hot and what is rising now: products by their busiest hour, those the aggregator finds rising and the countries where they rise, their trend lines, rising regions and categories, where the photos are taken, alerts with their photos, hashtags. Add the filter `country : FR` for one country: every panel has the field.',
    [
      { ref: hotProducts, x: 0, y: 0, w: 20, h: 15 },
      { ref: trendLines, x: 20, y: 0, w: 28, h: 15 },
      { ref: risingTable, x: 0, y: 15, w: 24, h: 15 },
      { ref: risingByRegion, x: 24, y: 15, w: 12, h: 15 },
      { ref: risingCategories, x: 36, y: 15, w: 12, h: 15 },
      { ref: map, x: 0, y: 30, w: 28, h: 18 },
      { ref: topHashtags, x: 28, y: 30, w: 20, h: 18 },
      { ref: alertsList, x: 0, y: 48, w: 48, h: 15 },
      { ref: mentionsList, x: 0, y: 63, w: 48, h: 12 },
    ],
    'now-24h',
  );
  const alerts = dashboard(
    'trend-radar-dashboard-alerts',
    'Alerts',
    "For buyers' managers: alerts raised, by priority and SKU, and what the buyers did about them.",
    [
      { ref: alertsOverTime, x: 0, y: 0, w: 24, h: 14 },
      { ref: actionsByBuyer, x: 24, y: 0, w: 24, h: 14 },
      { ref: alertsBySku, x: 0, y: 14, w: 48, h: 14 },
      { ref: alertsList, x: 0, y: 28, w: 48, h: 15 },
      { ref: actionsList, x: 0, y: 43, w: 48, h: 12 },
    ],
    'now-7d',
  );

  return [
    ...views,
    alertsList,
    mentionsList,
    actionsList,
    windowsList,
    hotProducts,
    risingTable,
    trendLines,
    risingByRegion,
    risingCategories,
    topHashtags,
    map,
    alertsOverTime,
    alertsBySku,
    actionsByBuyer,
    microTrends,
    alerts,
  ];
}

export function toNdjson(objects: SavedObject[]): string {
  return `${objects.map((o) => JSON.stringify(o)).join('\n')}\n`;
}
