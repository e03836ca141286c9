// Content codings of bodies, as Meilisearch (actix-web) handles them: a request body sent with
// `Content-Encoding: gzip`, `deflate` or `br` is decoded before anything reads it, and a
// response is encoded with the best coding the client accepts (br, then gzip, then deflate).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace miroir::http {

// `body` decoded from `coding` (gzip, x-gzip, deflate as zlib, br; any other coding leaves the
// body as it is, as Meilisearch does). Throws 413 payload_too_large when the decoded body
// exceeds `limit` bytes, 400 bad_request when the stream is corrupt or cut short.
std::string decoded_body(std::string_view coding, std::string body, std::uint64_t limit);

// The coding a response takes for the client's `Accept-Encoding`: "br", "gzip" or "deflate",
// the first of those the client accepts (a q of 0 refuses), empty for none.
std::string response_coding(std::string_view accept_encoding);

// `body` encoded with `coding` (one of response_coding's).
std::string encoded_body(std::string_view coding, const std::string& body);

}  // namespace miroir::http
