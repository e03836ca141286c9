// Dump import: POST /_miroir/dumps/import (a Meilisearch dump as the raw body or a
// multipart/form-data file, kept on disk as it arrives: app.cpp spools it), GET
// /_miroir/dumps/import and GET /_miroir/dumps/import/{uid}/status (docs/operations.md,
// "Importing a dump").
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <miroir/admin/routes.hpp>
#include <miroir/config/config.hpp>
#include <miroir/dump/archive.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/http/params.hpp>
#include <miroir/http/router.hpp>
#include <miroir/util/uuid.hpp>
#include <miroir/workers/dump_import.hpp>

namespace miroir::admin {

namespace {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

http::ApiError invalid(const std::string& message) {
    return http::error(400, "miroir_invalid_dump", message);
}

// The upload as a file: the spooled body, or a small body the server read into memory.
std::string upload_file(fleet::Context& ctx, http::Request& r) {
    if (!r.body_file.empty()) return r.body_file;
    if (r.body.empty()) {
        throw invalid(
            "The request has no body: send the dump file as the body, or as a file of "
            "a `multipart/form-data` body.");
    }
    const auto path = (std::filesystem::path(workers::dump_directory(ctx.config.dump_import)) /
                       ("upload-" + util::random_uuid() + ".part"))
                          .string();
    std::ofstream(path, std::ios::binary) << r.body;
    r.body_file = path;
    return path;
}

// Where the dump is in the upload, as its Content-Type says.
dump::Range dump_range(const std::string& file, const std::string& content_type) {
    const auto size = std::filesystem::file_size(file);
    const auto type = content_type.substr(0, content_type.find(';'));
    if (const auto boundary = dump::multipart_boundary(content_type)) {
        try {
            return dump::multipart_file(file, *boundary);
        } catch (const dump::Error& e) {
            throw invalid(e.what());
        }
    }
    static const std::vector<std::string> kTypes = {"", "application/gzip", "application/x-gzip",
                                                    "application/octet-stream",
                                                    "application/x-tar"};
    if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
        throw http::error(415, "invalid_content_type",
                          "The Content-Type `" + content_type +
                              "` is invalid. Accepted values for the Content-Type header are: "
                              "`application/gzip`, `application/octet-stream`, "
                              "`application/x-tar`, `multipart/form-data`");
    }
    return {0, size};
}

asio::awaitable<http::Response> import_dump(fleet::Context& ctx, http::Request& r) {
    const http::Query query(r.query, {"replace"});
    const bool replace = query.get_bool("replace", "miroir_invalid_dump_replace").value_or(false);
    const std::string content_type(r.headers.get("Content-Type").value_or(""));
    const auto file = upload_file(ctx, r);
    const auto range = dump_range(file, content_type);
    if (range.size() == 0 || !dump::looks_like_archive(file, range)) {
        throw invalid(
            "The body is not a Meilisearch dump: a dump is the gzip'd tar that "
            "`POST /dumps` writes.");
    }
    workers::DumpUpload upload{file, range.begin, range.end, replace};
    const auto status = co_await workers::enqueue_dump_import(ctx, std::move(upload));
    co_return http::Response::json(202, status);
}

asio::awaitable<http::Response> import_status(fleet::Context& ctx, http::Request& r) {
    const std::string uid(r.param("uid"));
    const auto status = co_await workers::dump_import_status(ctx, uid);
    if (!status) {
        throw http::error(404, "miroir_dump_import_not_found", "Import `" + uid + "` not found.");
    }
    co_return http::Response::json(200, *status);
}

asio::awaitable<http::Response> list_imports(fleet::Context& ctx) {
    co_return http::Response::json(200, co_await workers::dump_import_list(ctx));
}

}  // namespace

void add_dump_routes(http::Router& router, fleet::Context& ctx) {
    router.add(http::Method::post, "/_miroir/dumps/import", http::Access::admin,
               [&ctx](http::Request& r) { return import_dump(ctx, r); });
    router.add(http::Method::get, "/_miroir/dumps/import", http::Access::admin,
               [&ctx](http::Request&) { return list_imports(ctx); });
    router.add(http::Method::get, "/_miroir/dumps/import/{uid}/status", http::Access::admin,
               [&ctx](http::Request& r) { return import_status(ctx, r); });
}

}  // namespace miroir::admin
