// POST /indexes/{uid}/fields: the fields of an index, as one node holding every document lists
// them. Each node of a covering set lists its own (a field exists once any document had it);
// the union, without Miroir's `_miroir_*` fields, is sorted by name and paginated with the
// client's window. The settings are the same on every node, so any node's description of a
// field is the index's.
#include <map>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/meili/routes.hpp>
#include <miroir/routing/shard_field.hpp>
#include <miroir/scatter/fanout.hpp>
#include <miroir/scatter/reads.hpp>

namespace miroir::meili {

using namespace miroir::scatter;

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http::Method;

// Asked of each node: every field (the window is Miroir's to apply).
constexpr std::uint64_t kAllFields = 1'000'000;

bool window_ok(const json& body, const char* key) {
    return !body.contains(key) || body[key].is_number_unsigned();
}

asio::awaitable<http::Response> list_fields(fleet::Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    check_index_uid(uid);
    const auto body = http::json_body(r);
    // a body the nodes refuse goes to them as it is, for their error
    const bool ours = body.is_object() && window_ok(body, "offset") && window_ok(body, "limit");
    json node_body = body;
    if (ours) {
        node_body["offset"] = 0;
        node_body["limit"] = kAllFields;
    }
    const auto fleet = ctx.fleet_of(uid);
    const auto plan = covering_set(ctx, *fleet, 0);
    const std::string text = node_body.dump();
    const BuildRequest build = [&uid, &text](const Assignment&) {
        return node_request(Method::post, index_path(uid) + "/fields", text);
    };
    auto gathered = co_await ask_with_retry(ctx, fleet, read_deadline(ctx), plan, build);
    if (gathered.refusal) co_return std::move(*gathered.refusal);
    std::map<std::string, json> fields;
    bool answered = false;
    for (auto& answer : gathered.answers) {
        if (!answer.is_object() || !answer.contains("results")) continue;
        answered = true;
        for (auto& field : answer["results"]) {
            const auto name = field.value("name", std::string());
            if (name.starts_with(routing::kReservedPrefix) || fields.contains(name)) continue;
            fields.emplace(name, std::move(field));
        }
    }
    if (!answered) {
        throw http::ApiError(503, "miroir_no_quorum", http::ErrorType::system,
                             "No node answered with the fields of index `" + uid + "`.");
    }
    const std::uint64_t offset = body.value("offset", std::uint64_t{0});
    const std::uint64_t limit = body.value("limit", std::uint64_t{20});
    json results = json::array();
    std::uint64_t position = 0;
    for (auto& [name, field] : fields) {
        if (position++ >= offset && results.size() < limit) results.push_back(std::move(field));
    }
    json out;
    out["results"] = std::move(results);
    out["offset"] = offset;
    out["limit"] = limit;
    out["total"] = fields.size();
    co_return respond_partial(out, std::move(gathered.missing));
}

}  // namespace

void add_field_routes(http::Router& router, fleet::Context& ctx) {
    router.add(Method::post, "/indexes/{uid}/fields", "fields.post",
               [&ctx](http::Request& r) { return list_fields(ctx, r); });
}

}  // namespace miroir::meili
