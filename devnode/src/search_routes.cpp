// Search routes: GET/POST /indexes/{uid}/search and POST /multi-search (non-federated).
#include "node.hpp"
#include "search.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

void Node::add_search_routes() {
    auto search = [this](const std::string& uid, const SearchParams& params) {
        check_index_uid(uid);
        std::lock_guard lock(state_.mutex);
        auto it = state_.indexes.find(uid);
        if (it == state_.indexes.end()) throw index_not_found(uid);
        return run_search(it->second, params);
    };
    add(Method::post, "/indexes/{uid}/search", "search", [search](Request& r) {
        const auto params = search_params_from_json(json_body(r));
        return respond(200, search(std::string(r.param("uid")), params));
    });
    add(Method::get, "/indexes/{uid}/search", "search", [search](Request& r) {
        const auto params = search_params_from_query(r.query);
        return respond(200, search(std::string(r.param("uid")), params));
    });
    add(
        Method::post, "/multi-search", "search",
        [this, search](Request& r) {
            const auto body = json_body(r);
            if (!body.is_object() || !body.contains("queries") || !body["queries"].is_array()) {
                throw bad_request("Missing field `queries`");
            }
            if (body.contains("federation") && !body["federation"].is_null()) {
                throw error(
                    400, "invalid_multi_search_federated",
                    "Federated multi-search is not supported by this development node yet.");
            }
            json results = json::array();
            const auto& queries = body["queries"];
            for (std::size_t i = 0; i < queries.size(); ++i) {
                const std::string prefix = "Inside `.queries[" + std::to_string(i) + "]`: ";
                try {
                    json query = queries[i];
                    if (!query.is_object() || !query.contains("indexUid")) {
                        throw error(400, "missing_index_uid", "Missing field `indexUid`");
                    }
                    const auto uid = query["indexUid"].get<std::string>();
                    query.erase("indexUid");
                    if (query.contains("federationOptions")) {
                        throw error(400, "invalid_multi_search_federation_options",
                                    "Using `federationOptions` is not allowed in a non-federated "
                                    "search.\n - Hint: remove `federationOptions` from query #" +
                                        std::to_string(i) + " or add `federation` to the request.");
                    }
                    {
                        std::lock_guard lock(state_.mutex);
                        authorize_index(r, uid);
                    }
                    json one;
                    one["indexUid"] = uid;
                    const auto answer = search(uid, search_params_from_json(query));
                    for (auto it = answer.begin(); it != answer.end(); ++it)
                        one[it.key()] = it.value();
                    results.push_back(one);
                } catch (const ApiError& e) {
                    // index_not_found is a 400 inside multi-search
                    const unsigned status = e.code() == "index_not_found" ? 400 : e.status();
                    throw ApiError(status, e.code(), e.type(), prefix + e.what());
                }
            }
            return respond(200, json{{"results", results}});
        },
        false);
}

}  // namespace devnode
