/**
 * The broker and search node that the local stack runs. Chosen for these reasons:
 * - Kafka 3.9.1: the last line that still speaks the old protocol versions kafkajs 2.2.4 uses
 *   (Kafka 4.0 removed them), and KRaft is production-ready in it, so no ZooKeeper.
 * - Elasticsearch 8.19.7: the 8.x line runs on Java 17 (9.x needs 21), and the JS client's major
 *   must match the server's (@elastic/elasticsearch 8.19).
 * The two main artifacts are pinned here by SHA-256, so a changed upload cannot slip in; Kafka's
 * other jars are verified against the repository's checksums (--strict-checksums).
 */
export const KAFKA_VERSION = '3.9.1';
export const ELASTICSEARCH_VERSION = '8.19.7';

export const PINNED_SHA256 = {
  [`kafka_2.13-${KAFKA_VERSION}.jar`]: '5631c61356d55611c158291a69ad028f3c4fed5d0a610c62a0853c65c89d10f6',
  [`elasticsearch-${ELASTICSEARCH_VERSION}.zip`]:
    'cb7f86fb6e68e85ef6f531ae5c68458ecfe42371150403b22b2ed21381581cbb',
} as const;

export const ELASTICSEARCH_ARTIFACT = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ELASTICSEARCH_VERSION}:zip`;
export const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
