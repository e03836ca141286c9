// Operator subcommands: the usage, the commands on the topology, rebalancing, placement and
// query explain, and a short text rendering of each answer (the client is client.cpp, the
// commands of Miroir's jobs and names jobs.cpp).
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <miroir/cli/cli.hpp>

#include "client.hpp"

namespace miroir::cli {

namespace {

constexpr const char* kUsage = R"(Usage:
  miroir status                          [CONNECTION] [--json]
  miroir nodes list                      [CONNECTION] [--json]
  miroir nodes add ID ADDRESS [--group N] [CONNECTION]
  miroir nodes drain ID                  [CONNECTION]
  miroir nodes remove ID                 [CONNECTION]
  miroir rebalance [--wait]              [CONNECTION] [--json]
  miroir verify                          [CONNECTION] [--index UID] [--counts-only] [--json]
  miroir aliases list                    [CONNECTION] [--json]
  miroir aliases create NAME TARGET      [CONNECTION]
  miroir aliases flip NAME TARGET        [CONNECTION]
  miroir aliases delete NAME             [CONNECTION]
  miroir explain INDEX [QUERY] [--execute] [--key KEY] [CONNECTION] [--json]
  miroir anti-entropy run [--index UID] [--wait] [CONNECTION]
  miroir anti-entropy status             [CONNECTION] [--json]
  miroir ilm list                        [CONNECTION] [--json]
  miroir ilm rollover NAME               [CONNECTION] [--json]
  miroir import-dump FILE [--replace] [--wait] [CONNECTION] [--json]
  miroir reshard --index UID --new-shards N [--throttle DOCS_PER_S] [--retain-hours H] [--wait]
                                         [CONNECTION] [--json]
  miroir reshard status --index UID      [CONNECTION] [--json]
  miroir reshard rollback --index UID [--wait] [CONNECTION] [--json]

CONNECTION:
  --url URL          Miroir's address (default: $MIROIR_URL, else server.bind and server.port
                     of the configuration file, else http://127.0.0.1:7700)
  --admin-key KEY    the admin key (default: $MIROIR_ADMIN_API_KEY, else $MIROIR_MASTER_KEY,
                     else the configuration's)
  --config FILE      configuration file to read them from (default: $MIROIR_CONFIG, else
                     ./miroir.yaml; optional)

A node is added as joining and drained in place; `rebalance` then moves the shards (with
--wait, until every group is balanced, printing progress). A node is removed once it holds
nothing. verify exits 1 when a shard is missing from an owner, the owners of a shard disagree
on its documents, or a node holds documents of a shard it does not own; rebalance --wait exits
1 when the rebalance stops on an error.
An alias's TARGET is one index uid, or several separated by commas (searched together,
read-only); a flip answers once every Miroir sharing the task store resolves the new target.
explain prints how Miroir would run the search QUERY (a JSON search body, default {}) on
INDEX: the group and nodes it asks, the shards and hits asked of each, and warnings; with
--execute it runs it too and times each node. --key is a key with `search` on INDEX (default:
the admin key).
anti-entropy run asks for a pass over INDEX (every index without --index) comparing the
replicas of each shard and repairing what differs; with --wait it prints progress until the
pass ends, and exits 1 when it failed.
ilm list shows each rolling index family (its indexes, newest last, and thresholds); ilm
rollover rolls family NAME over to a new index now.
import-dump sends FILE, a Meilisearch dump (`POST /dumps` of Meilisearch 1.x), to be imported:
its indexes with their settings, its keys, and its documents written to their owners; with
--replace, indexes and keys of the dump that exist are deleted first (else the import fails on
them); with --wait it prints progress until the import ends, and exits 1 when it failed.
reshard gives index UID N shards while it is searched and written: a shadow copy is filled,
verified and switched to; the old copy is kept for a rollback for --retain-hours (default 24;
0 deletes it at the switch). With --wait it prints progress until the switch (or the rollback)
is done, and exits 1 when the reshard failed.
)";

// One line on the rebalance: what it moves and how far it is.
std::string progress(const json& status) {
    const auto& r = status.value("rebalance", json());
    const auto state = status.value("state", "");
    std::ostringstream out;
    if (r.is_null()) {
        out << "rebalance: none yet, "
            << (status.value("balanced", false) ? "balanced" : "unbalanced");
        return out.str();
    }
    out << "rebalance " << text(r["id"]) << " (group " << text(r["group"]) << "): " << state << ", "
        << text(r["phase"]) << ", " << text(r["shardsCopied"]) << "/" << text(r["shardsMoving"])
        << " shards copied, " << text(r["documentsCopied"]) << " documents, "
        << text(r["copiesMoved"]) << " copies moved (fewest possible " << text(r["minimumCopies"])
        << ")";
    if (!r.value("error", json()).is_null()) out << "; error: " << text(r["error"]);
    if (state == "idle") out << (status.value("balanced", false) ? "; balanced" : "; unbalanced");
    return out.str();
}

int status(const Options& o, bool nodes_only) {
    const auto a = get(o, "/_miroir/topology");
    if (a.status != 200) throw failure(a);
    if (o.as_json) {
        std::cout << (nodes_only ? a.body["nodes"] : a.body).dump(2) << "\n";
        return 0;
    }
    if (!nodes_only) {
        std::cout << "shards " << text(a.body["shards"]) << ", replication factor "
                  << text(a.body["replicationFactor"]) << "\n";
        for (const auto& g : a.body["groups"]) {
            std::cout << "group " << text(g["id"]) << ": "
                      << (g.value("complete", false) ? "serves every shard"
                                                     : "cannot serve every shard")
                      << "\n";
        }
    }
    for (const auto& n : a.body["nodes"]) {
        std::cout << (nodes_only ? "" : "  ") << text(n["id"]) << "  " << text(n["address"])
                  << "  group " << text(n["group"]) << "  " << text(n["role"]) << "  "
                  << text(n["state"]) << "  " << text(n["shards"]) << " shards\n";
    }
    if (!nodes_only) {
        const auto& missing = a.body["unavailableShards"];
        std::cout << "unavailable shards: " << (missing.empty() ? "none" : missing.dump()) << "\n";
        if (a.body.contains("rebalance")) std::cout << progress(a.body["rebalance"]) << "\n";
    }
    return 0;
}

// A node change; prints the node's new role.
int change_node(const Options& o, const std::string& action) {
    const auto& id = o.positional.front();
    Answer a;
    if (action == "add") {
        json body;
        body["id"] = id;
        body["address"] = o.positional[1];
        if (o.group) {
            try {
                body["group"] = std::stoull(*o.group);
            } catch (const std::exception&) {
                throw UsageError{"--group takes a replica group id"};
            }
        }
        a = send(o, bhttp::verb::post, "/_miroir/nodes", body.dump());
    } else if (action == "drain") {
        a = send(o, bhttp::verb::post, "/_miroir/nodes/" + id + "/drain", "{}");
    } else {
        a = send(o, bhttp::verb::delete_, "/_miroir/nodes/" + id);
    }
    if (a.status >= 300) throw failure(a);
    if (action == "remove") {
        std::cout << id << " removed\n";
    } else {
        std::cout << id << " " << text(a.body["role"]) << " in group " << text(a.body["group"])
                  << (action == "add" ? "; `miroir rebalance` gives it its shards\n"
                                      : "; `miroir rebalance` moves its shards away\n");
    }
    return 0;
}

// POST /_miroir/rebalance; with --wait, follows it until every group is balanced.
int rebalance(const Options& o) {
    auto a = send(o, bhttp::verb::post, "/_miroir/rebalance", "{}");
    if (a.status >= 300) throw failure(a);
    std::string last;
    for (;;) {
        const auto line = progress(a.body);
        if (o.as_json) {
            if (!o.wait || a.body.value("state", "") != "running") {
                std::cout << a.body.dump(2) << "\n";
            }
        } else if (line != last) {
            std::cout << line << "\n" << std::flush;
            last = line;
        }
        const auto state = a.body.value("state", "");
        if (state == "failed") return 1;
        if (!o.wait || (state == "idle" && a.body.value("balanced", false))) return 0;
        ::usleep(500 * 1000);
        a = get(o, "/_miroir/rebalance/status");
        if (a.status != 200) throw failure(a);
    }
}

std::string describe(const json& p) {
    std::ostringstream out;
    const auto kind = text(p["problem"]);
    if (p.contains("shard")) out << "shard " << text(p["shard"]) << " ";
    if (p.contains("group")) out << "group " << text(p["group"]) << " ";
    if (p.contains("node")) out << "node " << text(p["node"]) << " ";
    out << kind;
    if (kind == "count_mismatch") {
        for (const auto& [node, n] : p["counts"].items()) out << " " << node << "=" << text(n);
    } else if (kind == "ids_mismatch") {
        for (const auto& [node, m] : p["missing"].items()) {
            out << "; " << node << " lacks " << text(m["count"]) << " (" << m["ids"].dump() << ")";
        }
    } else if (p.contains("documents")) {
        out << ": " << text(p["documents"]) << " documents";
    }
    return out.str();
}

int verify(const Options& o) {
    std::string target = "/_miroir/verify?ids=";
    target += o.counts_only ? "false" : "true";
    if (o.index) target += "&index=" + *o.index;
    const auto a = get(o, target);
    if (a.status != 200) throw failure(a);
    if (o.as_json) {
        std::cout << a.body.dump(2) << "\n";
    } else {
        for (const auto& index : a.body["indexes"]) {
            const auto& problems = index["problems"];
            std::cout << text(index["uid"]) << ": " << text(index["documents"]) << " documents, "
                      << (problems.empty() ? "every shard on its owners, replicas agree"
                                           : std::to_string(problems.size()) + " problem(s)")
                      << "\n";
            for (const auto& p : problems) std::cout << "  " << describe(p) << "\n";
        }
        std::cout << (a.body.value("status", "") == "ok" ? "ok" : "problems found") << " ("
                  << text(a.body["checked"]) << " compared)\n";
    }
    return a.body.value("status", "") == "ok" ? 0 : 1;
}

// "name -> target" or "name -> a, b (search only)".
// POST /indexes/{uid}/explain, printed a line per decision.
void print_plan(const json& p) {
    std::cout << "index " << text(p["indexUid"]);
    if (!p["alias"].is_null()) std::cout << " (alias " << text(p["alias"]) << ")";
    std::cout << ", topology v" << text(p["topologyVersion"]) << ", " << text(p["shards"])
              << " shards, RF " << text(p["replicationFactor"]) << ", settings v"
              << text(p["settingsVersion"]) << "\n";
    std::cout << "group " << text(p["group"]["id"]) << ": " << text(p["group"]["reason"]) << "\n";
    const auto& planner = p["planner"];
    if (!planner["pinnedIds"].is_null()) {
        std::cout << "planner: the filter pins ids " << planner["pinnedIds"].dump() << ", "
                  << text(planner["shardsQueried"]) << " shard(s) asked\n";
    }
    std::cout << "nodes asked (" << p["nodes"].size() << "):\n";
    for (const auto& n : p["nodes"]) {
        std::cout << "  " << text(n["node"]) << "  group " << text(n["group"]) << "  "
                  << n["shards"].size() << " shards" << (n["restricted"] ? " (filtered)" : "")
                  << "  " << text(n["hitsAsked"]) << " hits\n";
    }
    const auto& m = p["merge"];
    std::cout << "merge: " << text(m["hitsAsked"]) << " hits asked for " << text(m["hitsReturned"])
              << " returned (over-fetch " << text(m["overFetch"]) << ")"
              << (m["wholeAnswer"] ? ", one node answers whole" : "") << "\n";
    for (const auto& w : p["warnings"]) {
        std::cout << "warning " << text(w["code"]) << ": " << text(w["message"]) << "\n";
    }
    if (!p.contains("execution")) return;
    const auto& e = p["execution"];
    std::cout << "executed: " << text(e["status"]) << " in " << text(e["tookMs"]) << " ms\n";
    for (const auto& r : e["nodeRequests"]) {
        std::cout << "  " << text(r["node"]) << "  round " << text(r["round"]) << "  "
                  << text(r["side"]) << "  status " << text(r["status"]) << "  " << text(r["ms"])
                  << " ms" << (r.contains("hits") ? "  " + text(r["hits"]) + " hits" : "") << "\n";
    }
}

int explain(const Options& o) {
    const auto& uid = o.positional[0];
    const std::string query = o.positional.size() > 1 ? o.positional[1] : "{}";
    if (!json::accept(query)) throw UsageError{"QUERY must be a JSON search body"};
    const auto a = send(o, bhttp::verb::post,
                        "/indexes/" + uid + "/explain" + (o.execute ? "?execute=true" : ""), query);
    if (a.status != 200) throw failure(a);
    if (o.as_json) {
        std::cout << a.body.dump(2) << "\n";
    } else {
        print_plan(a.body);
    }
    return 0;
}

}  // namespace

bool is_operator_command(const std::string& command) {
    return command == "status" || command == "nodes" || command == "verify" ||
           command == "rebalance" || command == "aliases" || command == "explain" ||
           command == "anti-entropy" || command == "ilm" || command == "import-dump" ||
           command == "reshard";
}

int run(const std::string& command, const std::vector<std::string>& args) {
    try {
        if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) {
            std::cout << kUsage;
            return 0;
        }
        if (command == "status") return status(parse(args, {}), false);
        if (command == "verify") return verify(parse(args, {.verify = true}));
        if (command == "rebalance") return rebalance(parse(args, {.wait = true}));
        if (command == "import-dump") return import_dump(args);
        if (command == "reshard") return reshard(args);
        if (command == "explain") {
            return explain(parse(args, {.explain = true, .positional = 1, .optional = 1}));
        }
        const std::string action = args.empty() ? "" : args.front();
        const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
        if (command == "aliases") return aliases(action, rest);
        if (command == "anti-entropy") return anti_entropy(action, rest);
        if (command == "ilm") return ilm(action, rest);
        if (action == "list") return status(parse(rest, {}), true);
        if (action == "add")
            return change_node(parse(rest, {.group = true, .positional = 2}), action);
        if (action == "drain" || action == "remove") {
            return change_node(parse(rest, {.positional = 1}), action);
        }
        throw UsageError{"`miroir nodes` takes `list`, `add`, `drain` or `remove`"};
    } catch (const UsageError& e) {
        std::cerr << "miroir " << command << ": " << e.message << "\n\n" << kUsage;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "miroir " << command << ": " << e.what() << "\n";
        return 2;
    }
}

}  // namespace miroir::cli
