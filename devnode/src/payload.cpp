// Documents payloads as the development node reads them: JSON, NDJSON and CSV (with column
// types), and the errors Meilisearch gives for each.
#include <algorithm>
#include <set>

#include "filter.hpp"
#include "node.hpp"
#include "search.hpp"

namespace devnode {

namespace {

constexpr const char* kAccepted =
    "Accepted values for the Content-Type header are: `application/json`, "
    "`application/x-ndjson`, `text/csv`";

// The records of a CSV payload, each as its cells, read as Rust's csv crate reads them: a quote
// opens a quoted cell only at the start of a cell (elsewhere it is a byte of the cell), `""` in
// a quoted cell is a quote and the cell goes on unquoted after the closing quote, a record ends
// at LF, CR or CRLF outside quotes, empty lines are skipped, and the payload's end closes an
// open quote.
std::vector<std::vector<std::string>> csv_records(const std::string& body, char delimiter) {
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> cells;
    std::string cell;
    bool in_record = false, quoted = false, at_cell_start = true, after_quote = false;
    auto end_record = [&] {
        if (!in_record) return;
        cells.push_back(std::move(cell));
        records.push_back(std::move(cells));
        cells.clear();
        cell.clear();
        in_record = false;
        at_cell_start = true;
    };
    for (const char c : body) {
        if (quoted) {
            if (c == '"') {
                quoted = false;
                after_quote = true;
            } else {
                cell.push_back(c);
            }
            continue;
        }
        if (c == '"' && (at_cell_start || after_quote)) {
            if (after_quote) cell.push_back('"');
            quoted = true;
            after_quote = false;
            at_cell_start = false;
            in_record = true;
            continue;
        }
        after_quote = false;
        if (c == '\n' || c == '\r') {
            end_record();
            continue;
        }
        in_record = true;
        if (c == delimiter) {
            cells.push_back(std::move(cell));
            cell.clear();
            at_cell_start = true;
        } else {
            cell.push_back(c);
            at_cell_start = false;
        }
    }
    end_record();
    return records;
}

std::vector<json> parse_csv(const std::string& body, char delimiter) {
    auto malformed = [](const std::string& why) {
        return error(400, "malformed_payload",
                     "The `csv` payload provided is malformed: `" + why + "`.");
    };
    const auto records = csv_records(body, delimiter);
    if (records.empty()) return {};
    struct Column {
        std::string name;
        std::string type;  // string | number | boolean
    };
    std::vector<Column> columns;
    for (const auto& cell : records[0]) {
        Column col{cell, "string"};
        if (auto colon = cell.rfind(':'); colon != std::string::npos) {
            const auto type = cell.substr(colon + 1);
            if (type == "number" || type == "boolean" || type == "string") {
                col.name = cell.substr(0, colon);
                col.type = type;
            }
        }
        columns.push_back(col);
    }
    std::vector<json> docs;
    for (std::size_t i = 1; i < records.size(); ++i) {
        const auto& cells = records[i];
        if (cells.size() != columns.size()) {
            throw malformed("CSV error: record " + std::to_string(i) + " has " +
                            std::to_string(cells.size()) + " fields, but the header has " +
                            std::to_string(columns.size()) + " fields");
        }
        json doc = json::object();
        for (std::size_t c = 0; c < columns.size(); ++c) {
            const auto& v = cells[c];
            if (v.empty()) {
                doc[columns[c].name] = nullptr;
            } else if (columns[c].type == "number") {
                try {
                    std::size_t used = 0;
                    const long long n = std::stoll(v, &used);
                    if (used == v.size()) {
                        doc[columns[c].name] = n;
                        continue;
                    }
                    const double d = std::stod(v, &used);
                    if (used != v.size()) throw std::invalid_argument(v);
                    doc[columns[c].name] = d;
                } catch (const std::exception&) {
                    throw malformed("Error parsing number \"" + v + "\" at line " +
                                    std::to_string(i + 1));
                }
            } else if (columns[c].type == "boolean") {
                if (v != "true" && v != "false") {
                    throw malformed("Error parsing boolean \"" + v + "\" at line " +
                                    std::to_string(i + 1));
                }
                doc[columns[c].name] = v == "true";
            } else {
                doc[columns[c].name] = v;
            }
        }
        docs.push_back(std::move(doc));
    }
    return docs;
}

}  // namespace

std::vector<json> parse_payload(const Request& r, const Query& q) {
    const auto type = r.headers.get("Content-Type");
    if (!type)
        throw error(415, "missing_content_type",
                    std::string("A Content-Type header is missing. ") + kAccepted);
    const std::string base(type->substr(0, type->find(';')));
    const bool is_json = base == "application/json";
    const bool is_ndjson = base == "application/x-ndjson";
    const bool is_csv = base == "text/csv";
    if (!is_json && !is_ndjson && !is_csv) {
        throw error(415, "invalid_content_type",
                    "The Content-Type `" + std::string(*type) + "` is invalid. " + kAccepted);
    }
    char delimiter = ',';
    if (auto d = q.get("csvDelimiter")) {
        if (!is_csv) {
            throw error(415, "invalid_content_type",
                        "The Content-Type `" + base +
                            "` does not support the use of a csv delimiter. The csv delimiter can "
                            "only be used with the Content-Type `text/csv`.");
        }
        if (d->size() != 1 || static_cast<unsigned char>((*d)[0]) > 127) {
            throw error(400, "invalid_document_csv_delimiter",
                        "Invalid value in parameter `csvDelimiter`: expected a string of one "
                        "character, but found the following string of " +
                            std::to_string(d->size()) + " characters: `" + *d + "`");
        }
        delimiter = (*d)[0];
    }
    const std::string format = is_json ? "json" : is_ndjson ? "ndjson" : "csv";
    if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) {
        throw error(400, "missing_payload", "A " + format + " payload is missing.");
    }
    auto malformed = [&](const std::string& why) {
        return error(400, "malformed_payload",
                     "The `" + format + "` payload provided is malformed. `" + why + "`.");
    };
    std::vector<json> docs;
    if (is_csv) return parse_csv(r.body, delimiter);
    if (is_json) {
        json parsed;
        try {
            parsed = json::parse(r.body);
        } catch (const json::parse_error& e) {
            throw malformed(e.what());
        }
        if (parsed.is_object()) {
            docs.push_back(std::move(parsed));
        } else if (parsed.is_array()) {
            for (auto& d : parsed) {
                if (!d.is_object()) throw malformed("expected a map, found " + d.dump());
                docs.push_back(std::move(d));
            }
        } else {
            throw malformed("expected a sequence or a map, found " + parsed.dump());
        }
        return docs;
    }
    std::size_t start = 0;
    while (start < r.body.size()) {
        auto end = r.body.find('\n', start);
        if (end == std::string::npos) end = r.body.size();
        const auto line = std::string_view(r.body).substr(start, end - start);
        start = end + 1;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        json d;
        try {
            d = json::parse(line);
        } catch (const json::parse_error& e) {
            throw malformed(e.what());
        }
        if (!d.is_object()) throw malformed("expected a map, found " + d.dump());
        docs.push_back(std::move(d));
    }
    return docs;
}

}  // namespace devnode
