// The operator subcommands of Miroir's own jobs and names: aliases, anti-entropy passes and
// rolling index families.
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "client.hpp"

namespace miroir::cli {

namespace {

std::string alias_line(const json& alias) {
    std::string out = text(alias["name"]) + " -> ";
    if (!alias.contains("targets")) return out + text(alias["target"]);
    std::string sep;
    for (const auto& t : alias["targets"]) {
        out += sep + text(t);
        sep = ", ";
    }
    return out + " (search only)";
}

// One line on an index's anti-entropy: the pass under way, or the last one.
std::string entropy_line(const json& e) {
    std::ostringstream out;
    out << text(e["index"]) << ": ";
    const auto counts = [&out](const json& c) {
        out << text(c["shardsChecked"]) << " shards checked (" << text(c["shardsDeferred"])
            << " deferred), " << text(c["documentsRead"]) << " documents read, "
            << text(c["bucketsDiffering"]) << " buckets differing, " << text(c["documentsWritten"])
            << " written, " << text(c["documentsDeleted"]) << " deleted";
    };
    if (e.value("state", "") == "running") {
        out << "running at shard " << text(e["nextShard"]) << ": ";
        counts(e.value("current", json::object()));
    } else if (e.contains("lastPass")) {
        out << "last pass: ";
        counts(e["lastPass"]);
    } else {
        out << "no pass yet";
    }
    if (e.value("lastError", json()).is_string()) out << "; error: " << text(e["lastError"]);
    return out.str();
}

// One line on a rolling index family.
std::string family_line(const json& p) {
    std::ostringstream out;
    out << text(p["name"]) << ": writes to " << text(p["write_alias"]) << " -> "
        << text(p["current"]) << ", searches " << text(p["read_alias"]) << " -> [";
    std::string sep;
    for (const auto& i : p.value("indexes", json::array())) {
        out << sep << text(i);
        sep = ", ";
    }
    out << "]; rolls over at ";
    if (p.value("max_documents", 0) > 0) out << text(p["max_documents"]) << " documents";
    if (p.value("max_documents", 0) > 0 && p.value("max_age_s", 0) > 0) out << " or ";
    if (p.value("max_age_s", 0) > 0) out << text(p["max_age_s"]) << " s";
    out << ", keeps " << text(p["retain"]);
    return out.str();
}

}  // namespace

// The /_miroir/aliases commands.
int aliases(const std::string& action, const std::vector<std::string>& args) {
    if (action == "list") {
        const auto o = parse(args, {});
        const auto a = get(o, "/_miroir/aliases");
        if (a.status != 200) throw failure(a);
        if (o.as_json) {
            std::cout << a.body.dump(2) << "\n";
        } else {
            for (const auto& alias : a.body["results"]) std::cout << alias_line(alias) << "\n";
        }
        return 0;
    }
    if (action == "delete") {
        const auto o = parse(args, {.positional = 1});
        const auto a = send(o, bhttp::verb::delete_, "/_miroir/aliases/" + o.positional[0]);
        if (a.status >= 300) throw failure(a);
        std::cout << o.positional[0] << " deleted\n";
        return 0;
    }
    if (action != "create" && action != "flip") {
        throw UsageError{"`miroir aliases` takes `list`, `create`, `flip` or `delete`"};
    }
    const auto o = parse(args, {.positional = 2});
    json body;
    const auto& target = o.positional[1];
    if (target.find(',') == std::string::npos) {
        body["target"] = target;
    } else {
        body["targets"] = json::array();
        for (std::size_t start = 0; start <= target.size();) {
            const auto comma = std::min(target.find(',', start), target.size());
            if (comma > start) body["targets"].push_back(target.substr(start, comma - start));
            start = comma + 1;
        }
    }
    Answer a;
    if (action == "create") {
        body["name"] = o.positional[0];
        a = send(o, bhttp::verb::post, "/_miroir/aliases", body.dump());
    } else {
        a = send(o, bhttp::verb::put, "/_miroir/aliases/" + o.positional[0], body.dump());
    }
    if (a.status >= 300) throw failure(a);
    std::cout << alias_line(a.body) << "\n";
    return 0;
}

// miroir anti-entropy run|status.
int anti_entropy(const std::string& action, const std::vector<std::string>& args) {
    if (action != "run" && action != "status") {
        throw UsageError{"`miroir anti-entropy` takes `run` or `status`"};
    }
    const auto o = parse(args, {.index = action == "run", .wait = action == "run"});
    auto a = get(o, "/_miroir/anti-entropy/status");
    if (action == "run") {
        json body = json::object();
        if (o.index) body["index"] = *o.index;
        a = send(o, bhttp::verb::post, "/_miroir/anti-entropy/run", body.dump());
        if (a.status != 202) throw failure(a);
        std::cout << "anti-entropy pass asked for " << (o.index ? *o.index : "every index") << "\n";
        if (!o.wait) return 0;
    }
    std::string last;
    for (;;) {
        if (a.status != 200 && action == "status") throw failure(a);
        if (action == "run") {
            ::usleep(500 * 1000);
            a = get(o, "/_miroir/anti-entropy/status");
            if (a.status != 200) throw failure(a);
        }
        std::string lines;
        bool failed = false;
        for (const auto& e : a.body.value("indexes", json::array())) {
            if (o.index && text(e["index"]) != *o.index) continue;
            lines += entropy_line(e) + "\n";
            failed = failed || e.value("lastError", json()).is_string();
        }
        if (o.as_json && action == "status") {
            std::cout << a.body.dump(2) << "\n";
        } else if (lines != last) {
            std::cout << lines << std::flush;
            last = lines;
        }
        if (action == "status") return 0;
        if (!a.body.value("requests", json::object()).contains(o.index.value_or(""))) {
            return failed ? 1 : 0;
        }
    }
}

// miroir ilm list|rollover.
int ilm(const std::string& action, const std::vector<std::string>& args) {
    if (action != "list" && action != "rollover") {
        throw UsageError{"`miroir ilm` takes `list` or `rollover`"};
    }
    const auto o = parse(args, {.positional = action == "rollover" ? 1u : 0u});
    const auto a = action == "list" ? get(o, "/_miroir/ilm")
                                    : send(o, bhttp::verb::post,
                                           "/_miroir/ilm/" + o.positional[0] + "/rollover");
    if (a.status != 200) throw failure(a);
    if (o.as_json) {
        std::cout << a.body.dump(2) << "\n";
    } else if (action == "list") {
        for (const auto& p : a.body["results"]) std::cout << family_line(p) << "\n";
    } else {
        std::cout << family_line(a.body) << "\n";
    }
    return 0;
}

}  // namespace miroir::cli
