// CSV payloads: a single pass over the bytes that counts cells and reads the primary-key cell,
// with Meilisearch's column types (`name:number`, `name:boolean`); and the node payloads
// rebuilt with a `_miroir_shard` column.
#include <charconv>
#include <string>
#include <vector>

#include <miroir/ingest/splitter.hpp>

#include "parts.hpp"

namespace miroir::ingest {

using namespace detail;

namespace {

struct CsvColumn {
    std::string name;
    std::string type = "string";  // string | number | boolean
};

bool valid_number(std::string_view v) {
    long long i;
    if (auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
        ec == std::errc() && p == v.data() + v.size()) {
        return true;
    }
    double d;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    return ec == std::errc() && p == v.data() + v.size();
}

// One record of a payload: its text (without its line end) and its cells, unquoted.
struct CsvRecord {
    std::string_view text;
    std::vector<std::string> cells;
    bool open_quote = false;  // the payload ended inside a quoted cell
};

// The next record of `body` from `pos`, read as Meilisearch's CSV reader (Rust's csv crate)
// reads it: a quote opens a quoted cell only at the start of a cell (elsewhere it is a byte of
// the cell), `""` in a quoted cell is a quote and the cell goes on unquoted after its closing
// quote, a record ends at `\n`, `\r` or `\r\n` outside quotes, and empty lines are skipped.
// False at the end.
bool next_record(std::string_view body, std::size_t& pos, char delimiter, CsvRecord& out) {
    const auto line_end = [](char c) { return c == '\n' || c == '\r'; };
    while (pos < body.size() && line_end(body[pos])) ++pos;
    if (pos >= body.size()) return false;
    enum class State { start, unquoted, quoted, closing } state = State::start;
    out.cells.assign(1, std::string());
    std::size_t i = pos;
    for (; i < body.size(); ++i) {
        const char c = body[i];
        if (state == State::quoted) {
            if (c == '"') {
                state = State::closing;
            } else {
                out.cells.back().push_back(c);
            }
            continue;
        }
        if (c == '"' && state == State::start) {
            state = State::quoted;
        } else if (c == '"' && state == State::closing) {
            out.cells.back().push_back('"');
            state = State::quoted;
        } else if (c == delimiter) {
            out.cells.emplace_back();
            state = State::start;
        } else if (line_end(c)) {
            break;
        } else {
            out.cells.back().push_back(c);
            state = State::unquoted;
        }
    }
    out.text = body.substr(pos, i - pos);
    out.open_quote = state == State::quoted;
    pos = i + (i + 1 < body.size() && body[i] == '\r' && body[i + 1] == '\n' ? 2 : 1);
    return true;
}

// The columns of the header record, with their types (`name:number`); nullopt with
// `out.failure` set when one is Miroir's.
std::optional<std::vector<CsvColumn>> csv_columns(const CsvRecord& header, Split& out) {
    std::vector<CsvColumn> columns;
    for (auto& cell : header.cells) {
        CsvColumn column{cell};
        if (auto colon = cell.rfind(':'); colon != std::string::npos) {
            const auto type = cell.substr(colon + 1);
            if (type == "number" || type == "boolean" || type == "string") {
                column.name = cell.substr(0, colon);
                column.type = type;
            }
        }
        if (column.name.starts_with(routing::kReservedPrefix)) {
            out.failure = reserved(column.name);
            return std::nullopt;
        }
        columns.push_back(std::move(column));
    }
    return columns;
}

// Whether the record's cells fit the columns (their count, numbers, booleans); otherwise the
// payload is malformed, as Meilisearch reports it at `line`.
std::optional<Failure> check_cells(const std::vector<std::string>& cells,
                                   const std::vector<CsvColumn>& columns, std::size_t line) {
    if (cells.size() != columns.size()) {
        return malformed(Format::csv, "CSV error: record " + std::to_string(line - 1) +
                                          " (line: " + std::to_string(line) +
                                          "): found record with " + std::to_string(cells.size()) +
                                          " fields, but the previous record has " +
                                          std::to_string(columns.size()) + " fields");
    }
    for (std::size_t c = 0; c < columns.size(); ++c) {
        const auto& v = cells[c];
        if (v.empty()) continue;
        if (columns[c].type == "number" && !valid_number(v)) {
            return malformed(Format::csv,
                             "Error parsing number \"" + v + "\" at line " + std::to_string(line));
        }
        if (columns[c].type == "boolean" && v != "true" && v != "false") {
            return malformed(Format::csv,
                             "Error parsing boolean \"" + v + "\" at line " + std::to_string(line));
        }
    }
    return std::nullopt;
}

// The record's document id from its primary-key cell (of type `type`), or why it has none.
std::optional<Failure> read_csv_id(const CsvRecord& record, const std::string& type,
                                   std::size_t column, Split& out) {
    const std::string& v = record.cells[column];
    if (v.empty()) return invalid_id("null");
    if (type == "number") {
        long long n;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size()) return invalid_id(v);
        out.documents.push_back(
            Document{record.text, std::to_string(n), {}, 0, 0, record.open_quote});
        return std::nullopt;
    }
    if (type == "boolean") return invalid_id(v);
    if (!valid_id_string(v)) return invalid_id("\"" + v + "\"");
    out.documents.push_back(Document{record.text, v, {}, 0, 0, record.open_quote});
    return std::nullopt;
}

}  // namespace

namespace detail {

void split_csv(std::string& body, const SplitOptions& options, Split& out) {
    const std::string_view text(body);
    const char delim = options.csv_delimiter;
    std::size_t pos = 0;
    CsvRecord header;
    if (!next_record(text, pos, delim, header)) return;
    out.csv_header = header.text;
    const auto columns = csv_columns(header, out);
    if (!columns) return;

    std::optional<Failure> failure;
    if (options.primary_key) {
        out.primary_key = *options.primary_key;
    } else {
        std::vector<std::string> names;
        for (const auto& c : *columns) names.push_back(c.name);
        failure = infer(std::move(names), out.primary_key);
    }
    std::size_t pk_column = columns->size();
    for (std::size_t c = 0; c < columns->size(); ++c) {
        if ((*columns)[c].name == out.primary_key) pk_column = c;
    }

    CsvRecord record;
    std::size_t line = 1;
    while (next_record(text, pos, delim, record)) {
        ++line;
        if (auto bad = check_cells(record.cells, *columns, line)) {
            out.failure = std::move(bad);
            out.documents.clear();
            return;
        }
        if (failure) continue;
        if (pk_column == columns->size()) {
            failure = missing_id(out.primary_key, record.text);
            continue;
        }
        failure = read_csv_id(record, (*columns)[pk_column].type, pk_column, out);
    }
    if (failure) {
        out.failure = std::move(failure);
        out.documents.clear();
    }
}

}  // namespace detail

// Miroir's cells are quoted, names and numbers too: any ASCII character but a line end or a
// quote may delimit cells, a letter or a digit among them.
void begin_csv(std::string& out, std::string_view header, char delimiter, bool with_ord,
               bool with_expiry) {
    out.append(header);
    out.push_back(delimiter);
    out += "\"_miroir_shard\"";
    if (with_ord) {
        out.push_back(delimiter);
        out += "\"_miroir_ord\"";
    }
    if (with_expiry) {
        out.push_back(delimiter);
        out += '"';
        out += routing::kExpiresField;
        out += ":number\"";
    }
    out.push_back('\n');
}

void append_csv(std::string& out, const Document& doc, std::uint32_t shard, char delimiter,
                std::string_view ord, std::optional<std::int64_t> expiry) {
    out.append(doc.text);
    if (doc.open_quote) out.push_back('"');
    out.push_back(delimiter);
    out.push_back('"');
    out += routing::shard_value(shard);
    if (!ord.empty()) {
        out += "\"";
        out.push_back(delimiter);
        out += "\"";
        out += ord;
    }
    out += "\"";
    if (expiry) {
        out.push_back(delimiter);
        out += '"' + std::to_string(*expiry) + '"';
    }
    out.push_back('\n');
}

}  // namespace miroir::ingest
