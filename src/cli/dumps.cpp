// miroir import-dump FILE [--replace] [--wait]: a Meilisearch dump streamed from disk to
// POST /_miroir/dumps/import; with --wait, a progress line until the import ends.
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "client.hpp"

namespace miroir::cli {

namespace {

// One line on an import: its phase and how far it is.
std::string import_line(const json& s) {
    std::ostringstream out;
    out << "import " << text(s["uid"]) << ": " << text(s["status"]) << ", " << text(s["phase"])
        << ", " << text(s["bytesRead"]) << "/" << text(s["bytesTotal"]) << " bytes read, indexes "
        << text(s["indexesDone"]) << "/" << text(s["indexesTotal"]) << ", documents "
        << text(s["documentsWritten"]) << " written (" << text(s["documentsRouted"]) << " sent)";
    if (s.value("error", json()).is_object()) out << ": " << text(s["error"]["message"]);
    return out.str();
}

}  // namespace

int import_dump(const std::vector<std::string>& args) {
    const auto o = parse(args, {.wait = true, .replace = true, .positional = 1});
    const auto target = std::string("/_miroir/dumps/import") + (o.replace ? "?replace=true" : "");
    auto a = send_file(o, target, o.positional[0], "application/gzip");
    if (a.status != 202) throw failure(a);
    const auto uid = text(a.body["uid"]);
    std::string last;
    for (;;) {
        const auto line = o.as_json ? a.body.dump() : import_line(a.body);
        if (line != last) std::cout << line << "\n" << std::flush;
        last = line;
        const auto status = text(a.body["status"]);
        if (status == "failed") return 1;
        if (!o.wait || status == "succeeded") return 0;
        ::usleep(500 * 1000);
        a = get(o, "/_miroir/dumps/import/" + uid + "/status");
        if (a.status != 200) throw failure(a);
    }
}

}  // namespace miroir::cli
