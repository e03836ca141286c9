// The SDK scenario with the official Go client (github.com/meilisearch/meilisearch-go): the
// same steps against Miroir and against a single node, each result checked, then the two
// transcripts compared. Usage: go run . MIROIR_URL MIROIR_KEY NODE_URL NODE_KEY
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

const index = "sdk_packages"

type step struct {
	name     string
	observed any
}

type failure string

func expect(condition bool, what any) {
	if !condition {
		panic(failure(fmt.Sprintf("expectation failed: %+v", what)))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(failure(err.Error()))
	}
	return v
}

// hits decodes search hits into plain maps; numbers stay float64 as JSON has them.
func hits(h meilisearch.Hits) []map[string]any {
	var out []map[string]any
	must(0, h.DecodeInto(&out))
	return out
}

func ids(h meilisearch.Hits) []float64 {
	out := []float64{}
	for _, hit := range hits(h) {
		out = append(out, hit["id"].(float64))
	}
	return out
}

func raw(m json.RawMessage) any {
	var out any
	must(0, json.Unmarshal(m, &out))
	return out
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

func apiError(err error) *meilisearch.Error {
	var e *meilisearch.Error
	expect(errors.As(err, &e), err)
	return e
}

func scenario(url, key string, docs []map[string]any) []step {
	ctx := context.Background()
	client := meilisearch.New(url, meilisearch.WithAPIKey(key))
	var out []step
	wait := func(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
		task := must(client.WaitForTask(ctx, must(info, err).TaskUID, 20*time.Millisecond))
		expect(task.Status == meilisearch.TaskStatusSucceeded, task)
		return task
	}

	task := wait(client.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: index, PrimaryKey: "id"}))
	out = append(out, step{"create index", []any{task.Type, task.Status}})
	idx := client.Index(index)
	expect(must(client.GetIndex(ctx, index)).PrimaryKey == "id", "primary key")

	first := must(idx.AddDocuments(ctx, docs[:160], nil))
	second := must(idx.AddDocuments(ctx, docs[160:], nil))
	added := []int64{wait(first, nil).Details.IndexedDocuments,
		wait(second, nil).Details.IndexedDocuments}
	out = append(out, step{"add documents", added})

	wait(idx.UpdateSettings(ctx, &meilisearch.Settings{
		FilterableAttributes: []string{"section", "priority", "architecture", "tags", "depends_count"},
		SortableAttributes:   []string{"installed_size_kb", "depends_count", "name"},
		Synonyms:             map[string][]string{"lib": {"library"}, "library": {"lib"}},
	}))
	settings := must(idx.GetSettings(ctx))
	expect(reflect.DeepEqual(sorted(settings.FilterableAttributes),
		[]string{"architecture", "depends_count", "priority", "section", "tags"}), settings)
	out = append(out, step{"settings", []any{sorted(settings.FilterableAttributes),
		sorted(settings.SortableAttributes), settings.Synonyms}})

	r := must(idx.Search(ctx, "library", &meilisearch.SearchRequest{
		Filter: "section = libs OR section = libdevel", Facets: []string{"section", "priority"},
		Limit: 10}))
	facets := raw(r.FacetDistribution).(map[string]any)
	total := 0.0
	for _, n := range facets["section"].(map[string]any) {
		total += n.(float64)
	}
	expect(len(r.Hits) > 0 && total == float64(r.EstimatedTotalHits), facets)
	for _, h := range hits(r.Hits) {
		expect(h["section"] == "libs" || h["section"] == "libdevel", h)
	}
	out = append(out, step{"search filter facets", []any{ids(r.Hits), r.EstimatedTotalHits, facets}})

	r = must(idx.Search(ctx, "", &meilisearch.SearchRequest{Filter: "section = python",
		Sort: []string{"installed_size_kb:desc"}, Limit: 5, Offset: 2}))
	found := hits(r.Hits)
	expect(len(found) == 5, found)
	for i := 1; i < len(found); i++ {
		expect(found[i-1]["installed_size_kb"].(float64) >= found[i]["installed_size_kb"].(float64), found)
	}
	out = append(out, step{"search sort offset", []any{ids(r.Hits), r.EstimatedTotalHits}})

	perPage := int64(7)
	r = must(idx.Search(ctx, "", &meilisearch.SearchRequest{Filter: "depends_count > 3",
		Page: 2, HitsPerPage: &perPage}))
	expect(r.Page == 2 && len(r.Hits) == 7, r)
	for _, h := range hits(r.Hits) {
		expect(h["depends_count"].(float64) > 3, h)
	}
	out = append(out, step{"search pages", []any{ids(r.Hits), r.TotalHits, r.TotalPages}})

	r = must(idx.Search(ctx, "lib", &meilisearch.SearchRequest{
		AttributesToRetrieve: []string{"id", "name"}, Limit: 20}))
	for _, h := range hits(r.Hits) {
		expect(len(h) == 2 && h["id"] != nil && h["name"] != nil, h)
	}
	out = append(out, step{"search synonyms", []any{ids(r.Hits), r.EstimatedTotalHits}})

	multi := must(client.MultiSearch(ctx, &meilisearch.MultiSearchRequest{
		Queries: []*meilisearch.SearchRequest{
			{IndexUID: index, Query: "perl"},
			{IndexUID: index, Query: "java", Filter: "section = java"},
		}}))
	var each []any
	for _, x := range multi.Results {
		expect(x.IndexUID == index, x)
		each = append(each, []any{ids(x.Hits), x.EstimatedTotalHits})
	}
	out = append(out, step{"multi-search", each})

	multi = must(client.MultiSearch(ctx, &meilisearch.MultiSearchRequest{
		Federation: &meilisearch.MultiSearchFederation{Limit: 10},
		Queries: []*meilisearch.SearchRequest{
			{IndexUID: index, Query: "python"}, {IndexUID: index, Query: "golang"},
		}}))
	expect(len(multi.Hits) == 10, multi)
	for _, h := range hits(multi.Hits) {
		expect(h["_federation"] != nil, h)
	}
	out = append(out, step{"federated multi-search", []any{ids(multi.Hits), multi.EstimatedTotalHits}})

	var doc map[string]any
	must(0, idx.GetDocument(ctx, "201", nil, &doc))
	expect(doc["id"].(float64) == 201 && doc["name"] == docs[1]["name"], doc)
	out = append(out, step{"get document", doc})

	deleted := wait(idx.DeleteDocuments(ctx, []string{"201", "401", "601"}, nil))
	out = append(out, step{"delete documents", deleted.Details.DeletedDocuments})
	expect(must(idx.GetStats(ctx, nil)).NumberOfDocuments == int64(len(docs)-3), "documents after delete")

	tasks := must(client.GetTasks(ctx, &meilisearch.TasksQuery{IndexUIDS: []string{index},
		Types: []meilisearch.TaskType{meilisearch.TaskTypeDocumentAdditionOrUpdate}}))
	var listed []any
	for _, t := range tasks.Results {
		expect(t.Status == meilisearch.TaskStatusSucceeded, t)
		listed = append(listed, []any{t.Type, t.Status, t.IndexUID})
	}
	expect(len(listed) == 2, listed)
	out = append(out, step{"tasks", listed})

	created := must(client.CreateKey(ctx, &meilisearch.Key{Description: "sdk search key",
		Actions: []string{"search"}, Indexes: []string{index}}))
	expect(must(client.GetKey(ctx, created.Key)).UID == created.UID, "key by value")
	keyed := meilisearch.New(url, meilisearch.WithAPIKey(created.Key))
	r = must(keyed.Index(index).Search(ctx, "library", &meilisearch.SearchRequest{Limit: 5}))
	out = append(out, step{"search with a key", ids(r.Hits)})
	_, err := keyed.Index(index).AddDocuments(ctx, []map[string]any{{"id": 1}}, nil)
	refused := apiError(err)
	expect(refused.APIError.Code == "invalid_api_key", refused)
	out = append(out, step{"write with a search key", []any{refused.StatusCode, refused.APIError.Code}})
	must(client.DeleteKey(ctx, created.Key))

	stats := must(idx.GetStats(ctx, nil))
	everything := must(client.GetStats(ctx, nil))
	expect(everything.Indexes[index].NumberOfDocuments == stats.NumberOfDocuments, everything)
	var fields []string
	for f := range stats.FieldDistribution {
		fields = append(fields, f)
	}
	out = append(out, step{"stats", []any{stats.NumberOfDocuments, sorted(fields)}})

	wait(client.DeleteIndex(ctx, index))
	_, err = client.GetIndex(ctx, index)
	gone := apiError(err)
	out = append(out, step{"deleted index", []any{gone.StatusCode, gone.APIError.Code}})
	return out
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: scenario MIROIR_URL MIROIR_KEY NODE_URL NODE_KEY")
		os.Exit(2)
	}
	_, here, _, _ := runtime.Caller(0)
	data := must(os.ReadFile(filepath.Join(filepath.Dir(here), "..", "packages.json")))
	var docs []map[string]any
	must(0, json.Unmarshal(data, &docs))

	defer func() {
		if f, ok := recover().(failure); ok {
			fmt.Println(f)
			os.Exit(1)
		}
	}()
	throughMiroir := scenario(os.Args[1], os.Args[2], docs)
	direct := scenario(os.Args[3], os.Args[4], docs)
	differs := len(throughMiroir) != len(direct)
	for i, s := range throughMiroir {
		if i >= len(direct) || !reflect.DeepEqual(s.observed, direct[i].observed) {
			differs = true
			fmt.Printf("step '%s' differs:\n  miroir: %v\n  node:   %v\n", s.name, s.observed,
				direct[i].observed)
		}
	}
	if differs {
		os.Exit(1)
	}
	fmt.Printf("go sdk %s: %d steps agree\n", meilisearch.GetQualifiedVersion(), len(direct))
}
