// Documents payloads: JSON arrays and objects, NDJSON and CSV (with any delimiter Meilisearch
// accepts) split into documents, then written as the nodes' payloads. Input: a format byte, a
// delimiter byte, then the payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include <miroir/ingest/splitter.hpp>
#include <miroir/routing/shard_field.hpp>

namespace {

using json = nlohmann::json;
using namespace miroir;

// The JSON payload a node gets must be JSON, each document with its shard and its id.
void check_json(const ingest::Split& split) {
    std::string out = "[";
    const auto ord = routing::ord_value({1700000000000000, 1});
    for (const auto& doc : split.documents) ingest::append_json(out, doc, 3, ord, 1800000000);
    out += "]";
    const json payload = json::parse(out, nullptr, false);
    if (payload.is_discarded() || payload.size() != split.documents.size()) std::abort();
    for (const auto& doc : payload) {
        if (!doc.is_object() || !doc.contains(routing::kShardField) ||
            !doc.contains(split.primary_key) || !doc.contains(routing::kExpiresField)) {
            std::abort();
        }
    }
}

// The CSV payload a node gets splits again into the same documents, with the same ids.
void check_csv(const ingest::Split& split, char delimiter) {
    std::string out;
    ingest::begin_csv(out, split.csv_header, delimiter, true, true);
    const auto ord = routing::ord_value({1700000000000000, 1});
    for (const auto& doc : split.documents) {
        ingest::append_csv(out, doc, 3, delimiter, ord, 1800000000);
    }
    // Miroir's columns renamed, so that the payload is not refused as a client's would be
    const auto from = split.csv_header.size();
    std::string added = out.substr(from, out.find('\n', from) - from);
    for (auto at = added.find(routing::kReservedPrefix); at != std::string::npos;
         at = added.find(routing::kReservedPrefix, at)) {
        added.replace(at, routing::kReservedPrefix.size(), "m_");
    }
    out.replace(from, out.find('\n', from) - from, added);
    const auto again = ingest::split(out, {ingest::Format::csv, delimiter, split.primary_key});
    if (again.failure || again.documents.size() != split.documents.size()) std::abort();
    for (std::size_t i = 0; i < again.documents.size(); ++i) {
        if (again.documents[i].id != split.documents[i].id) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const auto format = static_cast<ingest::Format>(data[0] % 3);
    // csvDelimiter: one ASCII character but a line end or a quote (the route refuses those)
    const char delimiter = data[1] < 128 && data[1] != '\n' && data[1] != '\r' && data[1] != '"'
                               ? static_cast<char>(data[1])
                               : ',';
    ingest::SplitOptions options{format, delimiter, std::nullopt};
    if (data[0] & 0x80) options.primary_key = "id";
    std::string body(reinterpret_cast<const char*>(data) + 2, size - 2);
    const auto split = ingest::split(body, options);
    if (split.failure) return 0;
    std::set<std::string> ids;
    for (const auto& doc : split.documents) {
        if (!ingest::valid_id_string(doc.id) &&
            doc.id.find_first_not_of("-0123456789") != std::string::npos) {
            std::abort();  // neither an id string nor an integer
        }
        ids.insert(doc.id);
    }
    if (format == ingest::Format::csv) {
        check_csv(split, delimiter);
    } else {
        check_json(split);
    }
    return 0;
}
