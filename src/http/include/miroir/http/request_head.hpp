// How the server reads a request's bytes: the header within its limit, the body within the
// size limit the route allows, and the Request made of them. The session reads with these
// limits as the bytes arrive; `parse_request` applies them to bytes already in memory (the
// request parser's fuzz target and its tests).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <miroir/http/message.hpp>

namespace miroir::http {

// The largest request header the server reads (request line and fields).
inline constexpr std::uint32_t kHeaderLimit = 64 * 1024;

// One request read from `bytes` as a session reads it: nullopt with `error` set when the
// server would answer 400 and close (a malformed or oversized header, a body the framing
// cannot read, such as conflicting lengths), or when `bytes` end before the request does.
// A body over `max_body` leaves the body empty and sets `body_too_large`.
std::optional<Request> parse_request(std::string_view bytes, std::uint64_t max_body,
                                     std::string& error);

}  // namespace miroir::http
