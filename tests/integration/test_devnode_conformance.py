"""Conformance of the development node with Meilisearch, route by route: status codes,
response shapes and the semantics SDKs rely on. Runs against miroir-devnode by default, a real
`meilisearch` when MEILISEARCH_BIN is set, or a running one at MEILISEARCH_URL(+_KEY)."""
import hashlib
import hmac
import os
import unittest
import uuid

from nodes import Node

TASK_KEYS = ["uid", "batchUid", "indexUid", "status", "type", "canceledBy", "details", "error",
             "duration", "enqueuedAt", "startedAt", "finishedAt"]
SUMMARY_KEYS = ["taskUid", "indexUid", "status", "type", "enqueuedAt"]
ERROR_KEYS = ["message", "code", "type", "link"]
SETTINGS_KEYS = ["displayedAttributes", "searchableAttributes", "filterableAttributes",
                 "sortableAttributes", "rankingRules", "stopWords", "nonSeparatorTokens",
                 "separatorTokens", "dictionary", "synonyms", "distinctAttribute",
                 "proximityPrecision", "typoTolerance", "faceting", "pagination", "embedders",
                 "searchCutoffMs", "localizedAttributes", "facetSearch", "prefixSearch"]


def unique(prefix="idx"):
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class Conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def assertError(self, r, status, code, type_="invalid_request"):
        self.assertEqual(r.status, status, r.body)
        body = r.json()
        self.assertEqual(list(body.keys()), ERROR_KEYS, body)
        self.assertEqual(body["code"], code, body)
        self.assertEqual(body["type"], type_)
        self.assertEqual(body["link"], "https://docs.meilisearch.com/errors#" + code)
        return body

    def assertTaskShape(self, task):
        keys = [k for k in task.keys() if k not in ("customMetadata", "network")]
        expected = [k for k in TASK_KEYS if k != "details" or "details" in task]
        self.assertEqual(keys, expected, task)

    def new_index(self, pk="id"):
        uid = unique()
        task = self.node.run("POST", "/indexes", {"uid": uid, "primaryKey": pk})
        self.assertEqual(task["status"], "succeeded", task)
        return uid

    # -- misc -----------------------------------------------------------------------------
    def test_health_and_version(self):
        r = self.node.call("GET", "/health", key="")
        self.assertEqual((r.status, r.json()), (200, {"status": "available"}))
        r = self.node.call("GET", "/version")
        self.assertEqual(list(r.json().keys()), ["commitSha", "commitDate", "pkgVersion"])

    def test_auth_errors(self):
        self.assertError(self.node.call("GET", "/indexes", key=""), 401,
                         "missing_authorization_header", "auth")
        self.assertError(self.node.call("GET", "/indexes", key="wrong"), 403, "invalid_api_key",
                         "auth")

    def test_unknown_route(self):
        self.assertEqual(self.node.call("GET", "/doggo").status, 404)

    # -- indexes --------------------------------------------------------------------------
    def test_index_lifecycle(self):
        uid = unique()
        r = self.node.call("POST", "/indexes", {"uid": uid, "primaryKey": "id"})
        self.assertEqual(r.status, 202)
        self.assertEqual(list(r.json().keys()), SUMMARY_KEYS)
        self.assertEqual(r.json()["type"], "indexCreation")
        task = self.node.wait_task(r.json()["taskUid"])
        self.assertTaskShape(task)
        self.assertEqual(task["details"], {"primaryKey": "id"})
        self.assertRegex(task["duration"], r"^PT\d+(\.\d+)?S$")

        index = self.node.call("GET", f"/indexes/{uid}").json()
        self.assertEqual(list(index.keys()), ["uid", "createdAt", "updatedAt", "primaryKey"])
        self.assertEqual(index["primaryKey"], "id")

        again = self.node.run("POST", "/indexes", {"uid": uid})
        self.assertEqual(again["status"], "failed")
        self.assertEqual(again["error"]["code"], "index_already_exists")
        self.assertEqual(list(again["error"].keys()), ERROR_KEYS)

        listing = self.node.call("GET", "/indexes?limit=1").json()
        self.assertEqual(list(listing.keys()), ["results", "offset", "limit", "total"])
        self.assertEqual(listing["limit"], 1)

        task = self.node.run("DELETE", f"/indexes/{uid}")
        self.assertEqual(task["details"], {"deletedDocuments": 0})
        self.assertError(self.node.call("GET", f"/indexes/{uid}"), 404, "index_not_found")

    def test_index_errors(self):
        self.assertError(self.node.call("POST", "/indexes", {"primaryKey": "id"}), 400,
                         "missing_index_uid")
        self.assertError(self.node.call("POST", "/indexes", {"uid": "bad uid!"}), 400,
                         "invalid_index_uid")
        self.assertError(self.node.call("POST", "/indexes", {"uid": "a", "doggo": 1}), 400,
                         "bad_request")
        self.assertError(self.node.call("POST", "/indexes", '{"uid":', headers={
            "Content-Type": "application/json"}), 400, "malformed_payload")
        self.assertError(self.node.call("POST", "/indexes", '{"uid":"a"}',
                                        headers={"Content-Type": "text/plain"}),
                         415, "invalid_content_type")
        missing = self.node.run("DELETE", f"/indexes/{unique()}")
        self.assertEqual(missing["status"], "failed")
        self.assertEqual(missing["error"]["code"], "index_not_found")

    def test_empty_index_stats_are_exact_zeros(self):
        uid = self.new_index()
        stats = self.node.call("GET", f"/indexes/{uid}/stats").json()
        self.assertEqual(stats["numberOfDocuments"], 0)
        self.assertEqual(stats["fieldDistribution"], {})
        self.assertFalse(stats["isIndexing"])

    # -- documents ------------------------------------------------------------------------
    def test_add_json_ndjson_csv_and_read_back(self):
        uid = unique()
        task = self.node.run("POST", f"/indexes/{uid}/documents",
                             [{"id": 1, "title": "Carol"}, {"id": "2", "title": "Wonder"}])
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["details"], {"receivedDocuments": 2, "indexedDocuments": 2})
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}").json()["primaryKey"], "id")

        nd = '{"id": 3, "title": "Nd"}\n{"id": 4, "title": "Json"}\n'
        task = self.node.run("POST", f"/indexes/{uid}/documents", nd,
                             headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(task["details"]["indexedDocuments"], 2)
        csv = 'id,title,year:number,ok:boolean\n5,"Quoted, title",1999,true\n6,,2001.5,false\n'
        task = self.node.run("POST", f"/indexes/{uid}/documents", csv,
                             headers={"Content-Type": "text/csv"})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/documents/5").json(),
                         {"id": "5", "title": "Quoted, title", "year": 1999, "ok": True})
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/documents/6").json()["title"],
                         None)
        task = self.node.run("POST", f"/indexes/{uid}/documents?csvDelimiter=%3B",
                             "id;title\n7;semi\n", headers={"Content-Type": "text/csv"})
        self.assertEqual(task["status"], "succeeded", task)

        doc = self.node.call("GET", f"/indexes/{uid}/documents/1")
        self.assertEqual(doc.json(), {"id": 1, "title": "Carol"})
        # integer 1 and string "1" are the same id
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/documents/2").status, 200)
        self.assertError(self.node.call("GET", f"/indexes/{uid}/documents/99"), 404,
                         "document_not_found")

        page = self.node.call("GET", f"/indexes/{uid}/documents?offset=1&limit=2&fields=title")
        body = page.json()
        self.assertEqual(list(body.keys()), ["results", "offset", "limit", "total"])
        self.assertEqual(body["total"], 7)
        self.assertEqual(body["results"], [{"title": "Wonder"}, {"title": "Nd"}])
        fetched = self.node.call("POST", f"/indexes/{uid}/documents/fetch",
                                 {"ids": ["4", 3], "fields": ["id"]}).json()
        self.assertEqual(sorted(d["id"] for d in fetched["results"]), [3, 4])

    def test_update_merges_and_replace_overwrites(self):
        uid = self.new_index()
        self.node.run("POST", f"/indexes/{uid}/documents", [{"id": 1, "a": 1, "b": 1}])
        self.node.run("PUT", f"/indexes/{uid}/documents", [{"id": 1, "b": 2, "c": 3}])
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/documents/1").json(),
                         {"id": 1, "a": 1, "b": 2, "c": 3})
        self.node.run("POST", f"/indexes/{uid}/documents", [{"id": 1, "z": 0}])
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/documents/1").json(),
                         {"id": 1, "z": 0})

    def test_deletions(self):
        uid = self.new_index()
        self.node.run("POST", f"/indexes/{uid}/documents", [{"id": i} for i in range(10)])
        task = self.node.run("DELETE", f"/indexes/{uid}/documents/3")
        self.assertEqual(task["type"], "documentDeletion")
        self.assertEqual(task["details"], {"providedIds": 1, "deletedDocuments": 1,
                                           "originalFilter": None})
        task = self.node.run("POST", f"/indexes/{uid}/documents/delete-batch", [1, "2", 42])
        self.assertEqual(task["details"], {"providedIds": 3, "deletedDocuments": 2,
                                           "originalFilter": None})
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/stats").json()
                         ["numberOfDocuments"], 7)
        task = self.node.run("DELETE", f"/indexes/{uid}/documents")
        self.assertEqual(task["details"], {"deletedDocuments": 7})

    def test_payload_errors(self):
        uid = unique()
        path = f"/indexes/{uid}/documents"
        self.assertError(self.node.call("POST", path, "[]", headers={}), 415,
                         "missing_content_type")
        self.assertError(self.node.call("POST", path, "[]", headers={
            "Content-Type": "text/plain"}), 415, "invalid_content_type")
        self.assertError(self.node.call("POST", path, "", headers={
            "Content-Type": "application/json"}), 400, "missing_payload")
        self.assertError(self.node.call("POST", path, "[{", headers={
            "Content-Type": "application/json"}), 400, "malformed_payload")
        self.assertError(self.node.call("POST", path + "?csvDelimiter=ab", "id\n1\n", headers={
            "Content-Type": "text/csv"}), 400, "invalid_document_csv_delimiter")
        self.assertError(self.node.call("POST", path + "?csvDelimiter=%3B", [{"id": 1}]), 415,
                         "invalid_content_type")
        self.assertError(self.node.call("POST", path + "?doggo=1", [{"id": 1}]), 400,
                         "bad_request")

    def test_primary_key_inference_and_id_validation(self):
        cases = [
            ([{"title": "x"}], "index_primary_key_no_candidate_found"),
            ([{"id": 1, "object_id": 2}], "index_primary_key_multiple_candidates_found"),
            ([{"id": "foo & bar"}], "invalid_document_id"),
            ([{"id": 1.5}], "invalid_document_id"),
            ([{"id": 1}, {"title": "no id"}], "missing_document_id"),
        ]
        for docs, code in cases:
            uid = unique()
            task = self.node.run("POST", f"/indexes/{uid}/documents", docs)
            self.assertEqual(task["status"], "failed", (docs, task))
            self.assertEqual(task["error"]["code"], code, docs)
            self.assertEqual(task["details"]["indexedDocuments"], 0)
        # nothing of a failed batch is indexed
        uid = self.new_index()
        self.node.run("POST", f"/indexes/{uid}/documents", [{"id": 1}, {"id": "bad id"}])
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/stats").json()
                         ["numberOfDocuments"], 0)
        # inference picks the only *id field, whatever its case
        uid = unique()
        self.node.run("POST", f"/indexes/{uid}/documents", [{"productID": "a", "name": "n"}])
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}").json()["primaryKey"],
                         "productID")

    # -- filters ----------------------------------------------------------------------------
    def filtered_index(self):
        uid = self.new_index()
        docs = [
            {"id": 1, "genre": "Horror", "year": 1999, "tags": ["a", "b"], "ok": True,
             "meta": {"lang": "en"}, "note": None, "title": "Évasion"},
            {"id": 2, "genre": "horror", "year": 2005, "tags": [], "ok": False,
             "meta": {"lang": "fr"}, "note": "x", "title": "Alien"},
            {"id": 3, "genre": "Drama", "year": 2010, "tags": ["b"], "title": "Amélie"},
            {"id": 4, "genre": "Comedy", "year": "unknown", "title": ""},
        ]
        self.node.run("POST", f"/indexes/{uid}/documents", docs)
        self.node.run("PATCH", f"/indexes/{uid}/settings", {"filterableAttributes": [
            "genre", "year", "tags", "ok", "meta.lang", "note", "title"]})
        return uid

    def ids(self, uid, filter_):
        r = self.node.call("POST", f"/indexes/{uid}/documents/fetch",
                           {"filter": filter_, "fields": ["id"], "limit": 100})
        self.assertEqual(r.status, 200, (filter_, r.body))
        return sorted(d["id"] for d in r.json()["results"])

    def test_filter_semantics(self):
        uid = self.filtered_index()
        cases = {
            "genre = horror": [1, 2],
            "genre != horror": [3, 4],
            "NOT genre = horror": [3, 4],
            # comparisons apply to numbers and, lexicographically, to strings
            "year > 2000": [2, 3, 4],
            "year 1999 TO 2005": [1, 2],
            "year >= 2005 AND genre = horror": [2],
            "genre = drama OR year < 2000": [1, 3],
            "genre IN [Drama, Comedy]": [3, 4],
            "genre NOT IN [Drama, Comedy]": [1, 2],
            "tags = b": [1, 3],
            "ok = true": [1],
            "meta.lang = fr": [2],
            "note EXISTS": [1, 2],
            "note NOT EXISTS": [3, 4],
            "note IS NULL": [1],
            "note IS NOT NULL": [2, 3, 4],
            "tags IS EMPTY": [2],
            "title IS EMPTY": [4],
            "genre STARTS WITH hor": [1, 2],
            # facet values are lowercased, not stripped of their accents
            "title = évasion": [1],
            "title = evasion": [],
            "(genre = horror AND year = 1999) OR genre = comedy": [1, 4],
            "genre = 'Drama'": [3],
        }
        for expression, expected in cases.items():
            self.assertEqual(self.ids(uid, expression), expected, expression)
        self.assertEqual(self.ids(uid, ["genre = horror", ["year = 1999", "year = 2010"]]), [1])
        self.assertEqual(self.ids(uid, ""), [1, 2, 3, 4])
        got = self.node.call("GET", f"/indexes/{uid}/documents?filter=year%20%3C%202006&fields=id")
        self.assertEqual(sorted(d["id"] for d in got.json()["results"]), [1, 2])

    def test_filter_errors(self):
        uid = self.filtered_index()
        fetch = f"/indexes/{uid}/documents/fetch"
        body = self.assertError(self.node.call("POST", fetch, {"filter": "doggo = 1"}), 400,
                                "invalid_document_filter")
        self.assertIn("Attribute `doggo` is not filterable.", body["message"])
        for bad in ["genre =", "genre ! x", "(genre = a", "AND = 1", "genre = 'x", "genre"]:
            self.assertError(self.node.call("POST", fetch, {"filter": bad}), 400,
                             "invalid_document_filter")
        self.assertError(self.node.call("POST", fetch, {"filter": [1]}), 400,
                         "invalid_document_filter")
        self.assertError(self.node.call("POST", fetch, {"filter": True}), 400,
                         "invalid_document_filter")
        # the documents route shows the expression as given; the search route names the index
        # and writes the parsed expression back, every operand quoted and in parentheses
        self.assertEqual(body["message"].split("\n")[1], "1:6 doggo = 1")
        patterns = "Available filterable attribute patterns are: `genre`, `meta.lang`, `note`, " \
                   "`ok`, `tags`, `title`, `year`."
        search = f"/indexes/{uid}/search"
        for given, shown in [
                ("doggo = 1", '2:7 "doggo" = "1"'),
                ("genre = a AND doggo > 3", '23:28 ("genre" = "a") AND ("doggo" > "3")'),
                ("NOT doggo IN [a, 2]", '7:12 NOT ("doggo" IN ["a", "2"])'),
                ("doggo IS NOT NULL OR year 1 TO 5",
                 '8:13 (NOT ("doggo" IS NULL)) OR ("year" "1" TO "5")'),
                (["genre = a", ["doggo EXISTS", "ok = true"]],
                 '24:29 ("genre" = "a") AND (("doggo" EXISTS) OR ("ok" = "true"))')]:
            body = self.assertError(self.node.call("POST", search, {"filter": given}), 400,
                                    "invalid_search_filter")
            self.assertEqual(body["message"], f"Index `{uid}`: Attribute `doggo` is not "
                                              f"filterable. {patterns}\n{shown}", given)
        body = self.assertError(self.node.call("POST", f"/indexes/{uid}/facet-search",
                                               {"facetName": "genre", "filter": "doggo = 1"}),
                                400, "invalid_search_filter")
        self.assertEqual(body["message"], f"Attribute `doggo` is not filterable. {patterns}"
                                          "\n1:6 doggo = 1")

    def test_browse_sort(self):
        uid = self.filtered_index()
        self.node.run("PUT", f"/indexes/{uid}/settings/sortable-attributes", ["year", "title"])
        fetch = f"/indexes/{uid}/documents/fetch"
        r = self.node.call("POST", fetch, {"sort": ["year:desc"], "fields": ["id"]})
        self.assertEqual([d["id"] for d in r.json()["results"]], [3, 2, 1, 4])
        r = self.node.call("GET", f"/indexes/{uid}/documents?sort=year:asc&fields=id")
        self.assertEqual([d["id"] for d in r.json()["results"]], [1, 2, 3, 4])
        r = self.node.call("POST", fetch, {"sort": ["title:asc"], "filter": "genre = horror",
                                           "fields": ["id"]})
        self.assertEqual([d["id"] for d in r.json()["results"]], [2, 1])
        self.assertError(self.node.call("POST", fetch, {"sort": ["genre:asc"]}), 400,
                         "invalid_document_sort")
        self.assertError(self.node.call("POST", fetch, {"sort": ["year"]}), 400,
                         "invalid_document_sort")

    def test_delete_by_filter(self):
        uid = self.filtered_index()
        path = f"/indexes/{uid}/documents/delete"
        self.assertError(self.node.call("POST", path, {}), 400, "missing_document_filter")
        self.assertError(self.node.call("POST", path, {"filter": ""}), 400,
                         "invalid_document_filter")
        self.assertError(self.node.call("POST", path, {"filter": "genre ="}), 400,
                         "invalid_document_filter")
        task = self.node.run("POST", path, {"filter": "genre = horror"})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["details"], {"providedIds": 0, "deletedDocuments": 2,
                                           "originalFilter": "\"genre = horror\""})
        self.assertEqual(self.ids(uid, None), [3, 4])
        failed = self.node.run("POST", path, {"filter": "doggo = 1"})
        self.assertEqual(failed["status"], "failed")
        self.assertEqual(failed["error"]["code"], "invalid_document_filter")

    # -- tasks ----------------------------------------------------------------------------
    def test_task_list_pagination_and_filters(self):
        uid = self.new_index()
        for i in range(5):
            self.node.run("POST", f"/indexes/{uid}/documents", [{"id": i}])
        page = self.node.call("GET", f"/tasks?indexUids={uid}&limit=2").json()
        self.assertEqual(list(page.keys()), ["results", "total", "limit", "from", "next"])
        self.assertEqual(page["total"], 6)
        uids = [t["uid"] for t in page["results"]]
        self.assertEqual(uids, sorted(uids, reverse=True))
        self.assertEqual(page["from"], uids[0])
        self.assertEqual(page["next"], uids[1] - 1)
        seen = list(uids)
        while page["next"] is not None:
            page = self.node.call("GET", f"/tasks?indexUids={uid}&limit=2&from={page['next']}").json()
            seen += [t["uid"] for t in page["results"]]
        self.assertEqual(len(seen), 6)
        self.assertEqual(seen, sorted(seen, reverse=True))
        rev = self.node.call("GET", f"/tasks?indexUids={uid}&reverse=true").json()
        self.assertEqual([t["uid"] for t in rev["results"]], sorted(seen))
        only = self.node.call("GET", f"/tasks?indexUids={uid}&types=indexCreation").json()
        self.assertEqual(len(only["results"]), 1)
        only = self.node.call("GET", f"/tasks?indexUids={uid}&statuses=SUCCEEDED").json()
        self.assertEqual(only["total"], 6)
        self.assertError(self.node.call("GET", "/tasks?statuses=doggo"), 400,
                         "invalid_task_statuses")
        self.assertError(self.node.call("GET", "/tasks?limit=-1"), 400, "invalid_task_limit")
        self.assertError(self.node.call("GET", "/tasks/abc"), 400, "invalid_task_uids")
        self.assertError(self.node.call("GET", "/tasks/4294967295"), 404, "task_not_found")

    def test_batches(self):
        uid = self.new_index()
        tasks = [self.node.run("POST", f"/indexes/{uid}/documents", [{"id": i}]) for i in range(3)]
        page = self.node.call("GET", f"/batches?indexUids={uid}&limit=2").json()
        self.assertEqual(list(page.keys()), ["results", "total", "limit", "from", "next"])
        self.assertEqual(page["total"], 4)  # the creation and three additions, one at a time
        batch = page["results"][0]
        self.assertEqual(list(batch.keys())[:4], ["uid", "progress", "details", "stats"])
        self.assertLessEqual({"totalNbTasks", "status", "types", "indexUids", "progressTrace"},
                             set(batch["stats"]))
        uids = [b["uid"] for b in page["results"]]
        self.assertEqual(uids, sorted(uids, reverse=True))
        rest = self.node.call("GET", f"/batches?indexUids={uid}&from={page['next']}").json()
        self.assertEqual(len(uids) + len(rest["results"]), 4)
        last = tasks[-1]
        one = self.node.call("GET", f"/batches/{last['batchUid']}").json()
        self.assertEqual(one["uid"], last["batchUid"])
        self.assertEqual(one["stats"]["totalNbTasks"], 1)
        self.assertEqual(one["stats"]["types"], {"documentAdditionOrUpdate": 1})
        self.assertEqual(one["stats"]["indexUids"], {uid: 1})
        self.assertEqual(one["details"], {"receivedDocuments": 1, "indexedDocuments": 1})
        by_uid = self.node.call("GET", f"/batches?uids={last['batchUid']}").json()
        self.assertEqual([b["uid"] for b in by_uid["results"]], [last["batchUid"]])
        of_batch = self.node.call("GET", f"/tasks?batchUids={last['batchUid']}").json()
        self.assertEqual([t["uid"] for t in of_batch["results"]], [last["uid"]])
        added = self.node.call(
            "GET", f"/batches?indexUids={uid}&types=documentAdditionOrUpdate").json()
        self.assertEqual(added["total"], 3)
        self.assertError(self.node.call("GET", "/batches/abc"), 400, "invalid_batch_uids")
        self.assertError(self.node.call("GET", "/batches/4294967295"), 404, "batch_not_found")

    def test_task_date_filters(self):
        uid = self.new_index()
        tasks = self.node.call("GET", f"/tasks?indexUids={uid}").json()["results"]
        enqueued = tasks[0]["enqueuedAt"]
        self.assertEqual(self.node.call(
            "GET", f"/tasks?indexUids={uid}&afterEnqueuedAt={enqueued}").json()["total"], 0)
        self.assertEqual(self.node.call(
            "GET", f"/tasks?indexUids={uid}&beforeEnqueuedAt=2099-01-01").json()["total"], 1)
        # far dates are valid (Meilisearch takes any year up to 9999)
        self.assertEqual(self.node.call(
            "GET", f"/tasks?indexUids={uid}&afterEnqueuedAt=2999-01-01").json()["total"], 0)
        self.assertEqual(self.node.call(
            "GET", f"/tasks?indexUids={uid}&beforeEnqueuedAt=9999-12-31").json()["total"], 1)
        self.assertError(self.node.call("GET", "/tasks?afterEnqueuedAt=yesterday"), 400,
                         "invalid_task_after_enqueued_at")

    def test_cancel_and_delete_tasks(self):
        self.assertError(self.node.call("POST", "/tasks/cancel"), 400, "missing_task_filters")
        self.assertError(self.node.call("DELETE", "/tasks"), 400, "missing_task_filters")
        uid = self.new_index()
        r = self.node.call("POST", f"/tasks/cancel?indexUids={uid}")
        self.assertEqual(r.status, 200)
        self.assertEqual(list(r.json().keys()), SUMMARY_KEYS)
        self.assertEqual(r.json()["type"], "taskCancelation")
        task = self.node.wait_task(r.json()["taskUid"])
        self.assertEqual(task["details"]["originalFilter"], f"?indexUids={uid}")
        self.assertEqual(task["details"]["matchedTasks"], 1)
        self.assertEqual(task["details"]["canceledTasks"], 0)
        creation = self.node.call("GET", f"/tasks?indexUids={uid}").json()["results"][0]["uid"]
        r = self.node.call("DELETE", f"/tasks?uids={creation}")
        self.assertEqual(r.status, 200)
        task = self.node.wait_task(r.json()["taskUid"])
        self.assertEqual(task["details"]["deletedTasks"], 1)
        self.assertError(self.node.call("GET", f"/tasks/{creation}"), 404, "task_not_found")

    # -- settings -------------------------------------------------------------------------
    def test_settings_defaults_and_updates(self):
        uid = self.new_index()
        settings = self.node.call("GET", f"/indexes/{uid}/settings").json()
        self.assertEqual(list(settings.keys()), SETTINGS_KEYS)
        self.assertEqual(settings["rankingRules"], ["words", "typo", "proximity", "attributeRank",
                                                    "sort", "wordPosition", "exactness"])
        self.assertEqual(settings["typoTolerance"]["minWordSizeForTypos"],
                         {"oneTypo": 5, "twoTypos": 9})
        self.assertEqual(settings["faceting"], {"maxValuesPerFacet": 100,
                                                "sortFacetValuesBy": {"*": "alpha"}})
        self.assertEqual(settings["pagination"], {"maxTotalHits": 1000})

        task = self.node.run("PATCH", f"/indexes/{uid}/settings",
                             {"filterableAttributes": ["genre"], "sortableAttributes": ["year"],
                              "typoTolerance": {"minWordSizeForTypos": {"oneTypo": 4}}})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["type"], "settingsUpdate")
        settings = self.node.call("GET", f"/indexes/{uid}/settings").json()
        self.assertEqual(settings["filterableAttributes"], ["genre"])
        self.assertEqual(settings["typoTolerance"]["minWordSizeForTypos"],
                         {"oneTypo": 4, "twoTypos": 9})

        self.node.run("PUT", f"/indexes/{uid}/settings/ranking-rules", ["words", "year:desc"])
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/settings/ranking-rules").json(),
                         ["words", "year:desc"])
        self.node.run("DELETE", f"/indexes/{uid}/settings/ranking-rules")
        self.assertEqual(len(self.node.call("GET", f"/indexes/{uid}/settings/ranking-rules")
                             .json()), 7)
        self.node.run("DELETE", f"/indexes/{uid}/settings")
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}/settings/sortable-attributes")
                         .json(), [])

    def test_settings_errors(self):
        uid = self.new_index()
        self.assertError(self.node.call("PATCH", f"/indexes/{uid}/settings",
                                        {"rankingRules": ["custom"]}),
                         400, "invalid_settings_ranking_rules")
        self.assertError(self.node.call("PATCH", f"/indexes/{uid}/settings",
                                        {"displayedAttributes": "title"}),
                         400, "invalid_settings_displayed_attributes")
        self.assertError(self.node.call("PATCH", f"/indexes/{uid}/settings", {"doggo": 1}), 400,
                         "bad_request")
        self.assertError(self.node.call("PATCH", f"/indexes/{uid}/settings",
                                        {"pagination": {"maxTotalHits": -1}}),
                         400, "invalid_settings_pagination")
        self.assertError(self.node.call("GET", f"/indexes/{unique()}/settings"), 404,
                         "index_not_found")

    def test_settings_update_creates_the_index(self):
        uid = unique()
        task = self.node.run("PATCH", f"/indexes/{uid}/settings", {"searchableAttributes": ["a"]})
        self.assertEqual(task["status"], "succeeded")
        self.assertEqual(self.node.call("GET", f"/indexes/{uid}").status, 200)

    # -- keys -----------------------------------------------------------------------------
    def test_keys(self):
        key_uid = str(uuid.uuid4())
        idx = self.new_index()
        r = self.node.call("POST", "/keys", {"uid": key_uid, "actions": ["indexes.get"],
                                             "indexes": [idx], "expiresAt": None,
                                             "name": "conformance"})
        self.assertEqual(r.status, 201, r.body)
        key = r.json()
        self.assertEqual(list(key.keys()), ["name", "description", "key", "uid", "actions",
                                            "indexes", "expiresAt", "createdAt", "updatedAt"])
        expected = hmac.new(self.node.master_key.encode(), key_uid.encode(),
                            hashlib.sha256).hexdigest()
        self.assertEqual(key["key"], expected)
        # the key works for what it allows, and only there
        self.assertEqual(self.node.call("GET", f"/indexes/{idx}", key=key["key"]).status, 200)
        self.assertError(self.node.call("GET", f"/indexes/{idx}/settings", key=key["key"]), 403,
                         "invalid_api_key", "auth")
        self.assertError(self.node.call("GET", f"/indexes/{unique()}", key=key["key"]), 403,
                         "invalid_api_key", "auth")
        self.assertError(self.node.call("POST", "/keys", {"uid": key_uid, "actions": ["*"],
                                                          "indexes": ["*"], "expiresAt": None}),
                         409, "api_key_already_exists")
        names = [k["name"] for k in self.node.call("GET", "/keys?limit=100").json()["results"]]
        self.assertIn("Default Search API Key", names)
        self.assertIn("Default Admin API Key", names)
        r = self.node.call("PATCH", f"/keys/{key_uid}", {"name": "renamed"})
        self.assertEqual(r.json()["name"], "renamed")
        self.assertError(self.node.call("PATCH", f"/keys/{key_uid}", {"actions": ["*"]}), 400,
                         "immutable_api_key_actions")
        self.assertEqual(self.node.call("DELETE", f"/keys/{key['key']}").status, 204)
        self.assertError(self.node.call("GET", f"/keys/{key_uid}"), 404, "api_key_not_found")
        self.assertError(self.node.call("POST", "/keys", {"actions": ["search"], "indexes": ["*"]}),
                         400, "missing_api_key_expires_at")

    @unittest.skipIf(os.environ.get("MEILISEARCH_URL"), "needs a node started without a key")
    def test_no_master_key(self):
        with Node(master_key="") as open_node:
            self.assertEqual(open_node.call("GET", "/indexes").status, 200)
            self.assertError(open_node.call("GET", "/keys"), 401, "missing_master_key", "auth")


if __name__ == "__main__":
    unittest.main()
