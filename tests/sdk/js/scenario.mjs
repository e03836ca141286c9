// The SDK scenario with the official JavaScript client (`meilisearch` on npm): the same steps
// against Miroir and against a single node, each result checked, then the two transcripts
// compared. Usage: node scenario.mjs MIROIR_URL MIROIR_KEY NODE_URL NODE_KEY
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { Meilisearch, MeilisearchApiError } from "meilisearch";

const INDEX = "sdk_packages";
const docs = JSON.parse(readFileSync(new URL("../packages.json", import.meta.url)));

function expect(condition, what) {
  if (!condition) throw new Error(`expectation failed: ${JSON.stringify(what)}`);
}
const ids = (hits) => hits.map((h) => h.id);
const sorted = (list) => [...list].sort();

async function scenario(host, apiKey) {
  const client = new Meilisearch({ host, apiKey });
  const out = [];
  const wait = async (enqueued) => {
    const task = await enqueued.waitTask({ timeout: 30000 });
    expect(task.status === "succeeded", task);
    return task;
  };

  let task = await wait(client.createIndex(INDEX, { primaryKey: "id" }));
  out.push(["create index", [task.type, task.status]]);
  const index = client.index(INDEX);
  expect((await client.getIndex(INDEX)).primaryKey === "id", "primary key");

  // enqueued one after the other (ties rank in the order documents arrived), then waited for
  const first = index.addDocuments(docs.slice(0, 160));
  await first;
  const second = index.addDocuments(docs.slice(160));
  await second;
  const added = [await wait(first), await wait(second)];
  out.push(["add documents", added.map((t) => t.details.indexedDocuments)]);

  await wait(
    index.updateSettings({
      filterableAttributes: ["section", "priority", "architecture", "tags", "depends_count"],
      sortableAttributes: ["installed_size_kb", "depends_count", "name"],
      synonyms: { lib: ["library"], library: ["lib"] },
    }),
  );
  const settings = await index.getSettings();
  expect(
    isDeepStrictEqual(sorted(settings.filterableAttributes), [
      "architecture", "depends_count", "priority", "section", "tags",
    ]),
    settings,
  );
  out.push(["settings", [sorted(settings.filterableAttributes),
    sorted(settings.sortableAttributes), settings.synonyms]]);

  let r = await index.search("library", {
    filter: "section = libs OR section = libdevel", facets: ["section", "priority"], limit: 10,
  });
  expect(r.hits.length && r.hits.every((h) => ["libs", "libdevel"].includes(h.section)), r);
  const sectionCount = Object.values(r.facetDistribution.section).reduce((a, b) => a + b, 0);
  expect(sectionCount === r.estimatedTotalHits, r);
  out.push(["search filter facets", [ids(r.hits), r.estimatedTotalHits, r.facetDistribution]]);

  r = await index.search("", {
    filter: "section = python", sort: ["installed_size_kb:desc"], limit: 5, offset: 2,
  });
  const sizes = r.hits.map((h) => h.installed_size_kb);
  expect(sizes.length === 5 && sizes.every((s, i) => i === 0 || sizes[i - 1] >= s), sizes);
  out.push(["search sort offset", [ids(r.hits), r.estimatedTotalHits]]);

  r = await index.search("", { filter: "depends_count > 3", page: 2, hitsPerPage: 7 });
  expect(r.page === 2 && r.hits.length === 7 && r.hits.every((h) => h.depends_count > 3), r);
  out.push(["search pages", [ids(r.hits), r.totalHits, r.totalPages]]);

  r = await index.search("lib", { attributesToRetrieve: ["id", "name"], limit: 20 });
  expect(r.hits.every((h) => isDeepStrictEqual(Object.keys(h).sort(), ["id", "name"])), r);
  out.push(["search synonyms", [ids(r.hits), r.estimatedTotalHits]]);

  r = await client.multiSearch({
    queries: [
      { indexUid: INDEX, q: "perl" },
      { indexUid: INDEX, q: "java", filter: "section = java" },
    ],
  });
  expect(r.results.every((x) => x.indexUid === INDEX), r);
  out.push(["multi-search", r.results.map((x) => [ids(x.hits), x.estimatedTotalHits])]);

  r = await client.multiSearch({
    federation: { limit: 10 },
    queries: [{ indexUid: INDEX, q: "python" }, { indexUid: INDEX, q: "golang" }],
  });
  expect(r.hits.length === 10 && r.hits.every((h) => h._federation), r);
  out.push(["federated multi-search", [ids(r.hits), r.estimatedTotalHits]]);

  const doc = await index.getDocument(201);
  expect(doc.id === 201 && doc.name === docs[1].name, doc);
  out.push(["get document", doc]);

  const deleted = await wait(index.deleteDocuments([201, 401, 601]));
  out.push(["delete documents", deleted.details.deletedDocuments]);
  expect((await index.getStats()).numberOfDocuments === docs.length - 3, "documents after delete");

  const tasks = await client.tasks.getTasks({
    indexUids: [INDEX], types: ["documentAdditionOrUpdate"],
  });
  expect(tasks.results.length === 2 && tasks.results.every((t) => t.status === "succeeded"),
    tasks);
  out.push(["tasks", tasks.results.map((t) => [t.type, t.status, t.indexUid])]);

  const created = await client.createKey({
    description: "sdk search key", actions: ["search"], indexes: [INDEX], expiresAt: null,
  });
  expect((await client.getKey(created.key)).uid === created.uid, "key by value");
  const keyed = new Meilisearch({ host, apiKey: created.key });
  r = await keyed.index(INDEX).search("library", { limit: 5 });
  out.push(["search with a key", ids(r.hits)]);
  try {
    await keyed.index(INDEX).addDocuments([{ id: 1 }]);
    throw new Error("a search key added documents");
  } catch (e) {
    expect(e instanceof MeilisearchApiError && e.cause.code === "invalid_api_key", String(e));
    out.push(["write with a search key", [e.response.status, e.cause.code]]);
  }
  await client.deleteKey(created.key);

  const stats = await index.getStats();
  const everything = await client.getStats();
  expect(everything.indexes[INDEX].numberOfDocuments === stats.numberOfDocuments, everything);
  out.push(["stats", [stats.numberOfDocuments, sorted(Object.keys(stats.fieldDistribution))]]);

  await wait(client.deleteIndex(INDEX));
  try {
    await client.getIndex(INDEX);
    throw new Error("the index is still there");
  } catch (e) {
    expect(e instanceof MeilisearchApiError, String(e));
    out.push(["deleted index", [e.response.status, e.cause.code]]);
  }
  return out;
}

const [miroirUrl, miroirKey, nodeUrl, nodeKey] = process.argv.slice(2);
const throughMiroir = await scenario(miroirUrl, miroirKey);
const direct = await scenario(nodeUrl, nodeKey);
let differs = throughMiroir.length !== direct.length;
throughMiroir.forEach(([step, got], i) => {
  if (!isDeepStrictEqual(got, direct[i]?.[1])) {
    differs = true;
    console.log(`step '${step}' differs:\n  miroir: ${JSON.stringify(got)}\n` +
      `  node:   ${JSON.stringify(direct[i]?.[1])}`);
  }
});
if (differs) process.exit(1);
const { version } = JSON.parse(
  readFileSync(new URL("./node_modules/meilisearch/package.json", import.meta.url)));
console.log(`javascript sdk ${version}: ${direct.length} steps agree`);
