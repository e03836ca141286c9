// The filter of a tenant token's search rule ANDed into what a search sends the nodes
// (search.hpp).
#include <algorithm>
#include <map>

#include <miroir/scatter/reads.hpp>

#include "search.hpp"

namespace miroir::meili {

namespace {

using json = nlohmann::ordered_json;

// `filter` with the filter of the request's tenant token for `uid` ANDed to it.
json with_tenant_filter(const http::Request& r, const std::string& uid, const json& filter) {
    const auto* rule = r.tenant_rule(uid);
    if (!rule || rule->filter.empty()) return filter;
    return scatter::and_filters(filter, json::parse(rule->filter, nullptr, false));
}

}  // namespace

void apply_tenant_rules(const http::Request& r, const std::string& uid, json& body) {
    if (!r.tenant_rules || !body.is_object()) return;
    auto fused = with_tenant_filter(r, uid, body.value("filter", json()));
    if (!fused.is_null()) body["filter"] = std::move(fused);
}

void apply_tenant_query(const http::Request& r, const std::string& uid,
                        std::vector<std::pair<std::string, std::string>>& params,
                        std::map<std::string, std::string>& by_name) {
    const auto* rule = r.tenant_rule(uid);
    if (!rule || rule->filter.empty()) return;
    json own;
    if (by_name.contains("filter")) {
        own = json::parse(by_name["filter"], nullptr, false);
        if (!own.is_array()) own = by_name["filter"];
    }
    const auto fused = with_tenant_filter(r, uid, own).dump();
    std::erase_if(params, [](const auto& p) { return p.first == "filter"; });
    params.emplace_back("filter", fused);
    by_name["filter"] = fused;
}

}  // namespace miroir::meili
