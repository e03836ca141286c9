// Node: the development node's routes, Meilisearch-style auth and the task worker.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include <miroir/http/router.hpp>

#include "state.hpp"

namespace devnode {

using miroir::http::Request;
using miroir::http::Response;

// A devnode route handler: synchronous, runs with the state mutex NOT held.
using Handler = std::function<Response(Request&)>;

// The Meilisearch version the node reproduces (GET /version, dumps' `dbVersion`).
inline constexpr const char* kVersion = "1.50.0";

// Where the node writes its dumps, and the instance uid they carry (one per node, as a
// Meilisearch instance keeps its own).
struct DumpOptions {
    std::string dir = "dumps/";
    std::string instance_uid = new_uuid();
};

class Node {
  public:
    explicit Node(std::string master_key, std::string dump_dir = "dumps/");
    ~Node();

    // The request entry point, for http::Server.
    Response handle(Request& request);

    // Fault injection (/_devnode/faults): what to do to a request before handling it.
    struct FaultPlan {
        std::chrono::milliseconds delay{0};
        bool hang = false;   // wait until the faults of its route class are cleared
        unsigned error = 0;  // answer this status instead of handling
    };
    FaultPlan plan_faults(const Request& request);
    bool hanging(const Request& request);

    // Starts/stops the task worker thread.
    void start_worker();
    void stop_worker();

    State& state() { return state_; }

  private:
    struct Route {
        std::string action;  // "" for open routes
        bool index_scoped = false;
        Handler handler;
    };
    void add(miroir::http::Method method, std::string pattern, std::string action, Handler h,
             bool index_scoped = true);
    // Throws ApiError unless the request may run `action` (on the `uid` path parameter).
    void authorize(Request& request, const Route& route) const;
    // A tenant token signed with one of the node's keys, on a search route; false when `token`
    // is no such token.
    bool authorize_tenant(Request& request, const Route& route, const std::string& token) const;

    void add_misc_routes();
    void add_key_routes();
    void add_index_routes();
    void add_document_routes();
    void add_settings_routes();
    void add_task_routes();
    void add_chat_routes();
    void add_webhook_routes();
    void add_search_routes();
    void add_fault_routes();
    // Throws unless the request's key may search `uid` (multi-search checks each query).
    void authorize_index(const Request& request, const std::string& uid) const;
    // POST /multi-search: each query on its index, or with `federation` one merged list.
    Response multi_search(Request& request);
    json multi_search_query(const Request& request, json query);
    // POST /multi-search with `federation` (takes the state mutex).
    json federated_search(const Request& request, const json& body);

    void worker_loop();
    void process(Task& task);  // with the mutex held

    struct Fault {
        std::uint64_t latency_ms = 0;
        double latency_fraction = 1.0;
        double error_rate = 0.0;
        unsigned error_status = 500;
        bool hang = false;
    };
    std::map<std::string, Fault> faults_;  // by route class; guarded by state_.mutex
    std::uint64_t fault_seed_ = 0x9e3779b97f4a7c15ULL;

    DumpOptions dumps_;
    State state_;
    miroir::http::Router router_;
    std::vector<Route> routes_;
    std::thread worker_;
};

// The documents of an add or update request's payload (JSON, NDJSON or CSV, as its
// Content-Type says); throws Meilisearch's payload errors.
std::vector<json> parse_payload(const Request& r, const Query& q);

// Task processing helpers shared by route files (mutex held by caller).
void apply_documents(State& state, Task& task);
void apply_document_deletion(State& state, Task& task);
void apply_settings(State& state, Task& task);
// Validates a settings patch synchronously (throws invalid_settings_*); returns it normalized.
json validate_settings_patch(const json& patch);
// Checks an index uid (throws invalid_index_uid).
void check_index_uid(const std::string& uid);
Index& create_index(State& state, const std::string& uid, std::optional<std::string> pk);
ApiError index_not_found(const std::string& uid);
json index_json(const Index& index);
// How the stats routes show sizes (`showInternalDatabaseSizes`, `sizeFormat`), checked.
struct SizeDisplay {
    bool internal = false, human = false;
    explicit SizeDisplay(const Query& q);
    json operator()(std::uint64_t bytes) const;
};
json index_stats(const Index& index, bool indexing, const SizeDisplay& sizes);
// POST /indexes/{uid}/documents/edit (edition.cpp).
Response edit_documents(State& state, Request& r);
// POST /indexes/{uid}/fields (fields.cpp).
Response list_fields(State& state, Request& r);
// dumpCreation (dumps.cpp), mutex held: writes the state as a Meilisearch v6 dump to
// `<options.dir>/<dumpUid>.dump` and sets the task's `dumpUid`; throws dump_process_failed.
void create_dump(const State& state, Task& task, const DumpOptions& options);

}  // namespace devnode
