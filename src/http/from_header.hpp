// The Request made of a parsed header, and the framing it is refused for (the server's sessions
// and parse_request).
#pragma once

#include <string>

#include <boost/beast/http/message.hpp>

#include <miroir/http/request_head.hpp>

namespace miroir::http {

Request from_header(const boost::beast::http::request_header<>& in,
                    const std::string& remote_address);

// Whether a parsed header leaves the body's length undetermined: a Transfer-Encoding whose last
// coding is not chunked (`chunked` is the parser's verdict). RFC 9112 §6.3: answered 400, and
// the connection closed, so that nothing behind the header is read as another request.
bool undetermined_length(const boost::beast::http::request_header<>& in, bool chunked);

}  // namespace miroir::http
