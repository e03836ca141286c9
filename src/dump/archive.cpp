// A version 6 Meilisearch dump read with libarchive from a byte range of a file.
#include <algorithm>
#include <archive.h>
#include <archive_entry.h>
#include <cctype>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

#include <miroir/dump/archive.hpp>

namespace miroir::dump {

namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kBlock = 1 << 20;
constexpr std::size_t kMaxSmallEntry = std::size_t{256} << 20;  // settings, metadata, keys
constexpr std::size_t kMaxLine = std::size_t{100} << 20;        // a node's default payload limit
constexpr const char* kInvalid = "miroir_invalid_dump";

Error corrupt(const std::string& why) {
    return Error(kInvalid, "The dump is corrupt or truncated: " + why + ".");
}

// The file range libarchive reads from, counting what it consumed.
struct Source {
    int fd = -1;
    Range range;
    std::uint64_t offset = 0;  // within the range
    std::vector<char> block = std::vector<char>(kBlock);

    static la_ssize_t read(struct archive* a, void* self, const void** buffer) {
        auto& s = *static_cast<Source*>(self);
        const auto left = s.range.size() - s.offset;
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBlock));
        if (want == 0) return 0;
        const auto n =
            ::pread(s.fd, s.block.data(), want, static_cast<off_t>(s.range.begin + s.offset));
        if (n < 0) {
            archive_set_error(a, errno, "read failed: %s", std::strerror(errno));
            return -1;
        }
        s.offset += static_cast<std::uint64_t>(n);
        *buffer = s.block.data();
        return n;
    }
};

// An archive open on a file range.
class Reader {
  public:
    Reader(const std::string& path, Range range) : archive_(archive_read_new()) {
        source_.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        source_.range = range;
        archive_read_support_filter_gzip(archive_);
        archive_read_support_format_tar(archive_);
        if (source_.fd < 0) {
            close();
            throw std::runtime_error("cannot open " + path);
        }
        if (archive_read_open(archive_, &source_, nullptr, &Source::read, nullptr) != ARCHIVE_OK) {
            const std::string why = archive_error_string(archive_);
            close();
            throw Error(kInvalid,
                        "The file is not a Meilisearch dump (a gzip'd tar): " + why + ".");
        }
    }
    ~Reader() { close(); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // The next regular file's path (without a leading "./"), nullopt at the end.
    std::optional<std::string> next() {
        for (;;) {
            archive_entry* entry = nullptr;
            const int r = archive_read_next_header(archive_, &entry);
            if (r == ARCHIVE_EOF) return std::nullopt;
            if (r < ARCHIVE_WARN) throw corrupt(archive_error_string(archive_));
            if (archive_entry_filetype(entry) != AE_IFREG) continue;
            std::string path = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
            while (path.starts_with("./")) path.erase(0, 2);
            return path;
        }
    }

    // Up to `size` bytes of the current entry; 0 at its end.
    std::size_t read(char* into, std::size_t size) {
        const auto n = archive_read_data(archive_, into, size);
        if (n < 0) throw corrupt(archive_error_string(archive_));
        return static_cast<std::size_t>(n);
    }

    // The current entry whole (a small one: metadata, settings, keys).
    std::string read_all(const std::string& path) {
        std::string out;
        std::vector<char> block(kBlock);
        while (const auto n = read(block.data(), block.size())) {
            out.append(block.data(), n);
            if (out.size() > kMaxSmallEntry) throw Error(kInvalid, "`" + path + "` is too large.");
        }
        return out;
    }

    std::uint64_t consumed() const { return source_.range.begin + source_.offset; }

  private:
    void close() {
        if (archive_) archive_read_free(archive_);
        archive_ = nullptr;
        if (source_.fd >= 0) ::close(source_.fd);
        source_.fd = -1;
    }

    archive* archive_;
    Source source_;
};

json parse(const std::string& path, const std::string& text) {
    auto value = json::parse(text, nullptr, false);
    if (value.is_discarded()) throw Error(kInvalid, "`" + path + "` is not valid JSON.");
    return value;
}

// "indexes/<uid>/<file>" → {uid, file}.
std::optional<std::pair<std::string, std::string>> index_file(const std::string& path) {
    if (!path.starts_with("indexes/")) return std::nullopt;
    const auto slash = path.find('/', 8);
    if (slash == std::string::npos || slash == 8) return std::nullopt;
    return std::make_pair(path.substr(8, slash - 8), path.substr(slash + 1));
}

void read_keys(Manifest& m, const std::string& text) {
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const auto line = text.substr(at, end - at);
        at = end + 1;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        auto key = parse("keys.jsonl", line);
        if (!key.is_object()) throw Error(kInvalid, "`keys.jsonl` holds a line that is no key.");
        m.keys.push_back(std::move(key));
    }
}

// Meilisearch's index uids: 1 to 400 ASCII letters, digits, `-` and `_` (they become paths).
bool valid_index_uid(const std::string& uid) {
    return !uid.empty() && uid.size() <= 400 &&
           std::all_of(uid.begin(), uid.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

// A key uid: a UUID.
bool valid_key_uid(const std::string& uid) {
    return uid.size() == 36 && std::all_of(uid.begin(), uid.end(), [](unsigned char c) {
               return std::isxdigit(c) || c == '-';
           });
}

void check(const Manifest& m, bool has_metadata) {
    if (!has_metadata) {
        throw Error(kInvalid, "The file is not a Meilisearch dump: it has no `metadata.json`.");
    }
    if (m.dump_version != "V6") {
        throw Error("miroir_unsupported_dump_version",
                    "Dump version `" + m.dump_version +
                        "` cannot be imported: Miroir imports version `V6` dumps, written by "
                        "Meilisearch 1.0 and later.");
    }
    for (const auto& key : m.keys) {
        const auto uid = key.value("uid", std::string());
        if (!valid_key_uid(uid)) throw Error(kInvalid, "Key uid `" + uid + "` is not a UUID.");
    }
    for (const auto& [uid, entry] : m.indexes) {
        if (!valid_index_uid(uid)) {
            throw Error(kInvalid, "Index uid `" + uid + "` of the dump is invalid.");
        }
        if (!entry.metadata.is_object()) {
            throw Error(kInvalid, "Index `" + uid + "` of the dump has no `metadata.json`.");
        }
    }
}

}  // namespace

Manifest read_manifest(const std::string& path, Range range, const Progress& progress) {
    Reader reader(path, range);
    Manifest m;
    bool has_metadata = false;
    while (const auto name = reader.next()) {
        if (progress) progress(reader.consumed());
        if (*name == "metadata.json") {
            const auto meta = parse(*name, reader.read_all(*name));
            if (!meta.is_object()) throw Error(kInvalid, "`metadata.json` is not an object.");
            has_metadata = true;
            m.dump_version = meta.value("dumpVersion", std::string("unknown"));
            m.db_version = meta.value("dbVersion", std::string());
            m.dump_date = meta.value("dumpDate", std::string());
        } else if (*name == "experimental-features.json") {
            m.features = parse(*name, reader.read_all(*name));
        } else if (*name == "keys.jsonl") {
            read_keys(m, reader.read_all(*name));
        } else if (const auto file = index_file(*name)) {
            auto& entry = m.indexes[file->first];
            if (file->second == "metadata.json") {
                entry.metadata = parse(*name, reader.read_all(*name));
            } else if (file->second == "settings.json") {
                entry.settings = parse(*name, reader.read_all(*name));
            } else if (file->second == "documents.jsonl") {
                entry.has_documents = true;
            }
        }
    }
    if (progress) progress(reader.consumed());
    check(m, has_metadata);
    return m;
}

struct DocumentReader::Impl {
    Impl(const std::string& path, Range range, std::size_t piece)
        : reader(path, range), piece_bytes(piece) {}
    Reader reader;
    std::size_t piece_bytes;
    std::string index;  // the documents.jsonl being read; empty between them
    std::string carry;
    bool entry_end = false;
    std::uint64_t line = 0;
    std::vector<char> block = std::vector<char>(kBlock);

    bool open_next() {
        while (const auto name = reader.next()) {
            const auto file = index_file(*name);
            if (!file || file->second != "documents.jsonl") continue;
            index = file->first;
            carry.clear();
            entry_end = false;
            line = 0;
            return true;
        }
        return false;
    }

    // Whole lines of the current entry, at least piece_bytes of them unless it ends first.
    std::string take() {
        std::size_t scanned = 0;  // no newline before this offset of carry
        const auto has_line = [&] {
            const auto at = carry.find('\n', scanned);
            scanned = at == std::string::npos ? carry.size() : at;
            return at != std::string::npos;
        };
        while (!entry_end && (carry.size() < piece_bytes || !has_line())) {
            if (carry.size() > piece_bytes + kMaxLine) {
                throw Error(kInvalid, "A line of the documents of index `" + index +
                                          "` is longer than 100 MiB.");
            }
            const auto n = reader.read(block.data(), block.size());
            if (n == 0) entry_end = true;
            carry.append(block.data(), n);
        }
        if (entry_end) return std::exchange(carry, std::string());
        const auto cut = carry.rfind('\n') + 1;
        std::string out = carry.substr(0, cut);
        carry.erase(0, cut);
        return out;
    }
};

DocumentReader::DocumentReader(const std::string& path, Range range, std::size_t piece_bytes)
    : impl_(std::make_unique<Impl>(path, range, piece_bytes)) {}

DocumentReader::~DocumentReader() = default;

std::optional<Piece> DocumentReader::next() {
    auto& s = *impl_;
    for (;;) {
        if (s.index.empty() && !s.open_next()) return std::nullopt;
        const auto text = s.take();
        Piece piece;
        piece.index = s.index;
        piece.first = s.line;
        std::size_t at = 0;
        while (at < text.size()) {
            auto end = text.find('\n', at);
            if (end == std::string::npos) end = text.size();
            if (text.find_first_not_of(" \t\r", at) < end) {
                piece.lines.append(text, at, end - at);
                piece.lines += '\n';
                ++piece.count;
            }
            at = end + 1;
        }
        s.line += piece.count;
        piece.read = s.reader.consumed();
        if (s.entry_end && s.carry.empty()) s.index.clear();
        if (piece.count > 0) return piece;
    }
}

}  // namespace miroir::dump
