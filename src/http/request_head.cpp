#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "from_header.hpp"

namespace miroir::http {

namespace bhttp = boost::beast::http;

namespace {

std::string trim_trailing_slashes(std::string_view path) {
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    return std::string(path.empty() ? "/" : path);
}

// Gives the parser what `bytes` hold until it is done with its current part (the header
// while it is not eager, else the message); need_more when the bytes end first.
void feed(bhttp::request_parser<bhttp::string_body>& parser, std::string_view& bytes,
          boost::system::error_code& ec) {
    const bool whole = parser.eager();
    while (!ec && !(whole ? parser.is_done() : parser.is_header_done())) {
        if (bytes.empty()) {
            if (whole && parser.need_eof()) {
                parser.put_eof(ec);  // a body delimited by the end of the connection
            } else {
                ec = bhttp::error::need_more;
            }
            return;
        }
        const auto used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
        bytes.remove_prefix(used);
    }
}

}  // namespace

Request from_header(const bhttp::request_header<>& in, const std::string& remote_address) {
    Request out;
    out.method_text = std::string(in.method_string());
    out.method = method_from_string(out.method_text);
    out.target = std::string(in.target());
    const auto qpos = out.target.find('?');
    out.path = trim_trailing_slashes(std::string_view(out.target).substr(0, qpos));
    if (qpos != std::string::npos) out.query = out.target.substr(qpos + 1);
    for (const auto& field : in) {
        out.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    out.remote_address = remote_address;
    return out;
}

bool undetermined_length(const bhttp::request_header<>& in, bool chunked) {
    return in.count(bhttp::field::transfer_encoding) > 0 && !chunked;
}

std::optional<Request> parse_request(std::string_view bytes, std::uint64_t max_body,
                                     std::string& error) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(boost::none);  // as in a session: known once the header is
    parser.eager(false);
    boost::system::error_code ec;
    feed(parser, bytes, ec);
    if (!ec && undetermined_length(parser.get().base(), parser.chunked())) {
        ec = bhttp::error::bad_transfer_encoding;
    }
    if (ec) {
        error = ec.message();
        return std::nullopt;
    }
    Request request = from_header(parser.get().base(), "");
    request.body_limit = max_body;
    if (parser.content_length().value_or(0) > max_body) {
        request.body_too_large = true;
        return request;
    }
    parser.body_limit(max_body);
    parser.eager(true);
    feed(parser, bytes, ec);
    if (ec == bhttp::error::body_limit) {
        request.body_too_large = true;
        return request;
    }
    if (ec) {
        error = ec.message();
        return std::nullopt;
    }
    request.body = std::move(parser.get().body());
    return request;
}

}  // namespace miroir::http
