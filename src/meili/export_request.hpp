// What POST /export asks for, checked as Meilisearch checks it (export_request.cpp), and the
// settings as a client reads them (settings.cpp), which the export sends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::meili {

struct ExportIndex {
    std::string pattern;  // an index uid, `*`, or a prefix ending with `*`
    nlohmann::ordered_json filter;
    bool override_settings = false;
};

struct ExportRequest {
    std::string url;  // none given: empty, and the export fails
    std::optional<std::string> api_key;
    std::optional<std::uint64_t> payload_given;  // bytes, as the client gave them
    std::uint64_t payload_size = 50ull << 20;    // Meilisearch's default: 50 MiB
    std::vector<ExportIndex> indexes;            // in pattern order; `*` when none given

    // The options of the first pattern `uid` matches, or none.
    const ExportIndex* options_for(const std::string& uid) const;
    // The task's details before it runs: the URL, the key masked, the payload size, the
    // patterns.
    nlohmann::ordered_json details() const;
};

// Throws Meilisearch's error for a body it refuses.
ExportRequest parse_export(const nlohmann::ordered_json& body);

// A node's GET /indexes/{uid}/settings without Miroir's own fields (settings.cpp).
nlohmann::ordered_json client_settings(nlohmann::ordered_json settings);

}  // namespace miroir::meili
