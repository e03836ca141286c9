#include <algorithm>
#include <cctype>
#include <cstring>

#include <miroir/http/api_keys.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/webhooks.hpp>
#include <miroir/util/uuid.hpp>

namespace miroir::http {

namespace {

using json = nlohmann::ordered_json;

ApiError missing_url(const std::string& uuid) {
    return error(400, "invalid_webhook_url", "The URL for the webhook `" + uuid + "` is missing.");
}

ApiError wrong_type(const std::string& code, const std::string& at, const char* expected,
                    const json& found) {
    return error(400, code,
                 "Invalid value type at `" + at + "`: expected " + expected + ", but found " +
                     found_value(found));
}

bool special_scheme(const std::string& scheme) {
    return scheme == "http" || scheme == "https" || scheme == "ws" || scheme == "wss" ||
           scheme == "ftp";
}

// Why rust-url would not parse `url`, in its words; empty when it would.
std::string url_error(const std::string& url) {
    const auto colon = url.find(':');
    const bool scheme_ok =
        colon != std::string::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(url[0]));
    if (!scheme_ok || !std::all_of(url.begin(), url.begin() + static_cast<long>(colon), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
        })) {
        return "relative URL without a base";
    }
    std::string scheme = url.substr(0, colon);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!special_scheme(scheme)) return {};
    auto start = colon + 1;
    while (start < url.size() && (url[start] == '/' || url[start] == '\\')) ++start;
    const auto end = url.find_first_of("/\\?#", start);
    std::string authority =
        url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (const auto at = authority.rfind('@'); at != std::string::npos) {
        authority = authority.substr(at + 1);
    }
    std::string host = authority, port;
    if (!host.empty() && host.front() != '[') {
        if (const auto c = host.rfind(':'); c != std::string::npos) {
            port = host.substr(c + 1);
            host = host.substr(0, c);
        }
    }
    if (host.empty()) return "empty host";
    for (const unsigned char c : host) {
        if (c <= ' ' || c == 0x7f) return "invalid international domain name";
        if (std::strchr("#%/<>?@\\^|", c) != nullptr && c != 0) return "invalid domain character";
    }
    if (!port.empty()) {
        const bool digits = std::all_of(port.begin(), port.end(),
                                        [](unsigned char c) { return std::isdigit(c) != 0; });
        if (!digits || port.size() > 5 || std::stoul(port) > 65535) return "invalid port number";
    }
    return {};
}

bool header_name_ok(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    });
}

bool header_value_ok(const std::string& value) {
    return std::all_of(value.begin(), value.end(),
                       [](unsigned char c) { return (c >= 32 && c != 127) || c == '\t'; });
}

}  // namespace

ApiError immutable(const std::string& uuid) {
    return error(400, "immutable_webhook",
                 "Webhook `" + uuid +
                     "` is immutable. The webhook defined from the command line cannot be "
                     "modified using the API.");
}

ApiError not_found(const std::string& uuid) {
    return error(404, "webhook_not_found", "Webhook `" + uuid + "` not found.");
}

ApiError too_many_headers(const std::string& uuid) {
    return error(400, "invalid_webhook_headers",
                 "Too many headers for the webhook `" + uuid +
                     "`. Please limit the number of headers to 200. Hint: To remove an "
                     "already defined header set its value to `null`");
}

WebhookSettings webhook_settings(const json& body) {
    if (!body.is_object()) {
        throw bad_request("Invalid value type: expected an object, but found " + found_value(body));
    }
    WebhookSettings out;
    for (const auto& [key, value] : body.items()) {
        if (key == "url") {
            if (!value.is_string() && !value.is_null()) {
                throw wrong_type("invalid_webhook_url", ".url", "a string", value);
            }
            out.url = value;
        } else if (key == "headers") {
            if (!value.is_object() && !value.is_null()) {
                throw wrong_type("invalid_webhook_headers", ".headers", "an object", value);
            }
            const json none = json::object();
            for (const auto& [name, v] : (value.is_object() ? value : none).items()) {
                if (!v.is_string() && !v.is_null()) {
                    throw wrong_type("invalid_webhook_headers", ".headers." + name, "a string", v);
                }
            }
            out.headers = value;
        } else if (key == "uuid" || key == "isEditable") {
            throw error(400,
                        key == "uuid" ? "immutable_webhook_uuid" : "immutable_webhook_is_editable",
                        "Immutable field `" + key + "`: expected one of `url`, `headers`");
        } else {
            throw bad_request("Unknown field `" + key + "`: expected one of `url`, `headers`");
        }
    }
    return out;
}

json patched(const std::string& uuid, json webhook, const WebhookSettings& settings) {
    if (settings.url) {
        if (settings.url->is_null()) throw missing_url(uuid);
        webhook["url"] = *settings.url;
    }
    if (settings.headers) {
        auto& headers = webhook["headers"];
        if (settings.headers->is_null()) {
            headers = json::object();
        } else {
            for (const auto& [name, value] : settings.headers->items()) {
                if (value.is_null()) {
                    headers.erase(name);
                } else {
                    headers[name] = value;
                }
            }
        }
        if (headers.size() > kMaxHeaders) throw too_many_headers(uuid);
    }
    return webhook;
}

void check_webhook(const std::string& uuid, const json& webhook) {
    const auto url = webhook.value("url", std::string());
    if (url.empty()) throw missing_url(uuid);
    const auto& headers = webhook.at("headers");
    if (headers.size() > kMaxHeaders) throw too_many_headers(uuid);
    for (const auto& [name, value] : headers.items()) {
        if (!header_name_ok(name)) {
            throw error(400, "invalid_webhook_headers",
                        "Invalid header name `" + name + "`: invalid HTTP header name");
        }
        if (!header_value_ok(value.get<std::string>())) {
            throw error(400, "invalid_webhook_headers",
                        "Invalid header value `" + name + "`: failed to parse header value");
        }
    }
    if (const auto why = url_error(url); !why.empty()) {
        throw error(400, "invalid_webhook_url", "Invalid URL `" + url + "`: " + why);
    }
}

std::string redacted(const std::string& name, std::string value) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != "authorization") return value;
    const std::size_t offset = value.rfind("Bearer ", 0) == 0 ? 7 : 0;
    return value.substr(0, offset) + hide_secret(std::string_view(value).substr(offset));
}

json webhook_view(const std::string& uuid, const json& webhook) {
    json out;
    out["uuid"] = uuid;
    out["isEditable"] = true;
    out["url"] = webhook.value("url", std::string());
    json headers = json::object();
    const auto stored_headers = webhook.value("headers", json::object());
    for (const auto& [name, value] : stored_headers.items()) {
        headers[name] = redacted(name, value.get<std::string>());
    }
    out["headers"] = std::move(headers);
    return out;
}

json new_webhook(const std::string& uuid, const json& body, std::size_t existing) {
    constexpr std::size_t kMaxWebhooks = 20;
    const auto settings = webhook_settings(body);
    if (settings.headers && settings.headers->size() > kMaxHeaders) throw too_many_headers(uuid);
    if (existing >= kMaxWebhooks) {
        throw error(400, "invalid_webhooks",
                    "Defining too many webhooks would crush the server. Please limit the number "
                    "of webhooks to 20. You may use a third-party proxy server to dispatch events "
                    "to more than 20 endpoints.");
    }
    json webhook;
    webhook["url"] = settings.url && settings.url->is_string() ? *settings.url : json("");
    json headers = json::object();
    if (settings.headers) {
        for (const auto& [name, value] : settings.headers->items()) {
            headers[name] = value.is_string() ? value : json("");
        }
    }
    webhook["headers"] = std::move(headers);
    check_webhook(uuid, webhook);
    return webhook;
}

std::string webhook_path_uuid(std::string_view text, bool editing) {
    const auto parsed = util::parse_uuid(text);
    if (parsed.uuid.empty())
        throw error(400, "invalid_webhook_uuid", "Invalid UUID: " + parsed.error);
    if (editing && parsed.uuid == kNilUuid) throw immutable(parsed.uuid);
    return parsed.uuid;
}

}  // namespace miroir::http
