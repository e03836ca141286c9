//! The SDK scenario with the official Rust client (`meilisearch-sdk` on crates.io): the same
//! steps against Miroir and against a single node, each result checked, then the two
//! transcripts compared. Usage: miroir-sdk-rust MIROIR_URL MIROIR_KEY NODE_URL NODE_KEY
use std::collections::HashMap;
use std::time::Duration;

use meilisearch_sdk::client::Client;
use meilisearch_sdk::errors::Error;
use meilisearch_sdk::key::{Action, KeyBuilder};
use meilisearch_sdk::search::{FederationOptions, SearchResult, Selectors};
use meilisearch_sdk::settings::Settings;
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::{Task, TasksSearchQuery};
use serde_json::{json, Value};

const INDEX: &str = "sdk_packages";

fn expect(condition: bool, what: impl std::fmt::Debug) {
    if !condition {
        panic!("expectation failed: {what:?}");
    }
}

fn ids(hits: &[SearchResult<Value>]) -> Value {
    hits.iter().map(|h| h.result["id"].clone()).collect()
}

async fn wait(client: &Client, info: Result<TaskInfo, Error>) -> Task {
    let task = info
        .expect("enqueued")
        .wait_for_completion(client, Some(Duration::from_millis(20)), Some(Duration::from_secs(30)))
        .await
        .expect("task");
    expect(matches!(task, Task::Succeeded { .. }), &task);
    task
}

fn api_error(result: Result<impl std::fmt::Debug, Error>) -> Value {
    match result {
        Err(Error::Meilisearch(e)) => json!([e.error_code.to_string(), format!("{:?}", e.error_type)]),
        other => panic!("expected a Meilisearch error, got {other:?}"),
    }
}

async fn scenario(url: &str, key: &str, docs: &[Value]) -> Vec<(&'static str, Value)> {
    let client = Client::new(url, Some(key)).expect("client");
    let mut out = Vec::new();

    let task = wait(&client, client.create_index(INDEX, Some("id")).await).await;
    out.push(("create index", json!(task.is_success())));
    let index = client.index(INDEX);
    expect(client.get_index(INDEX).await.expect("index").primary_key.as_deref() == Some("id"), "primary key");

    let first = index.add_documents(&docs[..160], None).await;
    let second = index.add_documents(&docs[160..], None).await;
    let added = [wait(&client, first).await, wait(&client, second).await];
    out.push(("add documents", json!(added.iter().map(Task::is_success).collect::<Vec<_>>())));

    let synonyms = HashMap::from([("lib", vec!["library"]), ("library", vec!["lib"])]);
    let settings = Settings::new()
        .with_filterable_attributes(["section", "priority", "architecture", "tags", "depends_count"])
        .with_sortable_attributes(["installed_size_kb", "depends_count", "name"])
        .with_synonyms(synonyms);
    wait(&client, index.set_settings(&settings).await).await;
    let settings = index.get_settings().await.expect("settings");
    let mut filterable: Vec<String> = serde_json::from_value(
        serde_json::to_value(&settings.filterable_attributes).expect("json"))
        .expect("names");
    filterable.sort();
    expect(filterable == ["architecture", "depends_count", "priority", "section", "tags"], &filterable);
    let mut sortable = settings.sortable_attributes.clone().unwrap_or_default();
    sortable.sort();
    out.push(("settings", json!([filterable, sortable, settings.synonyms])));

    let r = index
        .search()
        .with_query("library")
        .with_filter("section = libs OR section = libdevel")
        .with_facets(Selectors::Some(&["section", "priority"]))
        .with_limit(10)
        .execute::<Value>()
        .await
        .expect("search");
    let facets = r.facet_distribution.clone().expect("facets");
    let counted: usize = facets["section"].values().sum();
    expect(!r.hits.is_empty() && Some(counted) == r.estimated_total_hits, &facets);
    for h in &r.hits {
        expect(h.result["section"] == "libs" || h.result["section"] == "libdevel", &h.result);
    }
    out.push(("search filter facets", json!([ids(&r.hits), r.estimated_total_hits, facets])));

    let r = index
        .search()
        .with_filter("section = python")
        .with_sort(&["installed_size_kb:desc"])
        .with_limit(5)
        .with_offset(2)
        .execute::<Value>()
        .await
        .expect("search");
    let sizes: Vec<u64> = r.hits.iter().map(|h| h.result["installed_size_kb"].as_u64().unwrap()).collect();
    expect(sizes.len() == 5 && sizes.windows(2).all(|w| w[0] >= w[1]), &sizes);
    out.push(("search sort offset", json!([ids(&r.hits), r.estimated_total_hits])));

    let r = index
        .search()
        .with_filter("depends_count > 3")
        .with_page(2)
        .with_hits_per_page(7)
        .execute::<Value>()
        .await
        .expect("search");
    expect(r.page == Some(2) && r.hits.len() == 7, &r.page);
    for h in &r.hits {
        expect(h.result["depends_count"].as_u64().unwrap() > 3, &h.result);
    }
    out.push(("search pages", json!([ids(&r.hits), r.total_hits, r.total_pages])));

    let r = index
        .search()
        .with_query("lib")
        .with_attributes_to_retrieve(Selectors::Some(&["id", "name"]))
        .with_limit(20)
        .execute::<Value>()
        .await
        .expect("search");
    for h in &r.hits {
        expect(h.result.as_object().unwrap().len() == 2, &h.result);
    }
    out.push(("search synonyms", json!([ids(&r.hits), r.estimated_total_hits])));

    let mut perl = index.search();
    perl.with_query("perl");
    let mut java = index.search();
    java.with_query("java").with_filter("section = java");
    let r = client
        .multi_search()
        .with_search_query(perl)
        .with_search_query(java)
        .execute::<Value>()
        .await
        .expect("multi-search");
    for x in &r.results {
        expect(x.index_uid.as_deref() == Some(INDEX), &x.index_uid);
    }
    let each: Vec<Value> = r.results.iter().map(|x| json!([ids(&x.hits), x.estimated_total_hits])).collect();
    out.push(("multi-search", json!(each)));

    let mut python = index.search();
    python.with_query("python");
    let mut golang = index.search();
    golang.with_query("golang");
    let mut multi = client.multi_search();
    multi.with_search_query(python).with_search_query(golang);
    let r = multi
        .with_federation(FederationOptions { limit: Some(10), ..Default::default() })
        .execute::<Value>()
        .await
        .expect("federated multi-search");
    expect(r.hits.len() == 10, r.hits.len());
    out.push(("federated multi-search", json!([ids(&r.hits), r.estimated_total_hits])));

    let doc: Value = index.get_document("201").await.expect("document");
    expect(doc["id"] == 201 && doc["name"] == docs[1]["name"], &doc);
    out.push(("get document", doc));

    let deleted = wait(&client, index.delete_documents(&[201, 401, 601]).await).await;
    out.push(("delete documents", json!(deleted.is_success())));
    let stats = index.get_stats().await.expect("stats");
    expect(stats.number_of_documents == docs.len() - 3, stats.number_of_documents);

    let mut query = TasksSearchQuery::new(&client);
    query.with_index_uids([INDEX]).with_types(["documentAdditionOrUpdate"]);
    let tasks = client.get_tasks_with(&query).await.expect("tasks");
    expect(tasks.results.len() == 2 && tasks.results.iter().all(Task::is_success), tasks.results.len());
    out.push(("tasks", json!(tasks.results.len())));

    let mut builder = KeyBuilder::new();
    builder.with_action(Action::Search).with_index(INDEX).with_description("sdk search key");
    let created = client.create_key(builder).await.expect("key");
    expect(client.get_key(&created.key).await.expect("key by value").uid == created.uid, "key by value");
    let keyed = Client::new(url, Some(created.key.as_str())).expect("client");
    let r = keyed.index(INDEX).search().with_query("library").with_limit(5).execute::<Value>().await.expect("search with a key");
    out.push(("search with a key", ids(&r.hits)));
    let refused = keyed.index(INDEX).add_documents(&[json!({"id": 1})], None).await;
    out.push(("write with a search key", api_error(refused)));
    client.delete_key(&created.key).await.expect("delete key");

    let stats = index.get_stats().await.expect("stats");
    let everything = client.get_stats().await.expect("stats");
    expect(everything.indexes[INDEX].number_of_documents == stats.number_of_documents, "global stats");
    let mut fields: Vec<&String> = stats.field_distribution.keys().collect();
    fields.sort();
    out.push(("stats", json!([stats.number_of_documents, fields])));

    wait(&client, client.delete_index(INDEX).await).await;
    out.push(("deleted index", api_error(client.get_index(INDEX).await)));
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: miroir-sdk-rust MIROIR_URL MIROIR_KEY NODE_URL NODE_KEY");
        std::process::exit(2);
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../packages.json");
    let docs: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).expect("corpus")).expect("json");
    let through_miroir = scenario(&args[1], &args[2], &docs).await;
    let direct = scenario(&args[3], &args[4], &docs).await;
    let mut differs = through_miroir.len() != direct.len();
    for ((step, got), (_, want)) in through_miroir.iter().zip(&direct) {
        if got != want {
            differs = true;
            println!("step '{step}' differs:\n  miroir: {got}\n  node:   {want}");
        }
    }
    if differs {
        std::process::exit(1);
    }
    println!("rust sdk meilisearch-sdk 0.33.0: {} steps agree", direct.len());
}
