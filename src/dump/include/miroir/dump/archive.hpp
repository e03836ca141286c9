// Reading a Meilisearch dump (version 6, written by `POST /dumps` of Meilisearch 1.x): a
// gzip'd tar of `metadata.json`, `keys.jsonl`, and per index `indexes/<uid>/metadata.json`,
// `settings.json` and `documents.jsonl`, in no fixed order. The archive is read from a byte
// range of a file (an upload kept on disk, perhaps inside a multipart body), twice: once for
// everything but the documents, then for the documents, a piece of whole lines at a time, so
// that nothing larger than a piece is ever held in memory. Pure: no Asio.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::dump {

// Bytes [begin, end) of a file.
struct Range {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    std::uint64_t size() const { return end - begin; }
};

// Why a file cannot be imported, with the error code the client is given
// (`miroir_invalid_dump`, `miroir_unsupported_dump_version`).
class Error : public std::runtime_error {
  public:
    Error(std::string code, const std::string& message)
        : std::runtime_error(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

  private:
    std::string code_;
};

struct IndexEntry {
    nlohmann::ordered_json metadata;  // uid, primaryKey, createdAt, updatedAt
    nlohmann::ordered_json settings;  // every setting, as GET /settings shows them
    bool has_documents = false;
};

struct Manifest {
    std::string dump_version;  // "V6"
    std::string db_version;    // the Meilisearch that wrote it
    std::string dump_date;
    std::vector<nlohmann::ordered_json> keys;  // keys.jsonl: uid, actions, indexes, expires_at...
    nlohmann::ordered_json features;           // experimental-features.json (null: none)
    std::map<std::string, IndexEntry> indexes;
};

// Progress of a read: bytes of the file consumed so far.
using Progress = std::function<void(std::uint64_t bytes_read)>;

// Reads the whole archive once, keeping everything but the documents. Throws Error when it is
// not a version 6 dump, is truncated or corrupt.
Manifest read_manifest(const std::string& path, Range range, const Progress& progress = nullptr);

// Some documents of one index: whole lines of its documents.jsonl.
struct Piece {
    std::string index;
    std::string lines;        // whole lines, each ending with '\n'
    std::uint64_t first = 0;  // number of the first line in the index's documents.jsonl
    std::uint64_t count = 0;  // lines in `lines`
    std::uint64_t read = 0;   // bytes of the file consumed when this piece was read
};

// The documents of every index, piece by piece, in archive order. Empty lines are skipped.
class DocumentReader {
  public:
    // Pieces hold about `piece_bytes` (a longer line is a piece of its own).
    DocumentReader(const std::string& path, Range range, std::size_t piece_bytes);
    ~DocumentReader();
    DocumentReader(const DocumentReader&) = delete;
    DocumentReader& operator=(const DocumentReader&) = delete;

    // The next piece, nullopt after the last. Throws Error on a truncated or corrupt archive.
    std::optional<Piece> next();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The part of a multipart/form-data body (in `path`) that holds the file: the first part with
// a filename, else the first part. Throws Error when the body is not such a multipart body.
Range multipart_file(const std::string& path, const std::string& boundary);

// The boundary of a `multipart/form-data; boundary=...` content type; nullopt for another type.
std::optional<std::string> multipart_boundary(const std::string& content_type);

// Whether the file's first bytes are those of a gzip stream or a tar archive.
bool looks_like_archive(const std::string& path, Range range);

}  // namespace miroir::dump
