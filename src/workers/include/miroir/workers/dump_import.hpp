// Dump import: a Meilisearch dump uploaded to POST /_miroir/dumps/import is kept on disk and
// written through the fleet by the `dump-import` job of the pod that received it — indexes with
// their primary keys and settings, API keys, then every document routed to its owners only —
// with its progress in the task store (docs/operations.md, "Importing a dump").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace miroir::config {
struct DumpImport;
}
namespace miroir::fleet {
struct Context;
}

namespace miroir::workers {

// The directory uploads are kept in (dump_import.dir, else <temporary directory>/miroir-dumps),
// made when missing.
std::string dump_directory(const config::DumpImport& cfg);

// Where the dump is in the uploaded file: bytes [begin, end).
struct DumpUpload {
    std::string file;  // moved into the dump directory under the import's uid
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    bool replace = false;  // indexes and keys of the dump that exist are deleted first
};

// Registers a new import of `upload`, run by this pod's dump-import job; its status (JSON).
boost::asio::awaitable<std::string> enqueue_dump_import(fleet::Context& ctx, DumpUpload upload);

// GET /_miroir/dumps/import/{uid}/status: an import's status (JSON), nullopt when unknown.
boost::asio::awaitable<std::optional<std::string>> dump_import_status(fleet::Context& ctx,
                                                                      const std::string& uid);

// GET /_miroir/dumps/import: every import's status, newest first (JSON).
boost::asio::awaitable<std::string> dump_import_list(fleet::Context& ctx);

// dump-import: runs the imports whose uploads this pod holds, one at a time, each under its
// own lease; an import a restart interrupted goes on where its progress says.
boost::asio::awaitable<void> run_dump_imports(fleet::Context& ctx);

}  // namespace miroir::workers
