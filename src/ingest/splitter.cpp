// The splitter. JSON and NDJSON go through simdjson's On-Demand API: every value is visited
// once (so the payload is fully validated, as Meilisearch validates it before answering), and
// a document's slice is the text between its opening brace and the token after it. CSV is in
// csv.cpp.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <simdjson.h>

#include <miroir/ingest/splitter.hpp>
#include <miroir/util/time.hpp>

#include "parts.hpp"

namespace miroir::ingest {

using routing::kReservedPrefix;
using routing::shard_value;

namespace od = simdjson::ondemand;

// The deepest nesting of a document's values: serde_json's recursion limit.
constexpr int kMaxDepth = 128;

namespace detail {

Failure malformed(Format format, std::string_view why) {
    return {"malformed_payload",
            "The `" + std::string(to_string(format)) + "` payload provided is malformed. `" +
                std::string(why) + "`.",
            true};
}

Failure reserved(std::string_view field) {
    if (field == routing::kExpiresField) {
        return {"miroir_invalid_expires_at",
                "The field `_miroir_expires_at` can only be set in JSON and NDJSON payloads.",
                true};
    }
    return {"miroir_reserved_field",
            "The field `" + std::string(field) +
                "` is reserved: fields starting with `_miroir_` (but `_miroir_expires_at`) belong "
                "to Miroir and cannot be sent in documents.",
            true};
}

Failure invalid_expiry(std::string_view raw) {
    return {"miroir_invalid_expires_at",
            "The field `_miroir_expires_at` must be a Unix time in seconds or an RFC 3339 date "
            "before the year 10000, found `" +
                std::string(raw) + "`.",
            true};
}

Failure invalid_id(std::string_view raw) {
    return {"invalid_document_id",
            "Document identifier `" + std::string(raw) +
                "` is invalid. A document identifier can be of type integer or string, only "
                "composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores "
                "(_), and can not be more than 511 bytes.",
            false};
}

Failure missing_id(std::string_view pk, std::string_view doc) {
    return {
        "missing_document_id",
        "Document doesn't have a `" + std::string(pk) + "` attribute: `" + std::string(doc) + "`.",
        false};
}

Failure multiple_ids(std::string_view pk, std::string_view doc) {
    return {"invalid_document_id",
            "Too many fields match the primary key `" + std::string(pk) + "` in document `" +
                std::string(doc) + "`.",
            false};
}

// Meilisearch's inference: the first document's top-level fields whose lowercase name ends
// with "id"; exactly one must exist.
std::optional<Failure> infer(std::vector<std::string> names, std::string& pk) {
    std::vector<std::string> candidates;
    for (auto& name : names) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (lower.ends_with("id")) candidates.push_back(std::move(name));
    }
    std::sort(candidates.begin(), candidates.end());
    if (candidates.empty()) {
        return Failure{"index_primary_key_no_candidate_found",
                       "The primary key inference failed as the engine did not find any field "
                       "ending with `id` in its name. Please specify the primary key manually "
                       "using the `primaryKey` query parameter.",
                       false};
    }
    if (candidates.size() > 1) {
        return Failure{"index_primary_key_multiple_candidates_found",
                       "The primary key inference failed as the engine found " +
                           std::to_string(candidates.size()) +
                           " fields ending with `id` in their names: '" + candidates[0] +
                           "' and '" + candidates[1] +
                           "'. Please specify the primary key manually using the `primaryKey` "
                           "query parameter.",
                       false};
    }
    pk = candidates[0];
    return std::nullopt;
}

}  // namespace detail

using namespace detail;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Visits every value under `v`, which validates it.
simdjson::error_code walk(od::value v, int depth = 0) {
    // nesting as deep as serde_json (Meilisearch's reader) takes, and no deeper: the walk
    // recurses, so a payload of nested brackets would otherwise end the process
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    switch (type) {
        case od::json_type::object: {
            od::object object;
            if (auto e = v.get_object().get(object)) return e;
            for (auto field_result : object) {
                od::field field;
                std::string_view key;
                if (auto e = std::move(field_result).get(field)) return e;
                if (auto e = field.unescaped_key().get(key)) return e;
                if (auto e = walk(field.value(), depth + 1)) return e;
            }
            return simdjson::SUCCESS;
        }
        case od::json_type::array: {
            od::array array;
            if (auto e = v.get_array().get(array)) return e;
            for (auto element : array) {
                od::value child;
                if (auto e = element.get(child)) return e;
                if (auto e = walk(child, depth + 1)) return e;
            }
            return simdjson::SUCCESS;
        }
        case od::json_type::string: {
            std::string_view s;
            return v.get_string().get(s);
        }
        case od::json_type::number: {
            od::number n;
            const auto e = v.get_number().get(n);
            return e;
        }
        case od::json_type::boolean: {
            bool b;
            return v.get_bool().get(b);
        }
        case od::json_type::null: {
            bool is_null = false;
            if (auto e = v.is_null().get(is_null)) return e;
            return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
        }
    }
    return simdjson::INCORRECT_TYPE;
}

// What reading a primary-key value found.
struct IdRead {
    std::optional<std::string> id;  // set when valid
    std::string raw;                // the value's text, for the error message
};

simdjson::error_code read_id(od::value v, IdRead& out) {
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    if (type == od::json_type::number || type == od::json_type::string) {
        out.raw = std::string(trim(v.raw_json_token()));
    }
    if (type == od::json_type::number) {
        od::number n;
        if (auto e = v.get_number().get(n)) return e;
        if (n.is_int64()) out.id = std::to_string(n.get_int64());
        if (n.is_uint64()) out.id = std::to_string(n.get_uint64());
        return simdjson::SUCCESS;
    }
    if (type == od::json_type::string) {
        std::string_view s;
        if (auto e = v.get_string().get(s)) return e;
        if (valid_id_string(s)) out.id = std::string(s);
        return simdjson::SUCCESS;
    }
    // objects, arrays, booleans, null: never an id; the message shows the value
    const char* start = nullptr;
    if (auto e = v.current_location().get(start)) return e;
    if (auto e = walk(v)) return e;
    const char* end = nullptr;
    if (v.current_location().get(end) == simdjson::SUCCESS && end > start) {
        out.raw = std::string(trim(std::string_view(start, static_cast<std::size_t>(end - start))));
    } else {
        out.raw = std::string(trim(std::string_view(start)).substr(0, 64));
    }
    return simdjson::SUCCESS;
}

// The Unix seconds of an expiry's text: a number (seconds, the fraction dropped) or an RFC 3339
// date; nullopt when it is neither or out of range.
std::optional<std::int64_t> expiry_seconds(od::value v, od::json_type type) {
    double seconds = -1;
    if (type == od::json_type::number) {
        if (v.get_double().get(seconds)) return std::nullopt;
    } else if (type == od::json_type::string) {
        std::string_view text;
        if (v.get_string().get(text)) return std::nullopt;
        const auto t = util::parse_date(text);
        if (!t) return std::nullopt;
        seconds = static_cast<double>(
            std::chrono::floor<std::chrono::seconds>(t->time_since_epoch()).count());
    }
    if (!(seconds >= 0 && seconds < static_cast<double>(routing::kMaxExpiry))) return std::nullopt;
    return static_cast<std::int64_t>(seconds);
}

// Splits JSON and NDJSON payloads.
class JsonSplitter {
  public:
    JsonSplitter(const SplitOptions& options, Split& out) : out_(out) {
        if (options.primary_key) out_.primary_key = *options.primary_key;
    }

    // Processes one document object; `start` is its opening brace, `limit` the end of the text
    // it may extend to (used for the last value of a payload).
    simdjson::error_code document(od::value value, const char* limit) {
        od::json_type type;
        if (auto e = value.type().get(type)) return e;
        const char* start = nullptr;
        if (auto e = value.current_location().get(start)) return e;
        if (type != od::json_type::object) {
            if (auto e = walk(value)) return e;
            not_a_map_ = std::string(trim(std::string_view(start, end_of(value, start, limit))));
            return simdjson::INCORRECT_TYPE;
        }
        od::object object;
        if (auto e = value.get_object().get(object)) return e;

        const bool inferring = out_.primary_key.empty() && out_.documents.empty();
        std::vector<std::string> names;
        std::vector<std::pair<std::string, IdRead>> candidates;  // while inferring
        IdRead id;
        int matches = 0;
        Document expires;  // its expiry fields only
        const std::string& pk = out_.primary_key;
        for (auto field_result : object) {
            od::field field;
            std::string_view key;
            if (auto e = std::move(field_result).get(field)) return e;
            if (auto e = field.unescaped_key().get(key)) return e;
            if (key == routing::kExpiresField) {
                if (auto e = expiry(field.value(), start, limit, expires)) return e;
                continue;
            }
            if (key.starts_with(kReservedPrefix) && !reserved_) reserved_ = std::string(key);
            if (inferring) {
                names.emplace_back(key);
                IdRead read;
                if (auto e = read_id(field.value(), read)) return e;
                candidates.emplace_back(std::string(key), std::move(read));
            } else if (key == pk) {
                ++matches;
                if (auto e = read_id(field.value(), id)) return e;
            } else if (pk.size() > key.size() && pk.starts_with(key) && pk[key.size()] == '.') {
                if (auto e = nested(field.value(), std::string_view(pk).substr(key.size() + 1), id,
                                    matches)) {
                    return e;
                }
            } else {
                if (auto e = walk(field.value())) return e;
            }
        }
        const std::string_view text(start, end_of(value, start, limit));

        if (inferring && !failure_) {
            if (auto f = infer(std::move(names), out_.primary_key)) {
                failure_ = std::move(f);
            } else {
                for (auto& [name, read] : candidates) {
                    if (name == out_.primary_key) {
                        id = std::move(read);
                        matches = 1;
                    }
                }
            }
        }
        if (!failure_) {
            if (matches == 0) {
                failure_ = missing_id(out_.primary_key, text);
            } else if (matches > 1) {
                failure_ = multiple_ids(out_.primary_key, text);
            } else if (!id.id) {
                failure_ = invalid_id(id.raw);
            }
        }
        if (!failure_) {
            expires.text = text;
            expires.id = std::move(*id.id);
            out_.documents.push_back(std::move(expires));
        }
        return simdjson::SUCCESS;
    }

    // The outcome once every document went through, or `e` stopped the walk.
    void finish(simdjson::error_code e, Format format) {
        if (e == simdjson::INCORRECT_TYPE && not_a_map_) {
            out_.failure = malformed(format, "expected a map, found " + *not_a_map_);
        } else if (e) {
            out_.failure = malformed(format, simdjson::error_message(e));
        } else if (reserved_) {
            out_.failure = reserved(*reserved_);
        } else if (bad_expiry_) {
            out_.failure = std::move(bad_expiry_);
        } else if (failure_) {
            out_.failure = std::move(failure_);
        }
        if (out_.failure) out_.documents.clear();
    }

  private:
    // Reads a document's `_miroir_expires_at` (the document starts at `doc`) into `out`.
    simdjson::error_code expiry(od::value v, const char* doc, const char* limit, Document& out) {
        const char* from = nullptr;
        if (auto e = v.current_location().get(from)) return e;
        od::json_type type;
        if (auto e = v.type().get(type)) return e;
        std::optional<std::int64_t> seconds;
        if (type == od::json_type::number || type == od::json_type::string) {
            seconds = expiry_seconds(v, type);
        } else if (auto e = walk(v)) {
            return e;
        }
        const auto size = end_of(v, from, limit);
        if (!seconds) {
            if (!bad_expiry_)
                bad_expiry_ = invalid_expiry(std::string_view(from, size).substr(0, 64));
            return simdjson::SUCCESS;
        }
        if (out.expires) {  // given twice: which one the node keeps is its parser's choice
            if (!bad_expiry_)
                bad_expiry_ = invalid_expiry(std::string_view(from, size).substr(0, 64));
            return simdjson::SUCCESS;
        }
        out.expires = seconds;
        out.expires_from = static_cast<std::uint32_t>(from - doc);
        out.expires_size = static_cast<std::uint32_t>(size);
        return simdjson::SUCCESS;
    }

    // The end of the value just consumed: the next token, or `limit`, less whitespace.
    static std::size_t end_of(od::value& value, const char* start, const char* limit) {
        const char* end = nullptr;
        if (value.current_location().get(end) != simdjson::SUCCESS || end == nullptr ||
            end > limit || end <= start) {
            end = limit;
        }
        while (end > start && is_space(end[-1])) --end;
        return static_cast<std::size_t>(end - start);
    }

    // A dotted primary key (`a.b`) inside the object `v`.
    simdjson::error_code nested(od::value v, std::string_view rest, IdRead& id, int& matches) {
        od::json_type type;
        if (auto e = v.type().get(type)) return e;
        if (type != od::json_type::object) return walk(v);
        od::object object;
        if (auto e = v.get_object().get(object)) return e;
        for (auto field_result : object) {
            od::field field;
            std::string_view key;
            if (auto e = std::move(field_result).get(field)) return e;
            if (auto e = field.unescaped_key().get(key)) return e;
            if (key == rest) {
                ++matches;
                if (auto e = read_id(field.value(), id)) return e;
            } else if (rest.size() > key.size() && rest.starts_with(key) &&
                       rest[key.size()] == '.') {
                if (auto e = nested(field.value(), rest.substr(key.size() + 1), id, matches)) {
                    return e;
                }
            } else if (auto e = walk(field.value())) {
                return e;
            }
        }
        return simdjson::SUCCESS;
    }

    Split& out_;
    std::optional<Failure> failure_;
    std::optional<Failure> bad_expiry_;
    std::optional<std::string> reserved_;
    std::optional<std::string> not_a_map_;
};

// On-Demand has no end-of-document test of its own: the location is out of bounds at the end.
bool at_end(od::document& doc) {
    const char* p = nullptr;
    return doc.current_location().get(p) != simdjson::SUCCESS;
}

od::parser& thread_parser() {
    thread_local od::parser parser;
    return parser;
}

void split_json(std::string& body, const SplitOptions& options, Split& out) {
    JsonSplitter splitter(options, out);
    auto& parser = thread_parser();
    const char* limit = body.data() + body.size();
    od::document doc;
    auto e = parser.iterate(body.data(), body.size(), body.capacity()).get(doc);
    if (!e) {
        od::json_type type;
        e = doc.type().get(type);
        if (!e && type == od::json_type::array) {
            od::array array;
            e = doc.get_array().get(array);
            if (!e) {
                for (auto element : array) {
                    od::value value;
                    e = std::move(element).get(value);
                    if (!e) e = splitter.document(value, limit);
                    if (e) break;
                }
            }
        } else if (!e && type == od::json_type::object) {
            od::value value;
            e = doc.get_value().get(value);
            if (!e) e = splitter.document(value, limit);
        } else if (!e) {
            std::string_view text = trim(body);
            out.failure =
                malformed(Format::json,
                          "expected a sequence or a map, found " +
                              std::string(text.substr(0, std::min<std::size_t>(text.size(), 64))));
            return;
        }
        if (!e && !at_end(doc)) e = simdjson::TRAILING_CONTENT;
    }
    splitter.finish(e, Format::json);
}

void split_ndjson(std::string& body, const SplitOptions& options, Split& out) {
    JsonSplitter splitter(options, out);
    auto& parser = thread_parser();
    const char* const capacity_end = body.data() + body.capacity();
    simdjson::error_code e = simdjson::SUCCESS;
    std::size_t start = 0;
    while (!e && start < body.size()) {
        auto end = body.find('\n', start);
        if (end == std::string::npos) end = body.size();
        const std::string_view line = trim(std::string_view(body).substr(start, end - start));
        start = end + 1;
        if (line.empty()) continue;
        od::document doc;
        e = parser
                .iterate(line.data(), line.size(),
                         static_cast<std::size_t>(capacity_end - line.data()))
                .get(doc);
        if (e) break;
        od::value value;
        e = doc.get_value().get(value);
        if (!e) e = splitter.document(value, line.data() + line.size());
        if (!e && !at_end(doc)) e = simdjson::TRAILING_CONTENT;
    }
    splitter.finish(e, Format::ndjson);
}

}  // namespace

std::string_view to_string(Format f) {
    switch (f) {
        case Format::json:
            return "json";
        case Format::ndjson:
            return "ndjson";
        case Format::csv:
            return "csv";
    }
    return "json";
}

bool valid_id_string(std::string_view id) {
    return !id.empty() && id.size() <= 511 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

Split split(std::string& body, const SplitOptions& options) {
    Split out;
    if (trim(body).empty()) {
        out.failure =
            Failure{"missing_payload",
                    "A " + std::string(to_string(options.format)) + " payload is missing.", true};
        return out;
    }
    // the parser reads up to SIMDJSON_PADDING bytes past the text
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    switch (options.format) {
        case Format::json:
            split_json(body, options, out);
            break;
        case Format::ndjson:
            split_ndjson(body, options, out);
            break;
        case Format::csv:
            split_csv(body, options, out);
            break;
    }
    // an empty payload without a primary key leaves the key unknown
    if (out.documents.empty() && !options.primary_key && !out.failure) out.primary_key.clear();
    return out;
}

void append_json(std::string& out, const Document& doc, std::uint32_t shard, std::string_view ord,
                 std::optional<std::int64_t> default_expiry) {
    if (out.size() > 1) out.push_back(',');
    out += "{\"_miroir_shard\":\"";
    out += shard_value(shard);
    if (!ord.empty()) {
        out += "\",\"_miroir_ord\":\"";
        out += ord;
    }
    out += "\",";
    if (!doc.expires) {
        if (default_expiry) {
            out += '"';
            out += routing::kExpiresField;
            out += "\":" + std::to_string(*default_expiry) + ",";
        }
        out.append(doc.text.substr(1));
        return;
    }
    out.append(doc.text.substr(1, doc.expires_from - 1));
    out += std::to_string(*doc.expires);
    out.append(doc.text.substr(doc.expires_from + doc.expires_size));
}

}  // namespace miroir::ingest
