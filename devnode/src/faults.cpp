// Fault injection for tests (devnode only): added latency (always or for a fraction of
// requests), an error rate, or hang-until-cleared, per route class. The class `queue` with
// `hang` pauses the task queue instead: tasks stay enqueued (cancelations and deletions still
// run) until the fault is cleared; with `latencyMs` each task is processing that long.
//
//   PUT    /_devnode/faults  {"routeClass": "search", "latencyMs": 200, "latencyFraction": 0.05,
//                             "errorRate": 0, "errorStatus": 500, "hang": false}
//   GET    /_devnode/faults  → {"search": {...}, ...}
//   DELETE /_devnode/faults  → clears every fault (hung requests resume)
#include "node.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

namespace {

const std::vector<std::string> kClasses = {"all",   "search", "documents", "writes",
                                           "tasks", "health", "other",     "queue"};

// The route class of a request, for fault injection.
std::string route_class(const Request& r) {
    const auto& p = r.path;
    if (p == "/health") return "health";
    if (p.starts_with("/tasks")) return "tasks";
    if (p == "/multi-search" || p.ends_with("/search") || p.ends_with("/facet-search") ||
        p.ends_with("/similar")) {
        return "search";
    }
    const bool write = r.method != Method::get;
    if (p.find("/documents") != std::string::npos) {
        if (!write || p.ends_with("/documents/fetch")) return "documents";
        return "writes";
    }
    if (write) return "writes";
    return "other";
}

}  // namespace

Node::FaultPlan Node::plan_faults(const Request& request) {
    FaultPlan plan;
    if (request.path.starts_with("/_devnode")) return plan;
    std::lock_guard lock(state_.mutex);
    for (const auto& cls : {std::string("all"), route_class(request)}) {
        auto it = faults_.find(cls);
        if (it == faults_.end()) continue;
        const Fault& f = it->second;
        // a small deterministic generator: the runs are reproducible
        auto draw = [this] {
            fault_seed_ ^= fault_seed_ << 13;
            fault_seed_ ^= fault_seed_ >> 7;
            fault_seed_ ^= fault_seed_ << 17;
            return static_cast<double>(fault_seed_ % 1'000'000) / 1'000'000.0;
        };
        if (f.hang) plan.hang = true;
        if (f.latency_ms && draw() < f.latency_fraction) {
            plan.delay = std::max(plan.delay, std::chrono::milliseconds(f.latency_ms));
        }
        if (f.error_rate > 0 && draw() < f.error_rate) plan.error = f.error_status;
    }
    return plan;
}

bool Node::hanging(const Request& request) {
    std::lock_guard lock(state_.mutex);
    for (const auto& cls : {std::string("all"), route_class(request)}) {
        auto it = faults_.find(cls);
        if (it != faults_.end() && it->second.hang) return true;
    }
    return false;
}

void Node::add_fault_routes() {
    auto listing = [this] {
        json out = json::object();
        for (const auto& [cls, f] : faults_) {
            out[cls] = json{{"latencyMs", f.latency_ms},
                            {"latencyFraction", f.latency_fraction},
                            {"errorRate", f.error_rate},
                            {"errorStatus", f.error_status},
                            {"hang", f.hang}};
        }
        return out;
    };
    add(
        Method::get, "/_devnode/faults", "*",
        [this, listing](Request&) {
            std::lock_guard lock(state_.mutex);
            return respond(200, listing());
        },
        false);
    auto set = [this, listing](Request& r) {
        const auto body = json_body(r);
        if (!body.is_object()) throw bad_request("expected an object");
        Fault f;
        std::string cls = "all";
        for (auto it = body.begin(); it != body.end(); ++it) {
            const auto& k = it.key();
            const auto& v = it.value();
            auto bad = [&](const char* what) {
                return bad_request("Invalid value at `." + k + "`: expected " + what);
            };
            if (k == "routeClass") {
                if (!v.is_string() || std::find(kClasses.begin(), kClasses.end(),
                                                v.get<std::string>()) == kClasses.end()) {
                    throw bad_request("Unknown value at `.routeClass`: expected one of " +
                                      backquoted_list(kClasses));
                }
                cls = v.get<std::string>();
            } else if (k == "latencyMs") {
                if (!v.is_number_unsigned()) throw bad("a positive integer");
                f.latency_ms = v.get<std::uint64_t>();
            } else if (k == "latencyFraction" || k == "errorRate") {
                if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
                    throw bad("a number between 0 and 1");
                }
                (k == "errorRate" ? f.error_rate : f.latency_fraction) = v.get<double>();
            } else if (k == "errorStatus") {
                if (!v.is_number_unsigned() || v.get<unsigned>() < 400 || v.get<unsigned>() > 599) {
                    throw bad("an HTTP status between 400 and 599");
                }
                f.error_status = v.get<unsigned>();
            } else if (k == "hang") {
                if (!v.is_boolean()) throw bad("a boolean");
                f.hang = v.get<bool>();
            } else {
                throw bad_request("Unknown field `" + k +
                                  "`: expected one of `routeClass`, `latencyMs`, "
                                  "`latencyFraction`, `errorRate`, `errorStatus`, `hang`");
            }
        }
        std::lock_guard lock(state_.mutex);
        faults_[cls] = f;
        state_.work.notify_all();
        return respond(200, listing());
    };
    add(Method::put, "/_devnode/faults", "*", set, false);
    add(Method::post, "/_devnode/faults", "*", set, false);
    add(
        Method::del, "/_devnode/faults", "*",
        [this](Request&) {
            std::lock_guard lock(state_.mutex);
            faults_.clear();
            state_.work.notify_all();
            return respond(200, json::object());
        },
        false);
}

}  // namespace devnode
