// Splitter: cuts a documents payload (JSON array or object, NDJSON, CSV) into raw document
// slices and reads each one's primary key, without building a tree of the batch. The write
// path routes the slices and re-emits them with `_miroir_shard` injected as text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <miroir/routing/shard_field.hpp>

namespace miroir::ingest {

enum class Format { json, ndjson, csv };

// The payload's name in Meilisearch's messages: "json", "ndjson", "csv".
std::string_view to_string(Format f);

// Why a payload cannot be written. Payload errors (malformed, empty, reserved field) are
// answered at once; key and id errors are, as in Meilisearch, reported by a failed task.
struct Failure {
    std::string code;
    std::string message;
    bool synchronous = false;
};

struct Document {
    std::string_view text;  // JSON: the object `{...}`; CSV: the record without its line end
    std::string id;         // canonical primary key: an integer in decimal, a string as is
    // JSON: the document's `_miroir_expires_at` in Unix seconds, and where its value sits in
    // `text` (offset, size), rewritten as that number when the document is sent on.
    std::optional<std::int64_t> expires;
    std::uint32_t expires_from = 0;
    std::uint32_t expires_size = 0;
    // CSV: the record ends inside a quoted cell (at the end of the payload), which its writer
    // closes before adding cells
    bool open_quote = false;
};

struct SplitOptions {
    Format format = Format::json;
    char csv_delimiter = ',';
    // The index's primary key, or the one a write names; inferred from the first document
    // when absent.
    std::optional<std::string> primary_key;
};

struct Split {
    std::vector<Document> documents;
    // The resolved primary key; empty when none was given and the payload has no document.
    std::string primary_key;
    std::string_view csv_header;  // CSV: the header record
    std::optional<Failure> failure;
};

// Splits `body`. Slices point into `body`, whose capacity may grow (the parser needs a few
// bytes of padding after the text): keep it alive and unmodified while they are used.
Split split(std::string& body, const SplitOptions& options);

// Appends `doc` to a JSON array payload under construction (`out` starts as "["; the caller
// closes it with "]"), with `"_miroir_shard":"<shard_value>"` as its first field and, when
// `ord` (a routing::ord_value) is given, `"_miroir_ord":"<ord>"` as its second. Its own
// `_miroir_expires_at` is written as Unix seconds; a document without one gets
// `default_expiry` when given.
void append_json(std::string& out, const Document& doc, std::uint32_t shard,
                 std::string_view ord = {}, std::optional<std::int64_t> default_expiry = {});

// Starts a CSV payload: the header with a `_miroir_shard` (string) column appended, a
// `_miroir_ord` one after it when `with_ord`, and a `_miroir_expires_at` (number) one last when
// `with_expiry`.
void begin_csv(std::string& out, std::string_view header, char delimiter, bool with_ord = false,
               bool with_expiry = false);
// Appends one CSV record with its shard as the next cell, then its `ord` when given (as every
// record of a payload begun `with_ord` must), then `expiry` when given (likewise).
void append_csv(std::string& out, const Document& doc, std::uint32_t shard, char delimiter,
                std::string_view ord = {}, std::optional<std::int64_t> expiry = {});

// Whether a Meilisearch document id string is valid: 1–511 bytes of [A-Za-z0-9_-].
bool valid_id_string(std::string_view id);

}  // namespace miroir::ingest
