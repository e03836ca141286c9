// ApiError and its JSON rendering in Meilisearch's error shape.
#include <cstdio>

#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>

namespace miroir::http {

std::string_view to_string(ErrorType t) {
    switch (t) {
        case ErrorType::invalid_request:
            return "invalid_request";
        case ErrorType::auth:
            return "auth";
        case ErrorType::internal:
            return "internal";
        case ErrorType::system:
            return "system";
    }
    return "internal";
}

ApiError::ApiError(unsigned status, std::string code, ErrorType type, std::string message)
    : std::runtime_error(std::move(message)),
      status_(status),
      code_(std::move(code)),
      type_(type) {}

std::string ApiError::body() const {
    // nlohmann's ordered_json keeps Meilisearch's key order: message, code, type, link
    nlohmann::ordered_json j;
    j["message"] = what();
    j["code"] = code_;
    j["type"] = to_string(type_);
    j["link"] = "https://docs.meilisearch.com/errors#" + code_;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response ApiError::response() const {
    Response r = Response::json(status_, body());
    // Meilisearch asks clients to come back later on every 503
    if (status_ == 503) r.headers.set("Retry-After", "10");
    return r;
}

std::string human_bytes(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1000.0 && unit + 1 < std::size(kUnits)) {
        value /= 1000.0;
        ++unit;
    }
    char buf[32];
    if (unit == 0) {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    } else {
        std::snprintf(buf, sizeof buf, "%.2f", value);
        std::string s = buf;
        // trailing zeros and a trailing point are dropped: 100.00 → 100, 104.50 → 104.5
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
        return s + " " + kUnits[unit];
    }
    return buf;
}

namespace errors {

ApiError missing_authorization_header() {
    return {401, "missing_authorization_header", ErrorType::auth,
            "The Authorization header is missing. It must use the bearer authorization method."};
}

ApiError invalid_api_key() {
    return {403, "invalid_api_key", ErrorType::auth, "The provided API key is invalid."};
}

ApiError payload_too_large(std::uint64_t limit_bytes) {
    return {413, "payload_too_large", ErrorType::invalid_request,
            "The provided payload reached the size limit. The maximum accepted payload size is " +
                human_bytes(limit_bytes) + "."};
}

ApiError internal(std::string message) {
    return {500, "internal", ErrorType::internal, std::move(message)};
}

}  // namespace errors

}  // namespace miroir::http
