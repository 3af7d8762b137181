import { Client } from '@elastic/elasticsearch';

/** One Elasticsearch client per process; the client's major version matches the server's (8.x). */
export function createElasticsearch(url: string): Client {
  return new Client({ node: url, requestTimeout: 30_000, maxRetries: 3 });
}

/** `${prefix}-${name}`: every index, alias and template of a deployment shares the prefix. */
export function indexName(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}
