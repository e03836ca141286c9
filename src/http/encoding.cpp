#include <algorithm>
#include <array>
#include <brotli/decode.h>
#include <brotli/encode.h>
#include <cctype>
#include <cstdlib>
#include <vector>
#include <zlib.h>

#include <miroir/http/api_error.hpp>
#include <miroir/http/encoding.hpp>

namespace miroir::http {

namespace {

ApiError corrupt() {
    return ApiError(400, "bad_request", ErrorType::invalid_request,
                    "The provided payload is incomplete and cannot be parsed");
}

std::string lower_trimmed(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string inflated(const std::string& body, int window_bits, std::uint64_t limit) {
    z_stream z{};
    if (inflateInit2(&z, window_bits) != Z_OK) throw corrupt();
    std::string out;
    std::array<char, 64 * 1024> chunk{};
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    z.avail_in = static_cast<uInt>(body.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        z.next_out = reinterpret_cast<Bytef*>(chunk.data());
        z.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&z);
            throw corrupt();  // corrupt, or cut short (Z_BUF_ERROR: no progress possible)
        }
        out.append(chunk.data(), chunk.size() - z.avail_out);
        if (out.size() > limit) {
            inflateEnd(&z);
            throw errors::payload_too_large(limit);
        }
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
            // all the input read, the stream not ended: one more call tells whether it can
            continue;
        }
    }
    inflateEnd(&z);
    return out;
}

std::string unbrotli(const std::string& body, std::uint64_t limit) {
    auto* state = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    std::string out;
    std::array<std::uint8_t, 64 * 1024> chunk{};
    std::size_t available_in = body.size();
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(body.data());
    for (;;) {
        std::size_t available_out = chunk.size();
        auto* next_out = chunk.data();
        const auto rc = BrotliDecoderDecompressStream(state, &available_in, &next_in,
                                                      &available_out, &next_out, nullptr);
        out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size() - available_out);
        if (out.size() > limit) {
            BrotliDecoderDestroyInstance(state);
            throw errors::payload_too_large(limit);
        }
        if (rc == BROTLI_DECODER_RESULT_SUCCESS) break;
        if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
            BrotliDecoderDestroyInstance(state);
            throw corrupt();
        }
    }
    BrotliDecoderDestroyInstance(state);
    return out;
}

// How much the client wants `coding`: its q (1 when not given), 0 when not listed.
double quality(std::string_view accept, std::string_view coding) {
    double wildcard = 0;
    std::size_t start = 0;
    while (start <= accept.size()) {
        const auto comma = accept.find(',', start);
        const auto item = accept.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        start = comma == std::string_view::npos ? accept.size() + 1 : comma + 1;
        const auto semi = item.find(';');
        const auto name = lower_trimmed(item.substr(0, semi));
        double q = 1;
        if (semi != std::string_view::npos) {
            const auto param = lower_trimmed(item.substr(semi + 1));
            if (param.starts_with("q=")) q = std::strtod(param.c_str() + 2, nullptr);
        }
        if (name == coding) return q;
        if (name == "*") wildcard = q;
    }
    return wildcard;
}

}  // namespace

std::string decoded_body(std::string_view coding, std::string body, std::uint64_t limit) {
    const auto name = lower_trimmed(coding);
    if (body.empty()) return body;
    if (name == "gzip" || name == "x-gzip") return inflated(body, 15 + 16, limit);
    if (name == "deflate") {
        try {
            return inflated(body, 15, limit);
        } catch (const ApiError& e) {
            // a zlib stream whose deflate data ends but whose checksum is missing is read whole,
            // as Meilisearch's decoder reads it: the data alone, after the 2-byte header
            if (e.status() != 400 || body.size() <= 2) throw;
            return inflated(body.substr(2), -15, limit);
        }
    }
    if (name == "br") return unbrotli(body, limit);
    return body;
}

std::string response_coding(std::string_view accept_encoding) {
    std::string best;
    double best_q = 0;
    for (const char* coding : {"br", "gzip", "deflate"}) {
        const double q = quality(accept_encoding, coding);
        if (q > best_q) best = coding, best_q = q;
    }
    return best;
}

std::string encoded_body(std::string_view coding, const std::string& body) {
    if (coding == "br") {
        std::string out(BrotliEncoderMaxCompressedSize(body.size()), '\0');
        std::size_t size = out.size();
        // quality 3: fast, as the compression of actix-web's default
        BrotliEncoderCompress(3, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, body.size(),
                              reinterpret_cast<const std::uint8_t*>(body.data()), &size,
                              reinterpret_cast<std::uint8_t*>(out.data()));
        out.resize(size);
        return out;
    }
    z_stream z{};
    deflateInit2(&z, 3, Z_DEFLATED, coding == "gzip" ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, body.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    z.avail_in = static_cast<uInt>(body.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

}  // namespace miroir::http
