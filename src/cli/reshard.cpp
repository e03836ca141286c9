// miroir reshard [status|rollback] --index UID: an index's online reshard asked for, shown, or
// undone; with --wait, a progress line until it is switched (or rolled back).
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "client.hpp"

namespace miroir::cli {

namespace {

std::string reshard_line(const json& s) {
    std::ostringstream out;
    out << "reshard of " << text(s["uid"]) << " " << text(s["fromShards"]) << " -> "
        << text(s["toShards"]) << " shards: " << text(s["status"]) << ", " << text(s["phase"])
        << ", " << text(s["documentsCopied"]) << " documents copied, "
        << text(s["documentsRepaired"]) << " mended";
    if (s.value("error", json()).is_object()) out << ": " << text(s["error"]["message"]);
    return out.str();
}

std::uint64_t number(const std::optional<std::string>& value, const char* flag) {
    try {
        std::size_t used = 0;
        const auto n = std::stoull(*value, &used);
        if (used == value->size()) return n;
    } catch (const std::exception&) {
    }
    throw UsageError{std::string(flag) + " needs a whole number"};
}

// Ends when the reshard is switched, rolled back, done or failed (1 when failed).
int follow(const Options& o, const std::string& path, Answer a, bool wait, bool back) {
    std::string last;
    for (;;) {
        const auto line = o.as_json ? a.body.dump() : reshard_line(a.body);
        if (line != last) std::cout << line << "\n" << std::flush;
        last = line;
        const auto status = text(a.body["status"]), phase = text(a.body["phase"]);
        if (status == "failed") return 1;
        const bool settled =
            status == "rolled_back" || (!back && (phase == "switched" || status == "succeeded"));
        if (!wait || settled) return 0;
        ::usleep(500 * 1000);
        a = get(o, path + "/status");
        if (a.status != 200) throw failure(a);
    }
}

}  // namespace

int reshard(const std::vector<std::string>& args) {
    const bool sub = !args.empty() && (args[0] == "status" || args[0] == "rollback");
    const std::string action = sub ? args[0] : "start";
    const std::vector<std::string> rest(args.begin() + (sub ? 1 : 0), args.end());
    const auto o =
        parse(rest, {.index = true, .wait = action != "status", .reshard = action == "start"});
    if (!o.index) throw UsageError{"--index is needed"};
    const auto path = "/_miroir/indexes/" + *o.index + "/reshard";
    Answer a;
    if (action == "status") {
        a = get(o, path + "/status");
        if (a.status != 200) throw failure(a);
        return follow(o, path, a, false, false);
    }
    if (action == "rollback") {
        a = send(o, bhttp::verb::post, path + "/rollback", "{}");
    } else {
        if (!o.new_shards) throw UsageError{"--new-shards is needed"};
        json body;
        body["new_shards"] = number(o.new_shards, "--new-shards");
        if (o.throttle) body["throttle_docs_per_sec"] = number(o.throttle, "--throttle");
        if (o.retain_hours)
            body["retain_old_index_hours"] = number(o.retain_hours, "--retain-hours");
        a = send(o, bhttp::verb::post, path, body.dump());
    }
    if (a.status != 202) throw failure(a);
    return follow(o, path, a, o.wait, action == "rollback");
}

}  // namespace miroir::cli
