"""The SDK scenario with the official Python client (`meilisearch` on PyPI): the same steps
against Miroir and against a single node, each result checked, then the two transcripts
compared. Usage: scenario.py MIROIR_URL MIROIR_KEY NODE_URL NODE_KEY"""
import json
import os
import sys

import meilisearch
from meilisearch.errors import MeilisearchApiError

HERE = os.path.dirname(os.path.abspath(__file__))
INDEX = "sdk_packages"


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def ids(hits):
    return [h["id"] for h in hits]


def scenario(url, key):
    """Runs every step; returns the transcript: (step, what the step observed)."""
    with open(os.path.join(HERE, "..", "packages.json")) as f:
        docs = json.load(f)
    client = meilisearch.Client(url, key)
    out = []

    def wait(task_info):
        task = client.wait_for_task(task_info.task_uid, timeout_in_ms=30000)
        expect(task.status == "succeeded", f"task {task.uid} {task.status}: {task.error}")
        return task

    task = wait(client.create_index(INDEX, {"primaryKey": "id"}))
    out.append(("create index", [task.type, task.status]))
    index = client.index(INDEX)
    expect(index.fetch_info().primary_key == "id", "primary key")

    first = index.add_documents(docs[:160])
    second = index.add_documents(docs[160:])
    added = [wait(first), wait(second)]
    out.append(("add documents", [t.details["indexedDocuments"] for t in added]))

    wait(index.update_settings({
        "filterableAttributes": ["section", "priority", "architecture", "tags", "depends_count"],
        "sortableAttributes": ["installed_size_kb", "depends_count", "name"],
        "synonyms": {"lib": ["library"], "library": ["lib"]},
    }))
    settings = index.get_settings()
    expect(sorted(settings["filterableAttributes"]) ==
           ["architecture", "depends_count", "priority", "section", "tags"], settings)
    out.append(("settings", [sorted(settings["filterableAttributes"]),
                             sorted(settings["sortableAttributes"]), settings["synonyms"]]))

    r = index.search("library", {"filter": "section = libs OR section = libdevel",
                                  "facets": ["section", "priority"], "limit": 10})
    expect(r["hits"] and all(h["section"] in ("libs", "libdevel") for h in r["hits"]), r)
    expect(sum(r["facetDistribution"]["section"].values()) == r["estimatedTotalHits"], r)
    out.append(("search filter facets", [ids(r["hits"]), r["estimatedTotalHits"],
                                         r["facetDistribution"]]))

    r = index.search("", {"filter": "section = python", "sort": ["installed_size_kb:desc"],
                          "limit": 5, "offset": 2})
    sizes = [h["installed_size_kb"] for h in r["hits"]]
    expect(sizes == sorted(sizes, reverse=True) and len(sizes) == 5, sizes)
    out.append(("search sort offset", [ids(r["hits"]), r["estimatedTotalHits"]]))

    r = index.search("", {"filter": "depends_count > 3", "page": 2, "hitsPerPage": 7})
    expect(r["page"] == 2 and len(r["hits"]) == 7 and
           all(h["depends_count"] > 3 for h in r["hits"]), r)
    out.append(("search pages", [ids(r["hits"]), r["totalHits"], r["totalPages"]]))

    r = index.search("lib", {"attributesToRetrieve": ["id", "name"], "limit": 20})
    expect(all(set(h) == {"id", "name"} for h in r["hits"]), r["hits"][:2])
    out.append(("search synonyms", [ids(r["hits"]), r["estimatedTotalHits"]]))

    r = client.multi_search([{"indexUid": INDEX, "q": "perl"},
                             {"indexUid": INDEX, "q": "java", "filter": "section = java"}])
    expect([x["indexUid"] for x in r["results"]] == [INDEX, INDEX], r)
    out.append(("multi-search", [[ids(x["hits"]), x["estimatedTotalHits"]]
                                 for x in r["results"]]))

    r = client.multi_search([{"indexUid": INDEX, "q": "python"},
                             {"indexUid": INDEX, "q": "golang"}], federation={"limit": 10})
    expect(len(r["hits"]) == 10 and all("_federation" in h for h in r["hits"]), r)
    out.append(("federated multi-search", [ids(r["hits"]), r["estimatedTotalHits"]]))

    doc = index.get_document(201)
    expect(doc.id == 201 and doc.name == docs[1]["name"], doc)
    out.append(("get document", dict(doc)))

    deleted = wait(index.delete_documents([201, 401, 601]))
    out.append(("delete documents", deleted.details["deletedDocuments"]))
    expect(index.get_stats().number_of_documents == len(docs) - 3, "documents after delete")

    tasks = client.get_tasks({"indexUids": [INDEX], "types": ["documentAdditionOrUpdate"]})
    expect(len(tasks.results) == 2 and all(t.status == "succeeded" for t in tasks.results),
           tasks.results)
    out.append(("tasks", [[t.type, t.status, t.index_uid] for t in tasks.results]))

    created = client.create_key({"description": "sdk search key", "actions": ["search"],
                                 "indexes": [INDEX], "expiresAt": None})
    expect(client.get_key(created.key).uid == created.uid, "key by value")
    keyed = meilisearch.Client(url, created.key)
    r = keyed.index(INDEX).search("library", {"limit": 5})
    out.append(("search with a key", ids(r["hits"])))
    try:
        keyed.index(INDEX).add_documents([{"id": 1}])
        raise AssertionError("a search key added documents")
    except MeilisearchApiError as e:
        expect(e.code == "invalid_api_key", e)
        out.append(("write with a search key", [e.status_code, e.code]))
    client.delete_key(created.key)

    stats = index.get_stats()
    everything = client.get_all_stats()
    expect(everything["indexes"][INDEX]["numberOfDocuments"] == stats.number_of_documents,
           everything)
    out.append(("stats", [stats.number_of_documents, sorted(stats.field_distribution)]))

    wait(client.delete_index(INDEX))
    try:
        client.get_index(INDEX)
        raise AssertionError("the index is still there")
    except MeilisearchApiError as e:
        out.append(("deleted index", [e.status_code, e.code]))
    return out


def main():
    miroir_url, miroir_key, node_url, node_key = sys.argv[1:5]
    through_miroir = scenario(miroir_url, miroir_key)
    direct = scenario(node_url, node_key)
    differences = [(a[0], a[1], b[1]) for a, b in zip(through_miroir, direct) if a != b]
    for step, got, want in differences:
        print(f"step {step!r} differs:\n  miroir: {got}\n  node:   {want}")
    if differences or len(through_miroir) != len(direct):
        sys.exit(1)
    print(f"python sdk {meilisearch.version.qualified_version()}: "
          f"{len(direct)} steps agree")


if __name__ == "__main__":
    main()
