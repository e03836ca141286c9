// ApiError: the one exception type a handler throws for a client-visible failure, and its
// rendering as Meilisearch's error object (message, code, type, link).
#pragma once

#include <stdexcept>
#include <string>

#include <miroir/http/message.hpp>

namespace miroir::http {

enum class ErrorType { invalid_request, auth, internal, system };

std::string_view to_string(ErrorType t);

class ApiError : public std::runtime_error {
  public:
    ApiError(unsigned status, std::string code, ErrorType type, std::string message);

    unsigned status() const { return status_; }
    const std::string& code() const { return code_; }
    ErrorType type() const { return type_; }

    // Meilisearch's JSON error object, keys in Meilisearch's order.
    std::string body() const;
    Response response() const;

  private:
    unsigned status_;
    std::string code_;
    ErrorType type_;
};

// A byte size as Meilisearch prints its payload limit: decimal units ("100 MB", "104.86 MB").
std::string human_bytes(std::uint64_t bytes);

// Errors shared by several layers.
namespace errors {
ApiError missing_authorization_header();
ApiError invalid_api_key();
ApiError payload_too_large(std::uint64_t limit_bytes);
ApiError internal(std::string message);
}  // namespace errors

}  // namespace miroir::http
