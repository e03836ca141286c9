// The development node's /webhooks: kept in memory with Meilisearch's checks and shapes (the
// code Miroir answers its own /webhooks with). The node calls none of them.
#include <miroir/http/params.hpp>
#include <miroir/http/webhooks.hpp>

#include "node.hpp"

namespace devnode {

namespace http = miroir::http;
using http::Method;

void Node::add_webhook_routes() {
    add(Method::get, "/webhooks", "webhooks.get", [this](Request&) {
        std::lock_guard lock(state_.mutex);
        json results = json::array();
        for (const auto& [uuid, webhook] : state_.webhooks) {
            results.push_back(http::webhook_view(uuid, webhook));
        }
        return respond(200, json{{"results", results}});
    });
    add(Method::post, "/webhooks", "webhooks.create", [this](Request& r) {
        const auto body = json_body(r);
        const auto uuid = new_uuid();
        std::lock_guard lock(state_.mutex);
        const auto webhook = http::new_webhook(uuid, body, state_.webhooks.size());
        state_.webhooks[uuid] = webhook;
        return respond(201, http::webhook_view(uuid, webhook));
    });
    add(Method::get, "/webhooks/{uuid}", "webhooks.get", [this](Request& r) {
        const auto uuid = http::webhook_path_uuid(r.param("uuid"), false);
        std::lock_guard lock(state_.mutex);
        const auto it = state_.webhooks.find(uuid);
        if (it == state_.webhooks.end()) throw http::not_found(uuid);
        return respond(200, http::webhook_view(uuid, it->second));
    });
    add(Method::patch, "/webhooks/{uuid}", "webhooks.update", [this](Request& r) {
        const auto uuid = http::webhook_path_uuid(r.param("uuid"), true);
        const auto settings = http::webhook_settings(json_body(r));
        std::lock_guard lock(state_.mutex);
        const auto it = state_.webhooks.find(uuid);
        if (it == state_.webhooks.end()) throw http::not_found(uuid);
        auto webhook = http::patched(uuid, it->second, settings);
        http::check_webhook(uuid, webhook);
        it->second = webhook;
        return respond(200, http::webhook_view(uuid, webhook));
    });
    add(Method::del, "/webhooks/{uuid}", "webhooks.delete", [this](Request& r) {
        const auto uuid = http::webhook_path_uuid(r.param("uuid"), true);
        std::lock_guard lock(state_.mutex);
        if (state_.webhooks.erase(uuid) == 0) throw http::not_found(uuid);
        Response out;
        out.status = 204;
        return out;
    });
}

}  // namespace devnode
