// /webhooks as Meilisearch 1.50 answers it, over a set of webhooks kept elsewhere (Miroir's
// task store, the development node's memory): the checks of the bodies, the answer's
// redaction, creation and update. Pure, no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>

namespace miroir::http {

inline constexpr const char* kNilUuid = "00000000-0000-0000-0000-000000000000";
inline constexpr std::size_t kMaxHeaders = 200;

// A POST or PATCH body: each field absent (nullopt), null (reset) or its value, checked.
struct WebhookSettings {
    std::optional<nlohmann::ordered_json> url;
    std::optional<nlohmann::ordered_json> headers;
};
// 400 for a body that is not an object, an unknown or immutable field, a field of the wrong type.
WebhookSettings webhook_settings(const nlohmann::ordered_json& body);

// `webhook` ({"url", "headers"}) with a PATCH applied: a null url is refused, a null header
// removed, null headers all removed.
nlohmann::ordered_json patched(const std::string& uuid, nlohmann::ordered_json webhook,
                               const WebhookSettings& settings);

// 400 unless the url is set and valid, the headers at most 200, each name and value valid.
void check_webhook(const std::string& uuid, const nlohmann::ordered_json& webhook);

// A header's value as the routes show it: an Authorization secret mostly hidden.
std::string redacted(const std::string& name, std::string value);

ApiError immutable(const std::string& uuid);
ApiError not_found(const std::string& uuid);
ApiError too_many_headers(const std::string& uuid);

// A webhook as the routes answer it: the Authorization header's secret hidden.
nlohmann::ordered_json webhook_view(const std::string& uuid, const nlohmann::ordered_json& webhook);

// The webhook a POST body makes ({"url", "headers"}), checked; `existing` counts the webhooks
// already there (at most 20).
nlohmann::ordered_json new_webhook(const std::string& uuid, const nlohmann::ordered_json& body,
                                   std::size_t existing);

// The uuid of a webhook route's path, checked: 400 when it is none, 400 for the command line's
// (nil) one when `editing`.
std::string webhook_path_uuid(std::string_view text, bool editing);

}  // namespace miroir::http
