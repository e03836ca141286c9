// Request/response helpers: method names and case-insensitive header lookup.
#include <boost/beast/core/string.hpp>  // ASCII case folding, no locale

#include <miroir/http/api_keys.hpp>
#include <miroir/http/message.hpp>

namespace miroir::http {

std::string_view to_string(Method m) {
    switch (m) {
        case Method::get:
            return "GET";
        case Method::head:
            return "HEAD";
        case Method::post:
            return "POST";
        case Method::put:
            return "PUT";
        case Method::patch:
            return "PATCH";
        case Method::del:
            return "DELETE";
        case Method::options:
            return "OPTIONS";
        case Method::other:
            return "OTHER";
    }
    return "OTHER";
}

Method method_from_string(std::string_view s) {
    if (s == "GET") return Method::get;
    if (s == "HEAD") return Method::head;
    if (s == "POST") return Method::post;
    if (s == "PUT") return Method::put;
    if (s == "PATCH") return Method::patch;
    if (s == "DELETE") return Method::del;
    if (s == "OPTIONS") return Method::options;
    return Method::other;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
    for (const auto& f : fields_) {
        if (boost::beast::iequals(f.name, name)) return std::string_view(f.value);
    }
    return std::nullopt;
}

void Headers::set(std::string name, std::string value) {
    std::erase_if(fields_, [&](const Field& f) { return boost::beast::iequals(f.name, name); });
    fields_.push_back({std::move(name), std::move(value)});
}

void Headers::erase(std::string_view name) {
    std::erase_if(fields_, [&](const Field& f) { return boost::beast::iequals(f.name, name); });
}

void Headers::add(std::string name, std::string value) {
    fields_.push_back({std::move(name), std::move(value)});
}

std::string_view Request::param(std::string_view name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string_view{} : std::string_view(it->second);
}

bool Request::index_allowed(std::string_view uid) const {
    if (tenant_rules && !tenant_rule(uid)) return false;
    return !key_indexes || index_allows(*key_indexes, uid);
}

const Request::TenantRule* Request::tenant_rule(std::string_view uid) const {
    if (!tenant_rules) return nullptr;
    const TenantRule* best = nullptr;
    for (const auto& rule : *tenant_rules) {
        if (rule.pattern == uid) return &rule;
        if (!index_allows({rule.pattern}, uid)) continue;
        if (!best || rule.pattern.size() > best->pattern.size()) best = &rule;
    }
    return best;
}

Response Response::json(unsigned status, std::string body) {
    Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.body = std::move(body);
    return r;
}

}  // namespace miroir::http
