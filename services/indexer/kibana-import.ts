/**
 * `trend-radar kibana import`: loads the saved objects through Kibana's saved-objects import API
 * (POST /api/saved_objects/_import?overwrite=true, multipart `file`, `kbn-xsrf` header) and turns
 * the answer into a report a person can act on: what was created or overwritten, which objects
 * conflicted, which reference objects Kibana could not find.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

/** The index-pattern titles in the file are written for the default prefix. */
export const FILE_PREFIX = 'trendradar';

export interface ImportOptions {
  kibanaUrl: string;
  file: string;
  /** ES_INDEX_PREFIX of the deployment: data views are rewritten to point at its aliases. */
  prefix: string;
  space?: string;
  /** `user:password` for basic authentication. */
  auth?: string;
  fetchImpl?: typeof fetch;
}

export interface ImportedObject {
  type: string;
  id: string;
  title: string;
  overwritten: boolean;
}

export interface ImportProblem {
  type: string;
  id: string;
  title: string;
  kind: string;
  detail: string;
}

export interface ImportReport {
  success: boolean;
  httpStatus: number;
  imported: ImportedObject[];
  conflicts: ImportProblem[];
  missingReferences: ImportProblem[];
  otherErrors: ImportProblem[];
}

interface KibanaImportResponse {
  success?: boolean;
  successCount?: number;
  successResults?: Array<{ type: string; id: string; overwrite?: boolean; meta?: { title?: string } }>;
  errors?: Array<{
    type: string;
    id: string;
    title?: string;
    meta?: { title?: string };
    error: {
      type: string;
      references?: Array<{ type: string; id: string }>;
      message?: string;
      statusCode?: number;
    };
  }>;
  message?: string;
  error?: string;
  statusCode?: number;
}

/** Points every data view of the file at `prefix`'s aliases instead of the default prefix's. */
export function withIndexPrefix(ndjson: string, prefix: string): string {
  if (prefix === FILE_PREFIX) return ndjson;
  return ndjson
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const object = JSON.parse(line) as { type?: string; attributes?: { title?: string } };
      if (object.type === 'index-pattern' && object.attributes?.title?.startsWith(`${FILE_PREFIX}-`)) {
        object.attributes.title = `${prefix}-${object.attributes.title.slice(FILE_PREFIX.length + 1)}`;
      }
      return JSON.stringify(object);
    })
    .join('\n')
    .concat('\n');
}

export function importUrl(kibanaUrl: string, space?: string): string {
  const base = kibanaUrl.replace(/\/+$/, '');
  const spacePath = space && space !== 'default' ? `/s/${encodeURIComponent(space)}` : '';
  return `${base}${spacePath}/api/saved_objects/_import?overwrite=true`;
}

export function reportOf(httpStatus: number, body: KibanaImportResponse): ImportReport {
  const problems = (body.errors ?? []).map((e) => {
    const title = e.title ?? e.meta?.title ?? e.id;
    const detail =
      e.error.type === 'missing_references'
        ? `missing ${(e.error.references ?? []).map((r) => `${r.type} ${r.id}`).join(', ')}`
        : (e.error.message ?? e.error.type);
    return { type: e.type, id: e.id, title, kind: e.error.type, detail };
  });
  const otherErrors = problems.filter((p) => p.kind !== 'conflict' && p.kind !== 'missing_references');
  if (httpStatus >= 300) {
    otherErrors.push({
      type: '-',
      id: '-',
      title: 'import request',
      kind: `http ${httpStatus}`,
      detail: body.message ?? body.error ?? 'Kibana refused the request',
    });
  }
  return {
    success: httpStatus < 300 && body.success === true && problems.length === 0,
    httpStatus,
    imported: (body.successResults ?? []).map((r) => ({
      type: r.type,
      id: r.id,
      title: r.meta?.title ?? r.id,
      overwritten: r.overwrite === true,
    })),
    conflicts: problems.filter((p) => p.kind === 'conflict'),
    missingReferences: problems.filter((p) => p.kind === 'missing_references'),
    otherErrors,
  };
}

export function formatImportReport(report: ImportReport): string {
  const lines = [
    `${report.success ? 'imported' : 'import FAILED'}: ${report.imported.length} object(s) loaded (HTTP ${report.httpStatus})`,
  ];
  for (const o of report.imported)
    lines.push(`  ${o.overwritten ? 'overwritten' : 'created    '} ${o.type} ${o.id}  "${o.title}"`);
  const section = (name: string, problems: ImportProblem[]) => {
    if (problems.length === 0) return;
    lines.push(`${name}: ${problems.length}`);
    for (const p of problems) lines.push(`  ${p.type} ${p.id}  "${p.title}": ${p.detail}`);
  };
  section('conflicts (an object with this id exists and was not overwritten)', report.conflicts);
  section(
    'missing references (import the referenced objects first, or check the file)',
    report.missingReferences,
  );
  section('errors', report.otherErrors);
  return lines.join('\n');
}

export async function importSavedObjects(options: ImportOptions): Promise<ImportReport> {
  const ndjson = withIndexPrefix(await readFile(options.file, 'utf8'), options.prefix);
  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), basename(options.file));
  const headers: Record<string, string> = { 'kbn-xsrf': 'trend-radar' };
  if (options.auth) headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
  const url = importUrl(options.kibanaUrl, options.space);
  let response: Response;
  try {
    response = await (options.fetchImpl ?? fetch)(url, { method: 'POST', headers, body: form });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    throw new Error(`cannot reach Kibana at ${url}: ${cause}`);
  }
  const text = await response.text();
  let body: KibanaImportResponse;
  try {
    body = JSON.parse(text) as KibanaImportResponse;
  } catch {
    body = { message: `not JSON: ${text.slice(0, 200)}` };
  }
  return reportOf(response.status, body);
}
